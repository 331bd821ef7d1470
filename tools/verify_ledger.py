#!/usr/bin/env python3
"""Recompute a newsledger ledger's hash chain without trusting newsledger.

Python standard library only. Usage: verify_ledger.py LEDGER.db [SEQ:HEXHASH]
Exit 0 if the chain is intact (and extends the checkpoint, if given) and every
blob an entry references is present with content matching its hash; 1 if not.

Blobs are stored zstd-compressed. Their content is checked with Python 3.14's
compression.zstd, or the `zstandard` package if installed; without either,
the script still checks that every referenced blob is present and says that
their contents were not checked.

entry_hash = SHA-256( 0x00 || lp("newsledger-entry-v1") || u64be(seq)
                      || lp(recorded_at) || lp(kind)
                      || (0x00 if url is NULL else 0x01 || lp(url))
                      || lp(payload) || lp(prev_hash) )
lp(x) = u32be(len(x)) || x, strings as UTF-8.
"""
import hashlib
import json
import os
import sqlite3
import struct
import sys

try:  # Python 3.14+
    from compression import zstd as _zstd

    def unzstd(data, size):
        return _zstd.decompress(data)
except ImportError:
    try:
        import zstandard as _zstandard

        def unzstd(data, size):
            return _zstandard.ZstdDecompressor().decompress(data, max_output_size=size)
    except ImportError:
        unzstd = None


def lp(b):
    return struct.pack(">I", len(b)) + b


def entry_hash(seq, recorded_at, kind, url, payload, prev_hash):
    buf = b"\x00" + lp(b"newsledger-entry-v1") + struct.pack(">Q", seq)
    buf += lp(recorded_at.encode()) + lp(kind.encode())
    buf += b"\x00" if url is None else b"\x01" + lp(url.encode())
    buf += lp(payload.encode()) + lp(bytes(prev_hash))
    return hashlib.sha256(buf).digest()


def main():
    db = sys.argv[1]
    checkpoint = None
    if len(sys.argv) > 2:
        s, h = sys.argv[2].split(":")
        checkpoint = (int(s), bytes.fromhex(h))
    conn = open_read_only(db)
    prev, expected, head = bytes(32), 1, None
    blobs_checked, blob_contents_checked = 0, 0
    rows = conn.execute(
        "SELECT seq, recorded_at, kind, url, payload, prev_hash, entry_hash FROM ledger ORDER BY seq")
    for seq, at, kind, url, payload, prev_hash, stored in rows:
        if seq != expected:
            print(f"BROKEN at seq {expected}: entry missing")
            return 1
        if bytes(prev_hash) != prev:
            print(f"BROKEN at seq {seq}: prev_hash does not link to the entry before")
            return 1
        if entry_hash(seq, at, kind, url, payload, prev_hash) != bytes(stored):
            print(f"BROKEN at seq {seq}: entry_hash does not match the entry")
            return 1
        if seq == 1 and kind != "genesis":
            print("BROKEN at seq 1: the first entry is not the genesis entry")
            return 1
        if "_blob\"" in payload:
            for key, value in json.loads(payload).items():
                if not key.endswith("_blob") or not isinstance(value, str):
                    continue
                problem, checked = check_blob(conn, value)
                if problem:
                    print(f"BROKEN at seq {seq}: blob {value} {problem}")
                    return 1
                blobs_checked += 1
                blob_contents_checked += checked
        if checkpoint and checkpoint[0] == seq and checkpoint[1] != bytes(stored):
            print(f"BROKEN at seq {seq}: does not match the checkpoint")
            return 1
        prev, head, expected = bytes(stored), seq, expected + 1
    if checkpoint and (head or 0) < checkpoint[0]:
        print(f"BROKEN: the ledger ends at {head} before the checkpoint {checkpoint[0]}")
        return 1
    contents = (f"{blob_contents_checked} blob contents checked" if unzstd or not blobs_checked
                else "blob contents NOT checked: install `zstandard` (pip) or use Python 3.14+")
    print(f"OK: {head or 0} entries, {blobs_checked} blob references present, {contents}, "
          f"head {head}:{prev.hex()}")
    return 0


def open_read_only(db):
    """Read-only, also where the -shm file cannot be created (read-only
    media): then the ledger cannot be changing, and is opened immutable."""
    uri = "file:" + os.path.abspath(db).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    try:
        conn = sqlite3.connect(uri + "?mode=ro", uri=True)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        wal = db + "-wal"
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            raise
        return sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True)


def check_blob(conn, hexhash):
    """(problem or None, 1 if the content was checked)."""
    try:
        key = bytes.fromhex(hexhash)
    except ValueError:
        return "has a key that is not hexadecimal", 0
    row = conn.execute("SELECT codec, size, data FROM blobs WHERE hash = ?", (key,)).fetchone()
    if row is None:
        return "is missing", 0
    codec, size, data = row
    if codec == "identity":
        content = bytes(data)
    elif codec == "zstd" and unzstd is not None:
        try:
            content = unzstd(bytes(data), size)
        except Exception as e:  # corrupt data
            return f"does not decompress: {e}", 0
    elif codec == "zstd":
        return None, 0
    else:
        return f"has an unknown codec {codec}", 0
    if hashlib.sha256(content).digest() != key:
        return "content does not match its hash", 0
    return None, 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Recompute a newsledger ledger's hash chain without trusting newsledger.

Python standard library only. Usage: verify_ledger.py LEDGER.db [SEQ:HEXHASH]
Exit 0 if the chain is intact (and extends the checkpoint, if given) and every
blob an entry references is present with content matching its hash; 1 if not.

Blobs are stored zstd-compressed (codec `zstd`), or as a delta (codec
`zstd-delta`): zstd with the full bytes of the blob named in `base` as a
raw-content dictionary (prefix). Their content is checked with Python 3.14's
compression.zstd, or the `zstandard` package if installed; without either,
the script still checks that every referenced blob and each delta's bases
are present, and says that their contents were not checked.

entry_hash = SHA-256( 0x00 || lp("newsledger-entry-v1") || u64be(seq)
                      || lp(recorded_at) || lp(kind)
                      || (0x00 if url is NULL else 0x01 || lp(url))
                      || lp(payload) || lp(prev_hash) )
lp(x) = u32be(len(x)) || x, strings as UTF-8.

A compact entry (payload stored as bytes, `ref_seq` set, url NULL: an
unchanged or not-modified fetch repeating the full fetch entry ref_seq) uses
tag 2 and the reference instead of the url:

entry_hash = SHA-256( 0x00 || lp("newsledger-entry-v2") || u64be(seq)
                      || lp(recorded_at) || lp(kind) || u64be(ref_seq)
                      || lp(payload bytes) || lp(prev_hash) )
"""
import hashlib
import json
import os
import sqlite3
import struct
import sys

try:  # Python 3.14+
    from compression import zstd as _zstd

    def unzstd(data, size, prefix=None):
        if prefix is None:
            return _zstd.decompress(data)
        return _zstd.decompress(data, zstd_dict=_zstd.ZstdDict(prefix, is_raw=True).as_prefix)
except ImportError:
    try:
        import zstandard as _zstandard

        def unzstd(data, size, prefix=None):
            if prefix is None:
                return _zstandard.ZstdDecompressor().decompress(data, max_output_size=size)
            d = _zstandard.ZstdCompressionDict(prefix, dict_type=_zstandard.DICT_TYPE_RAWCONTENT)
            return _zstandard.ZstdDecompressor(dict_data=d).decompress(data, max_output_size=size)
    except ImportError:
        unzstd = None


def lp(b):
    return struct.pack(">I", len(b)) + b


def entry_hash(seq, recorded_at, kind, url, payload, prev_hash, ref_seq=None):
    if isinstance(payload, (bytes, memoryview)):  # a compact entry
        buf = b"\x00" + lp(b"newsledger-entry-v2") + struct.pack(">Q", seq)
        buf += lp(recorded_at.encode()) + lp(kind.encode())
        buf += struct.pack(">Q", ref_seq or 0) + lp(bytes(payload)) + lp(bytes(prev_hash))
        return hashlib.sha256(buf).digest()
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
    refs, pruned = [], {}
    cols = [r[1] for r in conn.execute("PRAGMA table_info(ledger)")]
    ref_col = "ref_seq" if "ref_seq" in cols else "NULL"
    rows = conn.execute(
        "SELECT seq, recorded_at, kind, url, payload, prev_hash, entry_hash, "
        f"{ref_col} FROM ledger ORDER BY seq")
    for seq, at, kind, url, payload, prev_hash, stored, ref_seq in rows:
        if seq != expected:
            print(f"BROKEN at seq {expected}: entry missing")
            return 1
        if bytes(prev_hash) != prev:
            print(f"BROKEN at seq {seq}: prev_hash does not link to the entry before")
            return 1
        if entry_hash(seq, at, kind, url, payload, prev_hash, ref_seq) != bytes(stored):
            print(f"BROKEN at seq {seq}: entry_hash does not match the entry")
            return 1
        if seq == 1 and kind != "genesis":
            print("BROKEN at seq 1: the first entry is not the genesis entry")
            return 1
        if isinstance(payload, bytes):
            pass  # compact entries reference no blob
        elif "_blob\"" in payload:
            for value in named_blobs(json.loads(payload)):
                refs.append((seq, value))
        if kind == "pruned":
            for h in json.loads(payload).get("blobs", []):
                pruned[h] = seq  # the last pruned entry naming it
        if checkpoint and checkpoint[0] == seq and checkpoint[1] != bytes(stored):
            print(f"BROKEN at seq {seq}: does not match the checkpoint")
            return 1
        prev, head, expected = bytes(stored), seq, expected + 1
    if checkpoint and (head or 0) < checkpoint[0]:
        print(f"BROKEN: the ledger ends at {head} before the checkpoint {checkpoint[0]}")
        return 1
    # A blob named by a later `pruned` entry was removed on purpose
    # (retention); every other reference must resolve.
    for seq, value in refs:
        if value in pruned and seq < pruned[value]:
            continue
        problem, checked = check_blob(conn, value)
        if problem:
            print(f"BROKEN at seq {seq}: blob {value} {problem}")
            return 1
        blobs_checked += 1
        blob_contents_checked += checked
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


class BlobProblem(Exception):
    pass


MAX_DELTA_DEPTH = 16


def blob_content(conn, key, depth=0):
    """The full bytes of blob `key` (None if they cannot be decompressed
    here), checked against the key; raises BlobProblem."""
    cols = [r[1] for r in conn.execute("PRAGMA table_info(blobs)")]
    base_col = "base" if "base" in cols else "NULL"
    row = conn.execute(f"SELECT codec, size, data, {base_col} FROM blobs WHERE hash = ?",
                       (key,)).fetchone()
    if row is None:
        raise BlobProblem("is missing" if depth == 0 else f"has a missing delta base {key.hex()}")
    codec, size, data, base = row
    if codec == "identity":
        content = bytes(data)
    elif codec in ("zstd", "zstd-delta"):
        prefix = None
        if codec == "zstd-delta":
            if base is None:
                raise BlobProblem("is a delta without a base")
            if depth >= MAX_DELTA_DEPTH:
                raise BlobProblem(f"has a chain of deltas longer than {MAX_DELTA_DEPTH}")
            prefix = blob_content(conn, bytes(base), depth + 1)
            if prefix is None:
                return None
        if unzstd is None:
            return None
        try:
            content = unzstd(bytes(data), size, prefix)
        except Exception as e:  # corrupt data
            raise BlobProblem(f"does not decompress: {e}")
    else:
        raise BlobProblem(f"has an unknown codec {codec}")
    if hashlib.sha256(content).digest() != key:
        raise BlobProblem("content does not match its hash")
    return content


def named_blobs(obj):
    """Every string under a key ending in _blob, at any depth."""
    for key, value in obj.items():
        if key.endswith("_blob") and isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from named_blobs(value)


def check_blob(conn, hexhash):
    """(problem or None, 1 if the content was checked)."""
    try:
        key = bytes.fromhex(hexhash)
    except ValueError:
        return "has a key that is not hexadecimal", 0
    try:
        content = blob_content(conn, key)
    except BlobProblem as e:
        return str(e), 0
    return None, 0 if content is None else 1


if __name__ == "__main__":
    sys.exit(main())

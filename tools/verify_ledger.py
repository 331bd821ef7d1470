#!/usr/bin/env python3
"""Recompute a newsledger ledger's hash chain without trusting newsledger.

Python standard library only. Usage: verify_ledger.py LEDGER.db [SEQ:HEXHASH]
Exit 0 if the chain is intact (and extends the checkpoint, if given), 1 if not.

entry_hash = SHA-256( 0x00 || lp("newsledger-entry-v1") || u64be(seq)
                      || lp(recorded_at) || lp(kind)
                      || (0x00 if url is NULL else 0x01 || lp(url))
                      || lp(payload) || lp(prev_hash) )
lp(x) = u32be(len(x)) || x, strings as UTF-8.
"""
import hashlib
import sqlite3
import struct
import sys


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
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    prev, expected, head = bytes(32), 1, None
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
        if checkpoint and checkpoint[0] == seq and checkpoint[1] != bytes(stored):
            print(f"BROKEN at seq {seq}: does not match the checkpoint")
            return 1
        prev, head, expected = bytes(stored), seq, expected + 1
    if checkpoint and (head or 0) < checkpoint[0]:
        print(f"BROKEN: the ledger ends at {head} before the checkpoint {checkpoint[0]}")
        return 1
    print(f"OK: {head or 0} entries, head {head}:{prev.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

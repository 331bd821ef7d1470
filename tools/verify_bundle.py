#!/usr/bin/env python3
"""Check a newsledger evidence bundle without newsledger.

Usage: verify_bundle.py BUNDLE.wacz --key VKEY [--tsa-ca CA.pem]

Python standard library for hashes, the ZIP layout and the Merkle proofs;
the `openssl` command line (OpenSSL 3) for the Ed25519 signature of the
checkpoint and, with --tsa-ca, the RFC 3161 token. Exit 0 and a statement
of what was proved, or exit 1 naming the first thing that failed.

Formats (README, "Receiving an evidence bundle"):
- ZIP: stored members in one canonical layout (rebuilt here and compared);
- datapackage.json: sha256 and size of every other member;
- evidence/proof.json: the checkpoint note (C2SP signed note, Ed25519), the
  entries with their columns and RFC 9162 inclusion proofs;
- entry_hash = SHA-256(0x00 || lp("newsledger-entry-v1") || u64be(seq)
  || lp(recorded_at) || lp(kind) || (0x00 | 0x01 || lp(url)) || lp(payload)
  || lp(prev_hash)), lp(x) = u32be(len(x)) || x; a compact entry (an
  unchanged or not-modified fetch, with `ref_seq` and its stored bytes as
  base64 in `compact`) hashes lp("newsledger-entry-v2"), u64be(ref_seq) in
  place of the url, and its bytes in place of the payload.
"""
import base64
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib


class Failed(Exception):
    pass


def sha(b):
    return hashlib.sha256(b).digest()


# --- the canonical ZIP -----------------------------------------------------

def zip_write(members):
    out, central = bytearray(), bytearray()
    for name, data in members:
        offset, crc, n = len(out), zlib.crc32(data), len(data)
        fields = struct.pack("<HHHHHIIIHH", 20, 0x0800, 0, 0, 0x0021, crc, n, n, len(name), 0)
        out += struct.pack("<I", 0x04034B50) + fields + name + data
        central += struct.pack("<IH", 0x02014B50, 20) + fields
        central += struct.pack("<HHHII", 0, 0, 0, 0, offset) + name
    cd = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), cd, 0)
    return bytes(out)


def zip_read(data):
    members, at = [], 0
    while data[at:at + 4] == b"PK\x03\x04":
        if at + 30 > len(data):
            raise Failed("the ZIP file is cut short")
        crc, size = struct.unpack("<II", data[at + 14:at + 22])
        name_len, extra = struct.unpack("<HH", data[at + 26:at + 30])
        name = data[at + 30:at + 30 + name_len]
        body = data[at + 30 + name_len + extra:at + 30 + name_len + extra + size]
        if zlib.crc32(body) != crc:
            raise Failed("member %s: its bytes do not match their CRC-32" % name.decode(errors="replace"))
        members.append((name, body))
        at += 30 + name_len + extra + size
    if zip_write(members) != data:
        raise Failed("the ZIP container differs from the canonical layout of its members")
    return {n.decode(): b for n, b in members}


# --- hashes and proofs -----------------------------------------------------

def lp(b):
    return struct.pack(">I", len(b)) + b


def entry_hash(e):
    if e.get("compact") is not None:
        # A compact entry (an unchanged or not-modified fetch repeating the
        # full fetch entry ref_seq): its stored bytes are hashed, tag 2.
        buf = b"\x00" + lp(b"newsledger-entry-v2") + struct.pack(">Q", e["seq"])
        buf += lp(e["recorded_at"].encode()) + lp(e["kind"].encode())
        buf += struct.pack(">Q", e["ref_seq"]) + lp(base64.b64decode(e["compact"]))
        buf += lp(bytes.fromhex(e["prev_hash"]))
        return sha(buf)
    buf = b"\x00" + lp(b"newsledger-entry-v1") + struct.pack(">Q", e["seq"])
    buf += lp(e["recorded_at"].encode()) + lp(e["kind"].encode())
    buf += b"\x00" if e["url"] is None else b"\x01" + lp(e["url"].encode())
    buf += lp(e["payload"].encode()) + lp(bytes.fromhex(e["prev_hash"]))
    return sha(buf)


def node(l, r):
    return sha(b"\x01" + l + r)


def verify_inclusion(leaf, index, size, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --- the signed note -------------------------------------------------------

def key_id(name, kind, pub):
    return sha(name.encode() + b"\n" + bytes([kind]) + pub)[:4]


def verify_note(note, vkey):
    name, kid, material = vkey.strip().split("+", 2)
    raw = base64.b64decode(material)
    if raw[0] != 1 or len(raw) != 33 or key_id(name, 1, raw[1:]).hex() != kid:
        raise Failed("--key is not an Ed25519 verifier key with a matching key ID")
    text, _, sigs = note.partition("\n\n")
    text += "\n"
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            raise Failed("checkpoint: a signature line is malformed")
        n, b64 = line[2:].split(" ", 1)
        blob = base64.b64decode(b64)
        if n == name and blob[:4].hex() == kid:
            if not ed25519_ok(raw[1:], text.encode(), blob[4:]):
                raise Failed("checkpoint signature by %s does not verify: the checkpoint was altered" % name)
            return text
    raise Failed("the checkpoint is not signed by %s+%s" % (name, kid))


def ed25519_ok(pub, msg, sig):
    """Ed25519 with the openssl command line (the standard library has none)."""
    spki = bytes.fromhex("302a300506032b6570032100") + pub
    pem = "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" % base64.b64encode(spki).decode()
    with tempfile.TemporaryDirectory() as d:
        paths = [os.path.join(d, f) for f in ("pub.pem", "msg", "sig")]
        for p, c in zip(paths, (pem.encode(), msg, sig)):
            with open(p, "wb") as f:
                f.write(c)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths[0],
                            "-rawin", "-in", paths[1], "-sigfile", paths[2]], capture_output=True)
        return r.returncode == 0


# --- WARC ------------------------------------------------------------------

def warc_digests(gz):
    try:
        data = gzip.decompress(gz)
    except (OSError, EOFError, zlib.error) as e:
        raise Failed("archive/data.warc.gz does not decompress: %s" % e)
    out = set()
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            raise Failed("archive/data.warc.gz: a record has no header end")
        head = data[:end].decode("utf-8", "replace").split("\r\n")
        fields = {k.lower(): v.strip() for k, _, v in (l.partition(": ") for l in head[1:])}
        n = int(fields.get("content-length", "-1"))
        block = data[end + 4:end + 4 + n]
        if n < 0 or len(block) != n:
            raise Failed("archive/data.warc.gz: a record is cut short")
        d = fields.get("warc-block-digest")
        if d:
            if d != "sha256:" + hashlib.sha256(block).hexdigest():
                raise Failed("archive/data.warc.gz: a record's block does not match its WARC-Block-Digest")
            out.add(d[7:])
        data = data[end + 4 + n + 4:]
    return out


def main(argv):
    args = {"--key": None, "--tsa-ca": None}
    files = []
    it = iter(argv)
    for a in it:
        if a in args:
            args[a] = next(it, None)
        else:
            files.append(a)
    if len(files) != 1 or not args["--key"]:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    vkey = args["--key"]
    if os.path.isfile(vkey):
        vkey = open(vkey).read().strip()
    bundle = open(files[0], "rb").read()
    out = []
    m = zip_read(bundle)
    try:
        dp = json.loads(m["datapackage.json"])
        proof = json.loads(m["evidence/proof.json"])
    except (KeyError, ValueError) as e:
        raise Failed("datapackage.json or evidence/proof.json missing or not JSON: %s" % e)
    listed = {r["path"]: r for r in dp["resources"]}
    for name, data in m.items():
        if name == "datapackage.json":
            continue
        r = listed.get(name)
        if not r or r["hash"] != "sha256:" + hashlib.sha256(data).hexdigest() or r["bytes"] != len(data):
            raise Failed("%s: its SHA-256 or size differs from datapackage.json" % name)
    if len(listed) + 1 != len(m):
        raise Failed("datapackage.json lists files the bundle does not hold")
    note = proof["checkpoint"]["note"]
    text = verify_note(note, vkey)
    origin, size, root = text.split("\n")[:3]
    size, root = int(size), base64.b64decode(root)
    out.append("checkpoint: log %s of size %d with root %s, signed by %s" % (origin, size, root.hex(), vkey))
    cosigs = proof["checkpoint"].get("cosignatures") or []
    if cosigs:
        out.append("%d witness cosignature(s) present, not checked by this script (newsledger verify-bundle --witness-key checks them)" % len(cosigs))
    stamp = ""
    if proof.get("timestamp"):
        tsr = m.get("evidence/timestamp.tsr")
        if tsr is None:
            raise Failed("the bundle names a timestamp but holds no evidence/timestamp.tsr")
        with tempfile.TemporaryDirectory() as d:
            t, n = os.path.join(d, "t.tsr"), os.path.join(d, "note")
            open(t, "wb").write(tsr)
            open(n, "wb").write(note.encode())
            if args["--tsa-ca"]:
                r = subprocess.run(["openssl", "ts", "-verify", "-in", t, "-data", n, "-CAfile", args["--tsa-ca"]],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise Failed("timestamp: openssl ts -verify failed: %s" % (r.stderr.strip().splitlines() or [""])[0])
            info = subprocess.run(["openssl", "ts", "-reply", "-in", t, "-text"], capture_output=True, text=True)
            when = next((l.split(":", 1)[1].strip() for l in info.stdout.splitlines() if l.startswith("Time stamp:")), "?")
        checked = "token checked by openssl" if args["--tsa-ca"] else "token not checked: pass --tsa-ca CA.pem"
        out.append("timestamped by %s at %s (%s)" % (proof["timestamp"]["tsa"], when, checked))
        stamp = ", timestamped by %s at %s" % (proof["timestamp"]["tsa"], when)
    raws = warc_digests(m["archive/data.warc.gz"])
    repeats = 0
    for e in proof["entries"]:
        if e.get("compact") is None and e.get("ref_seq") is not None:
            raise Failed("entry %d: a ref_seq without compact bytes, which no hash covers" % e["seq"])
        if e.get("compact") is not None and e.get("url") is not None:
            raise Failed("entry %d: a compact entry with a url, which no hash covers" % e["seq"])
        leaf = entry_hash(e)
        if leaf.hex() != e["entry_hash"]:
            raise Failed("entry %d: its columns do not hash to its entry_hash" % e["seq"])
        path = [bytes.fromhex(h) for h in e["inclusion"]]
        if not verify_inclusion(leaf, e["seq"] - 1, size, path, root):
            raise Failed("entry %d: the inclusion proof does not lead to the signed root" % e["seq"])
        p = json.loads(e["payload"])
        t = p.get("text_blob")
        if t and hashlib.sha256(m.get("evidence/blobs/%s.json" % t, b"")).hexdigest() != t:
            raise Failed("entry %d: its text blob is missing or altered" % e["seq"])
        if p.get("raw_blob") and p["raw_blob"] not in raws:
            raise Failed("entry %d: its raw capture is missing from archive/data.warc.gz" % e["seq"])
        where = "it is in the log %s of size %d%s" % (origin, size, stamp)
        if e.get("compact") is not None:
            repeats += 1
            continue
        if e["kind"] == "fetch" and p.get("content_hash"):
            out.append("entry %d: this text (content %s) was served by %s at %s (HTTP %s); %s"
                       % (e["seq"], p["content_hash"], p.get("final_url"), p.get("started_at"), p.get("status"), where))
        elif e["kind"] == "revision":
            out.append("entry %d: revision %s of %s has content %s; %s"
                       % (e["seq"], p.get("revision"), p.get("article_url"), p.get("content_hash"), where))
        else:
            out.append("entry %d: %s of %s; %s" % (e["seq"], e["kind"], e["url"], where))
    if repeats:
        out.append("%d unchanged or not-modified fetches kept as compact entries; each is in the log %s of size %d%s"
                   % (repeats, origin, size, stamp))
    print("\n".join(out))
    print("OK: %s verifies" % files[0])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Failed as e:
        print("FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
    except (KeyError, ValueError, TypeError, IndexError, struct.error, UnicodeDecodeError) as e:
        print("FAILED: the bundle is malformed (%s: %s)" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)

#!/usr/bin/env python3
"""Check a newsledger evidence bundle without newsledger.

Usage: verify_bundle.py BUNDLE.wacz --key VKEY [--witness-key VKEY]... [--tsa-ca TSA-CA.pem]

The twin of `newsledger verify-bundle` (src/proof/bundle/verify.rs): the
same checks in the same order, the same verdict and exit codes. Python's
standard library, and the `openssl` command line (OpenSSL 3) for Ed25519
signatures and, with --tsa-ca, the RFC 3161 token. VKEY is a key or a file
holding one. bundle_index.html and bundle_README.txt, next to this script,
are the templates of the bundle's index.html and README.txt.

Exit 0: verified, everything checked. 4: verified, except what NOT CHECKED
lists. 5: contents verified, but the ZIP container was re-packed by another
tool. 1: FAILED, naming the first thing that failed. 2: wrong usage.

What is checked, in order:
1. the ZIP, read through its central directory (stored or deflated members,
   CRC-32 each); whether it is newsledger's canonical layout is reported;
2. evidence/proof.json: the checkpoint note (C2SP signed note, Ed25519)
   signed by --key; cosignatures (c2sp.org/tlog-cosignature) by each
   --witness-key; the timestamp token stamps SHA-256(note);
3. each entry hashes to its entry_hash and its RFC 9162 inclusion proof
   leads to the signed root. entry_hash = SHA-256(0x00 ||
   lp("newsledger-entry-v1") || u64be(seq) || lp(recorded_at) || lp(kind)
   || (0x00 | 0x01 || lp(url)) || lp(payload) || lp(prev_hash)),
   lp(x) = u32be(len(x)) || x; a compact entry (an unchanged or
   not-modified fetch, `ref_seq` and its stored bytes as base64 in
   `compact`) hashes lp("newsledger-entry-v2"), u64be(ref_seq) in place of
   the url and its bytes in place of the payload; its `payload` must be the
   JSON view of those bytes;
4. every blob an entry names (any key ending in `_blob`) is in the bundle
   with that SHA-256: a WARC record's block, or evidence/blobs/<sha256>.*;
5. every member (the WARC records, the CDXJ index, pages.jsonl,
   proof.json, blobs, token, index.html, README.txt, datapackage.json) is
   rebuilt from those checked inputs and must be byte for byte what the
   bundle holds: a member that says anything the signed entries do not
   fails, whoever re-zipped the file.
"""
import base64
import unicodedata
import datetime
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

FORMAT = "newsledger-evidence/2"
SOFTWARE = "newsledger"  # assemble.rs SOFTWARE: no version, nothing unbound
HERE = os.path.dirname(os.path.abspath(__file__))


class Failed(Exception):
    """The bundle does not verify (exit 1)."""


class Usage(Exception):
    """Wrong usage (exit 2)."""


def sha(b):
    return hashlib.sha256(b).digest()


def hexsha(b):
    return hashlib.sha256(b).hexdigest()


# --- JSON as serde_json reads and writes it --------------------------------

def get(v, k):
    """v[k] for an object, else None (serde_json's Value::get)."""
    return v.get(k) if isinstance(v, dict) else None


def as_str(v):
    return v if isinstance(v, str) else None


def as_int(v, lo=-2**63, hi=2**63):
    """An integer (not a bool, not a float) in [lo, hi), else None."""
    return v if isinstance(v, int) and not isinstance(v, bool) and lo <= v < hi else None


def as_u64(v):
    return as_int(v, 0, 2**64)


def str_or(v, default):
    """A string, or `default` when it is none (Rust's as_str().unwrap_or)."""
    return v if isinstance(v, str) else default


def no_constant(name):
    raise ValueError("%s is not JSON" % name)


def nesting(text):
    """How deep arrays and objects nest in JSON text (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (c == "\\", c != '"')
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def loads(data):
    """JSON from UTF-8 bytes or text; ValueError otherwise. Nested at most
    128 deep, as serde_json reads it (and no recursion limit is reached)."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    if nesting(data) > 128:
        raise ValueError("nested more than 128 deep")
    return json.loads(data, parse_constant=no_constant)


def compact(v):
    """serde_json::to_string / Value's Display: sorted keys, no spaces."""
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def pretty(v):
    """serde_json::to_vec_pretty."""
    return json.dumps(v, sort_keys=True, indent=2, ensure_ascii=False).encode()


def payload(e):
    """An entry's payload parsed, or None."""
    try:
        return loads(e["payload"])
    except (KeyError, TypeError, ValueError):
        return None


# Rust's White_Space characters (str::trim, split_whitespace).
WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def rtrim(s):
    return re.sub("^[%s]+|[%s]+$" % (WS, WS), "", s)


def rust_uint(s, bits):
    """Rust's str::parse of an unsigned integer (a '+' allowed), or None."""
    if not re.fullmatch(r"\+?[0-9]+", s):
        return None
    n = int(s)
    return n if n < 2**bits else None


def b64d(s):
    """Strict, canonical base64 (the Rust base64 crate's STANDARD)."""
    try:
        b = base64.b64decode(s, validate=True)
    except ValueError:
        return None
    return b if base64.b64encode(b).decode() == s else None


def unhex(s):
    """Lower-case hex to bytes, or None: one spelling per hash."""
    if not isinstance(s, str) or len(s) % 2 or not re.fullmatch("[0-9a-f]*", s):
        return None
    return bytes.fromhex(s)


# --- times as chrono parses and prints them --------------------------------

RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                     r"(?:\.([0-9]+))?(?:[Zz]|([+\-\u2212])([0-9]{2}):([0-9]{2}))")


def parse_rfc3339(t):
    """DateTime::parse_from_rfc3339, in UTC (microseconds), or None."""
    m = RFC3339.fullmatch(t)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    micro = int((m.group(7) or "0")[:9].ljust(9, "0")) // 1000
    try:
        when = datetime.datetime(y, mo, d, h, mi, s, micro, datetime.timezone.utc)
        if m.group(8):
            off = datetime.timedelta(hours=int(m.group(9)), minutes=int(m.group(10)))
            if off >= datetime.timedelta(hours=24) or int(m.group(10)) > 59:
                return None
            when -= off if m.group(8) == "+" else -off
    except (ValueError, OverflowError):
        return None
    return when


def millis(t):
    """to_rfc3339_opts(SecondsFormat::Millis, true)."""
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond // 1000)


def warc_date(t):
    """export/warc.rs warc_date: RFC 3339 UTC with milliseconds."""
    d = parse_rfc3339(t)
    return millis(d) if d else t


# --- the ZIP container (src/proof/zip.rs) ----------------------------------

def zip_write(members):
    """The canonical layout: stored members, fixed fields, in order."""
    out, central = bytearray(), bytearray()
    for name, data in members:
        name = name.encode()
        offset, crc, n = len(out), zlib.crc32(data), len(data)
        fields = struct.pack("<HHHHHIIIHH", 20, 0x0800, 0, 0, 0x0021, crc, n, n, len(name), 0)
        out += struct.pack("<I", 0x04034B50) + fields + name + data
        central += struct.pack("<IH", 0x02014B50, 20) + fields
        central += struct.pack("<HHHII", 0, 0, 0, 0, offset) + name
    cd = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), cd, 0)
    return bytes(out)


def safe_name(name):
    """A relative path of plain components (zip.rs safe_name)."""
    return (name != "" and not any(c in name for c in "\\:")
            and not any(unicodedata.category(c) == "Cc" for c in name)
            and all(c not in ("", ".", "..") for c in name.split("/")))


def zip_read(data):
    """Any ZIP's members through its central directory, bounded."""
    def le(at, n):
        if at + n > len(data):
            raise Failed("the ZIP file is cut short")
        return int.from_bytes(data[at:at + n], "little")
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535), max(0, len(data) - 18))
    if end < 0 or end > len(data) - 22:
        raise Failed("not a ZIP file (no end of central directory)")
    count, at = le(end + 10, 2), le(end + 16, 4)
    if count > 10000 or at == 0xFFFFFFFF:
        raise Failed("the ZIP file has too many members, or is ZIP64 (not a bundle)")
    budget, used, members, seen = len(data) * 16 + (16 << 20), 0, [], set()
    for _ in range(count):
        if le(at, 4) != 0x02014B50:
            raise Failed("the ZIP central directory is damaged at offset %d" % at)
        flags, method, crc, packed, size = le(at + 8, 2), le(at + 10, 2), le(at + 16, 4), le(at + 20, 4), le(at + 24, 4)
        name_len, extra, comment, local = le(at + 28, 2), le(at + 30, 2), le(at + 32, 2), le(at + 42, 4)
        if at + 46 + name_len > len(data):
            raise Failed("the ZIP file is cut short")
        try:
            name = data[at + 46:at + 46 + name_len].decode("utf-8")
        except UnicodeDecodeError:
            raise Failed("ZIP member at offset %d: its name is not UTF-8" % local)
        at += 46 + name_len + extra + comment
        if not safe_name(name):
            raise Failed("member %r: not a relative path inside the bundle (absolute, `..`, backslash or empty)" % name)
        if name in seen:
            raise Failed("member %s: appears twice" % name)
        seen.add(name)
        if flags & 1:
            raise Failed("member %s: encrypted" % name)
        if le(local, 4) != 0x04034B50:
            raise Failed("member %s: no local header at offset %d" % (name, local))
        start = local + 30 + le(local + 26, 2) + le(local + 28, 2)
        if start + packed > len(data):
            raise Failed("member %s: cut short" % name)
        raw = data[start:start + packed]
        used += size
        if size > packed * 16 + (1 << 20) or used > budget:
            raise Failed("member %s: the members would unpack to more than %d bytes (a ZIP bomb, or not a bundle)" % (name, budget))
        if method == 0:
            body = raw
        elif method == 8:
            try:
                body = zlib.decompressobj(-15).decompress(raw, size + 1)
            except zlib.error as e:
                raise Failed("member %s: does not inflate: %s" % (name, e))
        else:
            raise Failed("member %s: compression method %d is not read" % (name, method))
        if len(body) != size:
            raise Failed("member %s: holds %d bytes, its header says %d" % (name, len(body), size))
        if zlib.crc32(body) != crc:
            raise Failed("member %s: its bytes do not match their CRC-32 (the member was altered)" % name)
        members.append((name, body))
    return members


# --- DER: the timestamp token (src/proof/tsa.rs) ---------------------------

SHA256_OID = bytes.fromhex("608648016503040201")
SIGNED_DATA_OID = bytes.fromhex("2a864886f70d010702")
TST_INFO_OID = bytes.fromhex("2a864886f70d0109100104")


def der_next(b):
    """(tag, content, whole element, rest), as tsa.rs reads DER."""
    if len(b) < 2:
        raise Failed("the reply is not valid DER")
    tag, first, at = b[0], b[1], 2
    if first < 0x80:
        n = first
    else:
        k = first & 0x7F
        if k == 0 or k > 4 or len(b) < 2 + k:
            raise Failed("the reply is not valid DER")
        n, at = int.from_bytes(b[2:2 + k], "big"), 2 + k
    if len(b) < at + n:
        raise Failed("the reply is not valid DER")
    return tag, b[at:at + n], b[:at + n], b[at + n:]


def der_children(b):
    out = []
    while b:
        tag, content, whole, b = der_next(b)
        out.append((tag, content, whole))
    return out


def der_expect(items, i, tag, what):
    if i >= len(items) or items[i][0] != tag:
        raise Failed("the timestamp reply has no %s" % what)
    return items[i][1]


def check_reply(reply, data):
    """An RFC 3161 TimeStampResp over `data`: (GeneralizedTime, its RFC 3339
    form or None, the first certificate the token carries or None)."""
    tag, content, _, rest = der_next(reply)
    if tag != 0x30 or rest:
        raise Failed("the reply is not a TimeStampResp")
    items = der_children(content)
    status = der_children(der_expect(items, 0, 0x30, "status"))
    code = der_expect(status, 0, 0x02, "status code")
    if code not in (b"\x00", b"\x01"):
        raise Failed("the TSA refused the request (PKIStatus %d)" % (int.from_bytes(code, "big") % 2**64))
    token = der_children(der_expect(items, 1, 0x30, "token"))
    if der_expect(token, 0, 0x06, "content type") != SIGNED_DATA_OID:
        raise Failed("the token is not CMS SignedData")
    explicit = der_children(der_expect(token, 1, 0xA0, "signed data"))
    signed = der_children(der_expect(explicit, 0, 0x30, "signed data"))
    encap = der_children(der_expect(signed, 2, 0x30, "encapsulated content"))
    if der_expect(encap, 0, 0x06, "content type") != TST_INFO_OID:
        raise Failed("the token does not hold a TSTInfo")
    octets = der_children(der_expect(encap, 1, 0xA0, "TSTInfo"))
    tst = der_children(der_next(der_expect(octets, 0, 0x04, "TSTInfo"))[1])
    imprint = der_children(der_expect(tst, 2, 0x30, "message imprint"))
    alg = der_children(der_expect(imprint, 0, 0x30, "hash algorithm"))
    if der_expect(alg, 0, 0x06, "hash algorithm") != SHA256_OID:
        raise Failed("the token's imprint is not SHA-256")
    if der_expect(imprint, 1, 0x04, "imprint") != sha(data):
        raise Failed("the token stamps another document (its imprint is not our hash)")
    der_expect(tst, 3, 0x02, "serial number")
    certificate = None
    if len(signed) > 3 and signed[3][0] == 0xA0:
        try:
            certificate = der_next(signed[3][1])[2]
        except Failed:
            pass
    try:
        gen_time = der_expect(tst, 4, 0x18, "time").decode("utf-8")
    except UnicodeDecodeError:
        raise Failed("the token's time is not text")
    return gen_time, gentime_rfc3339(gen_time), certificate


def gentime_rfc3339(g):
    """20261207043102Z -> 2026-12-07T04:31:02Z, fractions in groups of 3
    digits (chrono's SecondsFormat::AutoSi); None if it is not a time."""
    m = re.fullmatch(r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})(?:\.([0-9]+))?", g.rstrip("Z"))
    if not m:
        return None
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    days = (29 if leap else 28) if mo == 2 else 30 if mo in (4, 6, 9, 11) else 31
    if not (1 <= mo <= 12 and 1 <= d <= days and h < 24 and mi < 60 and s <= 60):
        return None
    nanos = int((m.group(7) or "0")[:9].ljust(9, "0"))
    frac = "" if nanos == 0 else ".%09d" % nanos
    frac = frac[:4] if nanos % 10**6 == 0 else frac[:7] if nanos % 1000 == 0 else frac
    return "%04d-%02d-%02dT%02d:%02d:%02d%sZ" % (y, mo, d, h, mi, s, frac)


def stamp(token, note):
    """assemble.rs stamp: (the TSA's name, the time) the token states."""
    try:
        gen_time, time, cert = check_reply(token, note.encode())
    except Failed as e:
        raise Failed("evidence/timestamp.tsr: %s" % e)
    tsa = "a TSA whose token carries no certificate"
    if cert is not None:
        try:
            tsa = x509_summary(cert)["subject"]
        except (ValueError, IndexError):
            pass
    return {"tsa": tsa, "time": time or gen_time}


def openssl_ts_verify(token, note, ca):
    with tempfile.TemporaryDirectory(prefix="newsledger-ts-") as d:
        t, n = os.path.join(d, "token.tsr"), os.path.join(d, "data")
        with open(t, "wb") as f:
            f.write(token)
        with open(n, "wb") as f:
            f.write(note.encode())
        try:
            r = subprocess.run(["openssl", "ts", "-verify", "-in", t, "-data", n, "-CAfile", ca],
                               capture_output=True, text=True, errors="replace")
        except OSError as e:
            raise Failed("timestamp: cannot run openssl: %s" % e)
    if r.returncode != 0:
        raise Failed("timestamp: openssl ts -verify failed: %s" % next((l for l in r.stderr.splitlines() if l.strip() and not l.startswith("Using configuration")), "no reason given"))


# --- X.509 (src/proof/x509.rs: split_chain, summary, pem) ------------------

X509_KEYS = {"2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C", "2.5.4.7": "L",
             "2.5.4.8": "ST", "2.5.4.5": "serialNumber", "1.2.840.113549.1.9.1": "emailAddress"}


class Der:
    """A cursor over DER TLVs (one-byte tags, at most four length bytes)."""

    def __init__(self, data):
        self.data = data

    def next(self):
        d = self.data
        if len(d) < 1:
            raise ValueError("truncated: missing tag")
        tag = d[0]
        if tag & 0x1F == 0x1F:
            raise ValueError("multi-byte tag")
        if len(d) < 2:
            raise ValueError("truncated: missing length")
        first = d[1]
        if first < 0x80:
            header, length = 2, first
        elif first == 0x80:
            raise ValueError("indefinite length")
        elif first <= 0x84:
            n = first & 0x7F
            if len(d) < 2 + n:
                raise ValueError("truncated: length")
            header, length = 2 + n, int.from_bytes(d[2:2 + n], "big")
        else:
            raise ValueError("length of %d bytes" % (first & 0x7F))
        end = header + length
        if len(d) < end:
            raise ValueError("truncated: content")
        self.data = d[end:]
        return tag, d[header:end], d[:end]

    def expect(self, tag, what):
        got, content, _ = self.next()
        if got != tag:
            raise ValueError("%s: tag 0x%02x, expected 0x%02x" % (what, got, tag))
        return content

    def end(self, what):
        if self.data:
            raise ValueError("trailing data after %s" % what)


def split_chain(concat):
    """DER certificates concatenated back to back."""
    der, certs = Der(bytes(concat)), []
    while der.data:
        if len(certs) == 16:
            raise ValueError("more than 16 certificates")
        tag, _, whole = der.next()
        if tag != 0x30:
            raise ValueError("certificate %d has tag 0x%02x, not SEQUENCE" % (len(certs) + 1, tag))
        certs.append(whole)
    return certs


def x509_summary(der):
    """subject, issuer, not_before, not_after, sha256 of one certificate."""
    der = bytes(der)
    top = Der(der)
    cert = Der(top.expect(0x30, "Certificate"))
    top.end("certificate")
    tbs = Der(cert.expect(0x30, "tbsCertificate"))
    if tbs.data[:1] == b"\xa0":
        tbs.next()  # [0] EXPLICIT version
    tbs.expect(0x02, "serialNumber")
    tbs.expect(0x30, "signature AlgorithmIdentifier")
    issuer = x509_name(tbs.expect(0x30, "issuer"))
    validity = Der(tbs.expect(0x30, "validity"))
    not_before, not_after = x509_time(validity.next()), x509_time(validity.next())
    validity.end("validity")
    subject = x509_name(tbs.expect(0x30, "subject"))
    return {"subject": subject, "issuer": issuer, "not_before": not_before,
            "not_after": not_after, "sha256": hexsha(der)}


def pem(der):
    b64 = base64.b64encode(bytes(der)).decode("ascii")
    lines = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % lines


def x509_name(content):
    rdns, out, count = Der(content), [], 0
    while rdns.data:
        rdn = Der(rdns.expect(0x31, "RelativeDistinguishedName"))
        if not rdn.data:
            raise ValueError("empty RelativeDistinguishedName")
        attrs = []
        while rdn.data:
            count += 1
            if count > 64:
                raise ValueError("Name has more than 64 attributes")
            ava = Der(rdn.expect(0x30, "AttributeTypeAndValue"))
            oid = x509_oid(ava.expect(0x06, "attribute type"))
            tag, value, _ = ava.next()
            ava.end("attribute value")
            attrs.append("%s=%s" % (X509_KEYS.get(oid, oid), x509_value(tag, value)))
        out.append("+".join(attrs))
    return ", ".join(out)


def x509_oid(content):
    """Dotted OID; each arc minimally encoded in at most 9 bytes."""
    arcs, arc, n = [], 0, 0
    for b in content:
        if n == 0 and b == 0x80:
            raise ValueError("OID arc not minimally encoded")
        n += 1
        if n > 9:
            raise ValueError("OID arc too large")
        arc = arc << 7 | (b & 0x7F)
        if not b & 0x80:
            arcs.append(arc)
            arc, n = 0, 0
    if n or not arcs:
        raise ValueError("truncated or empty OID")
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def x509_char(u):
    return "\ufffd" if u > 0x10FFFF or 0xD800 <= u < 0xE000 else chr(u)


def x509_value(tag, v):
    if tag in (0x0C, 0x13, 0x16):
        return v.decode("utf-8", "replace")
    if tag == 0x14:
        return v.decode("latin-1")
    if tag == 0x1E:  # BMPString: UTF-16BE, as Rust's char::decode_utf16
        units = [int.from_bytes(v[i:i + 2], "big") for i in range(0, len(v) - 1, 2)]
        out, i = [], 0
        while i < len(units):
            u = units[i]
            low = units[i + 1] if i + 1 < len(units) else 0
            if 0xD800 <= u < 0xDC00 and 0xDC00 <= low < 0xE000:
                out.append(chr(0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)))
                i += 2
            else:
                out.append(x509_char(u))
                i += 1
        return "".join(out) + ("\ufffd" if len(v) % 2 else "")
    if tag == 0x1C:  # UniversalString: UTF-32BE
        units = [int.from_bytes(v[i:i + 4], "big") for i in range(0, len(v) - 3, 4)]
        return "".join(map(x509_char, units)) + ("\ufffd" if len(v) % 4 else "")
    return "#" + v.hex()


def x509_time(tlv):
    tag, v, _ = tlv
    if tag not in (0x17, 0x18):
        raise ValueError("validity time has tag 0x%02x" % tag)
    out = x509_rfc3339(tag == 0x17, v)
    return out if out is not None else v.decode("utf-8", "replace")


def x509_rfc3339(utc_time, v):
    if not v.endswith(b"Z"):
        return None
    digits = v[:-1]
    if any(b not in b"0123456789" for b in digits) or len(digits) != (12 if utc_time else 14):
        return None
    num = lambda at, n: int(digits[at:at + n])  # noqa: E731
    if utc_time:
        yy = num(0, 2)
        year, at = (2000 + yy if yy < 50 else 1900 + yy), 2
    else:
        year, at = num(0, 4), 4
    mo, d, h, mi, s = (num(at + i, 2) for i in (0, 2, 4, 6, 8))
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = (29 if leap else 28) if mo == 2 else 30 if mo in (4, 6, 9, 11) else 31
    if not (1 <= mo <= 12 and 1 <= d <= days and h < 24 and mi < 60 and s < 60):
        return None
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (year, mo, d, h, mi, s)


# --- signed notes and cosignatures (src/proof/note.rs) ---------------------

def key_id(name, kind, pub):
    return int.from_bytes(sha(name.encode() + b"\n" + bytes([kind]) + pub)[:4], "big")


def parse_vkey(arg, flag):
    """NAME+HEXID+BASE64(type || Ed25519 key), or a file holding one:
    (name, kind, public key, the vkey as printed)."""
    try:
        with open(arg, encoding="utf-8") as f:
            arg = f.read()
    except (OSError, ValueError):
        pass
    text = rtrim(arg)
    bad = lambda why: Usage("%s: verifier key `%s`: %s" % (flag, text, why))  # noqa: E731
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise bad("expected NAME+HEXID+BASE64KEY")
    name, kid, material = parts
    raw = b64d(material)
    if raw is None:
        raise bad("the key is not base64")
    if not raw:
        raise bad("empty key")
    if len(raw) != 33:
        raise bad("not an Ed25519 key (32 bytes)")
    if raw[0] not in (0x01, 0x04):
        raise bad("only Ed25519 keys (type 0x01, or 0x04 for witnesses) are supported")
    if "%08x" % key_id(name, raw[0], raw[1:]) != kid:
        raise bad("the key ID does not match the key")
    return {"name": name, "kind": raw[0], "pub": raw[1:], "vkey": text}


def parse_note(note):
    """(text, [(name, key id, signature bytes)]) of a signed note."""
    if any(ord(c) < 0x20 and c != "\n" or 0x7F <= ord(c) <= 0x9F for c in note):
        raise ValueError("a signed note must not hold control characters other than newline")
    if "\n\n" not in note:
        raise ValueError("no blank line between the note text and its signatures")
    text, sigs = note.split("\n\n", 1)
    if not sigs.endswith("\n"):
        raise ValueError("the last signature line has no newline")
    lines = []
    for line in sigs[:-1].split("\n"):
        name, space, b64 = line[2:].partition(" ")
        raw = b64d(b64) if line.startswith("\u2014 ") and space else None
        if raw is None or len(raw) < 5 or not name or "+" in name or any(c.isspace() for c in name):
            raise ValueError("`%s` is not a note signature line" % line)
        lines.append((name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return text + "\n", lines


def verify_note(text, sigs, key):
    """The first signature line by `key` over `text`; for a witness key
    (type 0x04) its cosignature time is returned."""
    kid = key_id(key["name"], key["kind"], key["pub"])
    line = next((s for n, i, s in sigs if n == key["name"] and i == kid), None)
    if line is None:
        raise ValueError("no signature by %s+%08x on the checkpoint" % (key["name"], kid))
    bad = ValueError("the signature by %s does not verify: the checkpoint text was altered or signed by another key" % key["name"])
    time = None
    if key["kind"] == 0x04:
        if len(line) < 8:
            raise bad
        time, line = int.from_bytes(line[:8], "big"), line[8:]
        text = "cosignature/v1\ntime %d\n%s" % (time, text)
    if len(line) != 64 or not ed25519_ok(key["pub"], text.encode(), line):
        raise bad
    return time


def ed25519_ok(pub, msg, sig):
    """Ed25519 with the openssl command line (the standard library has none)."""
    spki = bytes.fromhex("302a300506032b6570032100") + pub
    key = "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" % base64.b64encode(spki).decode()
    with tempfile.TemporaryDirectory() as d:
        paths = [os.path.join(d, f) for f in ("pub.pem", "msg", "sig")]
        for p, c in zip(paths, (key.encode(), msg, sig)):
            with open(p, "wb") as f:
                f.write(c)
        try:
            r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths[0],
                                "-rawin", "-in", paths[1], "-sigfile", paths[2]], capture_output=True)
        except OSError as e:
            raise Failed("cannot run openssl to check an Ed25519 signature: %s" % e)
        return r.returncode == 0


def parse_body(text):
    """The checkpoint: (origin, tree size, root hash)."""
    lines = text.split("\n")
    if len(lines) < 3 or not lines[0]:
        raise Failed("checkpoint: a checkpoint has an origin line, a tree size line and a root hash line")
    size = rust_uint(lines[1], 64)
    if size is None or (lines[1] != "0" and lines[1].startswith("0")):
        raise Failed("checkpoint: checkpoint tree size `%s` is not a decimal number" % lines[1])
    root = b64d(lines[2])
    if root is None or len(root) != 32:
        raise Failed("checkpoint: checkpoint root `%s` is not a base64 SHA-256 hash" % lines[2])
    return lines[0], size, root


# --- entries and the Merkle tree -------------------------------------------

def lp(b):
    return struct.pack(">I", len(b)) + b


def u64(n):
    return struct.pack(">Q", n % 2**64)


def entry_hash(seq, recorded_at, kind, url, payload_bytes, prev, ref_seq=None):
    buf = b"\x00" + lp(b"newsledger-entry-v1" if ref_seq is None else b"newsledger-entry-v2")
    buf += u64(seq) + lp(recorded_at.encode()) + lp(kind.encode())
    if ref_seq is not None:
        buf += u64(ref_seq)
    else:
        buf += b"\x00" if url is None else b"\x01" + lp(url.encode())
    return sha(buf + lp(payload_bytes) + lp(prev))


def compact_view(b, recorded_at, ref_seq):
    """The JSON view of a compact entry's stored bytes (ledger/entry.rs
    Compact::decode and view), or None if they do not decode:
    u8 format (1) || u8 outcome (1 unchanged, 2 not_modified) || u8 flags
    || varint status || zigzag varint started_at - recorded_at (ms)
    || zigzag varint finished_at - recorded_at (ms) || varint body_bytes
    || [varint len || etag] || [varint len || last_modified] || [sha256]."""
    pos = 3

    def varint():
        nonlocal pos
        v = 0
        for shift in range(0, 64, 7):
            if pos >= len(b):
                return None
            byte, pos = b[pos], pos + 1
            v |= (byte & 0x7F) << shift
            if byte < 0x80:
                return v % 2**64
        return None

    def text():
        nonlocal pos
        n = varint()
        if n is None or pos + n > len(b):
            return None
        s, pos = b[pos:pos + n], pos + n
        return s.decode("utf-8")

    if len(b) < 3 or b[0] != 1 or b[1] not in (1, 2) or b[2] > 3:
        return None
    outcome, flags = b[1], b[2]
    nums = [varint() for _ in range(4)]
    if None in nums or nums[0] > 0xFFFF:
        return None
    status, started, finished, body_bytes = nums
    unzigzag = lambda v: (v >> 1) ^ -(v & 1)  # noqa: E731
    try:
        etag = text() if flags & 1 else None
        last_modified = text() if flags & 2 else None
    except UnicodeDecodeError:
        return None
    if (flags & 1 and etag is None) or (flags & 2 and last_modified is None):
        return None
    rest = b[pos:]
    if not ((outcome == 1 and len(rest) == 32) or (outcome == 2 and not rest)):
        return None
    base = parse_rfc3339(recorded_at)

    def at(ms):
        if base is None:
            return None
        try:
            return millis(base + datetime.timedelta(milliseconds=ms))
        except OverflowError:
            raise Failed("a compact entry's times are out of range")
    view = {"encoding": "newsledger-entry-v2", "ref_seq": ref_seq,
            "outcome": "unchanged" if outcome == 1 else "not_modified", "status": status,
            "started_at": at(unzigzag(started)), "finished_at": at(unzigzag(finished)),
            "body_bytes": body_bytes}
    if rest:
        view["body_sha256"] = rest.hex()
    if etag is not None:
        view["etag"] = etag
    if last_modified is not None:
        view["last_modified"] = last_modified
    return compact(view)


def verify_inclusion(leaf, index, size, proof, root):
    """RFC 9162 section 2.1.3.2; None if it holds, else why not."""
    if index >= size:
        return "leaf index %d is not below the tree size %d" % (index, size)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return "the proof has the wrong number of hashes for these sizes"
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = sha(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return "the proof has the wrong number of hashes for these sizes"
    return None if r == root else "the proof does not lead to the expected root hash"


def check_entry(e, size, root):
    """An entry's columns hash to its entry_hash, and its inclusion proof
    leads to the signed root. Returns it as the bundle is rebuilt from it
    (known keys only)."""
    s = lambda k: as_str(get(e, k))  # noqa: E731
    seq = as_int(get(e, "seq"))
    if seq is None:
        raise Failed("an entry has no seq")
    if seq < 1:
        raise Failed("entry %d: seq starts at 1" % seq)
    prev, claimed = unhex(s("prev_hash") or ""), unhex(s("entry_hash") or "")
    if prev is None or claimed is None:
        raise Failed("entry %d: %s is not hex" % (seq, "prev_hash" if prev is None else "entry_hash"))
    if s("compact") is None and get(e, "ref_seq") is not None:
        raise Failed("entry %d: a ref_seq without compact bytes, which no hash covers (the entry was altered)" % seq)
    at, kind = s("recorded_at") or "", s("kind") or ""
    if s("compact") is not None:
        # A compact entry: its stored bytes are hashed, and its JSON view
        # must be what they say.
        stored = b64d(s("compact"))
        if stored is None:
            raise Failed("entry %d: compact is not base64" % seq)
        ref_seq = as_int(get(e, "ref_seq"))
        if ref_seq is None:
            raise Failed("entry %d: a compact entry without ref_seq" % seq)
        view = compact_view(stored, at, ref_seq)
        if view is None:
            raise Failed("entry %d: its compact bytes do not decode" % seq)
        if view != s("payload") or s("url") is not None:
            raise Failed("entry %d: its payload is not what its compact bytes record (the entry was altered)" % seq)
        computed = entry_hash(seq, at, kind, None, stored, prev, ref_seq)
    else:
        computed = entry_hash(seq, at, kind, s("url"), (s("payload") or "").encode(), prev)
    if computed != claimed:
        raise Failed("entry %d: its columns do not hash to its entry_hash (the entry was altered)" % seq)
    inclusion = get(e, "inclusion")
    if not isinstance(inclusion, list):
        raise Failed("entry %d: no inclusion proof" % seq)
    path = [unhex(h) for h in inclusion]
    if any(h is None or len(h) != 32 for h in path):
        raise Failed("entry %d: a proof hash is not 32 bytes of hex" % seq)
    why = verify_inclusion(computed, seq - 1, size, path, root)
    if why:
        raise Failed("entry %d: inclusion proof: %s" % (seq, why))
    try:
        loads(s("payload") or "")
    except ValueError:
        raise Failed("entry %d: payload is not JSON" % seq)
    out = {"seq": seq, "recorded_at": s("recorded_at"), "kind": s("kind"), "url": s("url"),
           "payload": s("payload"), "prev_hash": s("prev_hash"), "entry_hash": s("entry_hash"),
           "inclusion": inclusion}
    if s("compact") is not None:
        out["ref_seq"] = get(e, "ref_seq")
        out["compact"] = s("compact")
    return out


def referenced_blobs(p):
    """Every string under a key ending in `_blob`, at any depth of objects."""
    out = []
    for k in sorted(p) if isinstance(p, dict) else []:
        if isinstance(p[k], str) and k.endswith("_blob"):
            out.append(p[k])
        elif isinstance(p[k], dict):
            out += referenced_blobs(p[k])
    return out


# --- the WARC (src/export/warc.rs, fetch/wire.rs parse_head) ---------------

GZIP_HEADER = bytes([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff])


def gzip_members(gz, file_len):
    """The WARC's gzip members, each unpacked, and each one's (offset,
    length) in the file; at most 16 times the bundle file's size plus 16 MiB
    (the bundle's, so that the ZIP's and the WARC's limits do not multiply)."""
    limit = file_len * 16 + (16 << 20)
    budget, records, places, pos, view = limit, [], [], 0, memoryview(gz)
    while pos < len(gz):
        d, out, at = zlib.decompressobj(16 + zlib.MAX_WBITS), bytearray(), pos
        try:
            while not d.eof:
                if at >= len(gz):
                    raise Failed("archive/data.warc.gz does not decompress: it is cut short")
                chunk = view[at:at + (1 << 16)]
                at += len(chunk)
                out += d.decompress(chunk, budget + 1 - len(out))
                if len(out) > budget:
                    raise Failed("archive/data.warc.gz unpacks to more than %d bytes (a decompression bomb, or not a bundle)" % limit)
        except zlib.error as e:
            raise Failed("archive/data.warc.gz does not decompress: %s" % e)
        budget -= len(out)
        used = at - pos - len(d.unused_data)
        # Each member's header is the plain one newsledger writes: no name,
        # comment or extra field (nothing the rebuild would not see).
        if bytes(view[pos:pos + 10]) != GZIP_HEADER:
            raise Failed("archive/data.warc.gz: the gzip member at offset %d has a header newsledger does not write (a name, comment or extra field was added)" % pos)
        places.append((pos, used))
        records.append(bytes(out))
        pos += used
    return records, places


def ieq(a, b):
    return a.encode().lower() == b.encode().lower()


def record_block(record):
    """A WARC record's block, checked against its WARC-Block-Digest."""
    end = record.find(b"\r\n\r\n")
    if end < 0:
        raise Failed("archive/data.warc.gz: a record has no header end")
    lines = [l[:-1] if l.endswith("\r") else l for l in record[:end].decode("utf-8", "replace").split("\n")]

    def field(name):
        for l in lines:
            k, sep, v = l.partition(": ")
            if sep and ieq(k, name):
                return rtrim(v)
        return None
    n = rust_uint(field("Content-Length") or "", 64)
    if n is None:
        raise Failed("archive/data.warc.gz: a record has no Content-Length")
    block = record[end + 4:end + 4 + n]
    if len(block) != n:
        raise Failed("archive/data.warc.gz: a record is cut short")
    d = field("WARC-Block-Digest")
    if d is not None and d != "sha256:" + hexsha(block):
        raise Failed("archive/data.warc.gz: a record's block does not match its WARC-Block-Digest %s (the capture was altered)" % d)
    return block


def latin1(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def head_end(raw, start):
    """Where the head starting at `start` ends: the blank line's first byte
    and the byte after it; lines end in LF, optionally after CR (wire.rs)."""
    at = start
    while True:
        nl = raw.find(b"\n", at)
        if nl < 0:
            return None
        if raw[at:nl] in (b"", b"\r") and at > start:
            return at, nl + 1
        at = nl + 1


def parse_head(raw):
    """The final response head of a capture (1xx heads skipped): (status,
    where the body starts), or None (wire.rs parse_head)."""
    start = 0
    while True:
        found = head_end(raw, start)
        if found is None:
            return None
        end, body_at = found
        first = raw[start:end].split(b"\n")[0]
        parts = latin1(first[:-1] if first.endswith(b"\r") else first).split(" ", 2)
        status = rust_uint(rtrim(parts[1]), 16) if len(parts) > 1 else None
        if status is None:
            return None
        if 100 <= status < 200 and status != 101:
            start = body_at
            continue
        return status, body_at


def record_id(seq, kind):
    x = hexsha(("newsledger:%d:%s" % (seq, kind)).encode())[:32]
    return "<urn:uuid:%s-%s-4%s-a%s-%s>" % (x[0:8], x[8:12], x[13:16], x[17:20], x[20:32])


def warc_record(headers, block):
    head = "WARC/1.1\r\n" + "".join("%s: %s\r\n" % kv for kv in headers)
    head += "Content-Length: %d\r\n\r\n" % len(block)
    return head.encode() + block + b"\r\n\r\n"


def digest(b):
    return "sha256:" + hexsha(b)


def capture_records(seq, p, raw, request, interim, chain):
    """One capture's records (warc.rs capture_records): the request as sent,
    the response as received, for TLS the session's facts and the chain in
    PEM. Returns (records, index of the response, WARC-Payload-Digest)."""
    s = lambda k: as_str(get(p, k)) or ""  # noqa: E731
    url, date, ip = s("final_url"), warc_date(s("started_at")), as_str(get(p, "peer_ip"))
    response_id = record_id(seq, "response")

    def common(kind, rid):
        h = [("WARC-Type", kind), ("WARC-Record-ID", rid), ("WARC-Date", date), ("WARC-Target-URI", url)]
        return h + ([("WARC-IP-Address", ip)] if ip is not None else [])
    records, seq_header = [], ("WARC-Newsledger-Seq", str(seq))
    if request is not None:
        h = common("request", record_id(seq, "request")) + [
            ("WARC-Concurrent-To", response_id), ("WARC-Block-Digest", digest(request)), seq_header,
            ("Content-Type", "application/http; msgtype=request")]
        records.append(warc_record(h, request))
    head = parse_head(raw)
    payload_sha = digest(raw[head[1] if head else len(raw):])
    h = common("response", response_id) + [
        ("WARC-Payload-Digest", payload_sha), ("WARC-Block-Digest", digest(raw)), seq_header,
        ("Content-Type", "application/http; msgtype=response")]
    response = len(records)
    records.append(warc_record(h, raw))
    if interim is not None:  # 1xx responses before this one, as received
        h = common("metadata", record_id(seq, "interim")) + [
            ("WARC-Concurrent-To", response_id), ("WARC-Block-Digest", digest(interim)), seq_header,
            ("Content-Type", "application/http; msgtype=response; interim=1xx")]
        records.append(warc_record(h, interim))
    if isinstance(p, dict) and "tls" in p:
        t = lambda k: as_str(get(p["tls"], k)) or ""  # noqa: E731
        fields = ""
        if ip is not None:
            fields += "peer: %s:%d\r\n" % (ip, as_u64(get(p, "peer_port")) or 0)
        for k, v in [("tls-protocol", t("protocol")), ("tls-cipher-suite", t("cipher")),
                     ("tls-server-name", t("sni")), ("tls-leaf-certificate-sha256", t("leaf_sha256")),
                     ("tls-certificate-chain-blob", t("chain_blob"))]:
            fields += "%s: %s\r\n" % (k, v)
        h = common("metadata", record_id(seq, "metadata")) + [
            ("WARC-Concurrent-To", response_id), ("WARC-Block-Digest", digest(fields.encode())), seq_header,
            ("Content-Type", "application/warc-fields")]
        records.append(warc_record(h, fields.encode()))
        if chain is not None:
            try:
                certs = split_chain(chain)
            except (ValueError, IndexError):
                certs = []
            text = "".join(pem(c) for c in certs).encode()
            h = common("metadata", record_id(seq, "certificates")) + [
                ("WARC-Concurrent-To", response_id), ("WARC-Block-Digest", digest(text)), seq_header,
                ("Content-Type", "application/x-pem-file")]
            records.append(warc_record(h, text))
    return records, response, payload_sha


# --- every member from the checked inputs (src/proof/bundle/assemble.rs) ---

def created(inp):
    return max((as_str(e.get("recorded_at")) or "" for e in inp["entries"]), default="")


def blob(inp, h, seq, what):
    if h not in inp["blobs"]:
        raise Failed("entry %d: its %s %s is not in the bundle" % (seq, what, h))
    return inp["blobs"][h]


def surt(u):
    """A SURT key for the CDXJ index: host labels reversed, ')' before the
    path (as bundle/mod.rs surt does with a parsed URL)."""
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9+.\-]*)://(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)(?::([0-9]*))?"
                     r"(/[^?#]*)?(\?[^#]*)?(#.*)?", u, re.S)
    if not m or not m.group(2) or int(m.group(3) or 0) > 65535:
        return u  # not a URL with a host: the key is the text itself
    scheme, host, port, path, query = m.group(1).lower(), m.group(2).lower(), m.group(3), m.group(4), m.group(5)
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}.get(scheme)
    port = "" if not port or int(port) == default else ":%d" % int(port)
    if not host.startswith("["):  # names and IPv4 addresses, as cdxj-indexer
        host = ",".join(reversed(host.split(".")))
    return "%s%s)%s%s" % (host, port, path or "/", query or "")


def warc_records(inp):
    """The WARC's records: warcinfo, then each capture's records in entry
    order; each (bytes, CDX facts of a response or None)."""
    info = "software: %s\r\nformat: WARC File Format 1.1\r\nisPartOf: %s\r\n" % (SOFTWARE, FORMAT)
    out = [(warc_record([("WARC-Type", "warcinfo"), ("WARC-Record-ID", record_id(0, "warcinfo")),
                         ("WARC-Date", created(inp)), ("Content-Type", "application/warc-fields")],
                        info.encode()), None)]
    seen = set()
    for e in inp["entries"]:
        p, seq = payload(e), e["seq"]
        raw = as_str(get(p, "raw_blob"))
        if raw is None or e["kind"] != "fetch" or raw in seen:
            continue
        seen.add(raw)
        req, chain = as_str(get(p, "request_blob")), as_str(get(get(p, "tls"), "chain_blob"))
        interim = as_str(get(p, "interim_blob"))
        records, response, payload_sha = capture_records(
            seq, p, blob(inp, raw, seq, "blob"),
            None if req is None else blob(inp, req, seq, "blob"),
            None if interim is None else blob(inp, interim, seq, "blob"),
            None if chain is None else blob(inp, chain, seq, "blob"))
        head = parse_head(inp["blobs"][raw])
        facts = {"seq": seq, "url": as_str(get(p, "final_url")) or "",
                 "date": warc_date(as_str(get(p, "started_at")) or ""),
                 "status": str(head[0]) if head else "0", "digest": payload_sha}
        out += [(r, facts if i == response else None) for i, r in enumerate(records)]
    return out


def cdx(records, places):
    lines = []
    for (_, f), (offset, length) in zip(records, places):
        if f:
            ts14 = "".join(c for c in f["date"] if c in "0123456789")[:14]
            lines.append("%s %s %s" % (surt(f["url"]), ts14, compact(
                {"url": f["url"], "mime": "text/html", "status": f["status"], "digest": f["digest"],
                 "length": length, "offset": offset, "filename": "data.warc.gz"})))
    return ("\n".join(sorted(lines)) + "\n").encode()


def pages(records, inp):
    lines = [compact({"format": "json-pages-1.0", "id": "pages",
                      "title": "newsledger evidence for %s" % inp["article_url"]})]
    lines += [compact({"id": str(f["seq"]), "url": f["url"], "ts": f["date"]}) for _, f in records if f]
    return ("\n".join(lines) + "\n").encode()


def page_data(inp, st):
    """The facts index.html shows."""
    origin, size, root = parse_body(parse_note(inp["note"])[0])
    revisions, fetches = [], []
    for e in inp["entries"]:
        p, seq = payload(e), e["seq"]
        if e["kind"] == "revision":
            text = blob(inp, as_str(get(p, "text_blob")) or "", seq, "text blob")
            revisions.append({"revision": get(p, "revision"), "seq": seq,
                              "recorded_at": e["recorded_at"] or "", "content_hash": get(p, "content_hash"),
                              "text": text.decode("utf-8", "replace")})
        elif e["kind"] == "fetch" and e.get("compact") is None:
            cert = None
            chain = inp["blobs"].get(as_str(get(get(p, "tls"), "chain_blob")))
            try:
                cert = x509_summary(split_chain(chain)[0]) if chain is not None else None
            except (ValueError, IndexError):
                pass
            fetches.append({
                "seq": seq, "started_at": get(p, "started_at"), "final_url": get(p, "final_url"),
                "status": get(p, "status"), "outcome": get(p, "outcome"), "peer_ip": get(p, "peer_ip"),
                "peer_port": get(p, "peer_port"), "leaf_sha256": get(get(p, "tls"), "leaf_sha256"),
                "tls_subject": cert and cert["subject"], "tls_issuer": cert and cert["issuer"]})
    revisions.sort(key=lambda r: (0, 0) if as_int(r["revision"]) is None else (1, r["revision"]))
    return {"article_url": inp["article_url"], "log": origin, "tree_size": size, "root": root.hex(),
            "timestamp": st and {"tsa": st["tsa"], "time": st["time"]},
            "revisions": revisions, "fetches": fetches}


def template(name):
    try:
        with open(os.path.join(HERE, name), "rb") as f:
            return f.read()
    except OSError as e:
        raise Usage("cannot read %s next to this script: %s" % (name, e))


def members_around(inp, records, gz, places):
    """Every member, in the order newsledger writes them."""
    st = stamp(inp["token"], inp["note"]) if inp["token"] is not None else None
    proof = {"format": FORMAT, "article_url": inp["article_url"], "revision": inp["revision"],
             "software": SOFTWARE,
             "checkpoint": {"note": inp["note"], "cosignatures": inp["cosignatures"]},
             "timestamp": st and {"tsa": st["tsa"], "time": st["time"], "path": "evidence/timestamp.tsr"},
             "entries": inp["entries"]}
    members = [("archive/data.warc.gz", gz), ("indexes/index.cdx", cdx(records, places)),
               ("pages/pages.jsonl", pages(records, inp)), ("evidence/proof.json", pretty(proof))]
    named = {}
    for e in inp["entries"]:
        p, seq = payload(e), e["seq"]
        t = as_str(get(p, "text_blob"))
        if t is not None:
            named["evidence/blobs/%s.json" % t] = blob(inp, t, seq, "text blob")
        c = as_str(get(get(p, "tls"), "chain_blob"))
        if c is not None and e.get("compact") is None:
            named["evidence/blobs/%s.der" % c] = blob(inp, c, seq, "certificate chain")
    members += sorted(named.items())
    if inp["token"] is not None:
        members.append(("evidence/timestamp.tsr", inp["token"]))
    data = compact(page_data(inp, st)).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    members.append(("index.html", template("bundle_index.html").replace(b"{{DATA}}", data.encode(), 1)))
    members.append(("README.txt", template("bundle_README.txt")))
    resources = [{"name": path.rsplit("/", 1)[-1], "path": path, "hash": digest(b), "bytes": len(b)}
                 for path, b in members]
    members.append(("datapackage.json", pretty({
        "profile": "data-package", "wacz_version": "1.1.1",
        "title": "newsledger evidence for %s" % inp["article_url"], "software": SOFTWARE,
        "created": created(inp), "mainPageUrl": inp["article_url"], "resources": resources})))
    return members, st


# --- the verdict -----------------------------------------------------------

def verify(data, key, witnesses, tsa_ca):
    v = {"summary": [], "not_checked": [], "details": []}
    members = zip_read(data)
    held = dict(members)

    def file(name):
        if name not in held:
            raise Failed("the bundle has no %s" % name)
        return held[name]
    # 1. The checkpoint is signed by the log key.
    try:
        proof = loads(file("evidence/proof.json"))
    except ValueError as e:
        raise Failed("evidence/proof.json is not JSON: %s" % e)
    if get(proof, "format") != FORMAT:
        raise Failed("evidence/proof.json is not %s (made by another version of newsledger?)" % FORMAT)
    if not isinstance(proof, dict) or "checkpoint" not in proof:
        raise Failed("no checkpoint in evidence/proof.json")
    cp = proof["checkpoint"]
    note = as_str(get(cp, "note"))
    if note is None:
        raise Failed("no checkpoint note")
    try:
        text, sigs = parse_note(note)
    except ValueError as e:
        raise Failed("checkpoint: %s" % e)
    try:
        verify_note(text, sigs, key)
    except ValueError as e:
        raise Failed("checkpoint signature: %s" % e)
    # The note as the log signed it carries the log's signature only.
    kid = key_id(key["name"], key["kind"], key["pub"])
    for n, i, _ in sigs:
        if n != key["name"] or i != kid:
            raise Failed("checkpoint: the note carries a signature line by %s that is not the log's (the note was altered)" % n)
    origin, size, root = parse_body(text)
    v["details"].append("checkpoint: log %s of size %d with root %s, signed by %s" % (origin, size, root.hex(), key["vkey"]))
    # 2. Cosignatures from the witnesses the user trusts.
    listed = get(cp, "cosignatures")
    cosigs = [c for c in listed if isinstance(c, str)] if isinstance(listed, list) else []
    cosigned = []
    for w in witnesses:
        if w["kind"] != 0x04:
            raise Failed("--witness-key %s is a log's key (type 0x01), not a witness's cosigning key (type 0x04)" % w["vkey"])
        if not cosigs:
            raise Failed("the checkpoint carries no cosignature, so none by witness %s" % w["name"])
        try:
            wtext, wsigs = parse_note(note + "\n".join(cosigs) + "\n")
        except ValueError as e:
            raise Failed("cosignatures: %s" % e)
        try:
            t = verify_note(wtext, wsigs, w)
        except ValueError as e:
            raise Failed("cosignature of witness %s: %s" % (w["name"], e))
        when = "?"
        if t is not None:  # the cosignature's time, as chrono's to_rfc3339
            try:
                when = datetime.datetime.fromtimestamp(t - 2**64 if t >= 2**63 else t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            except (ValueError, OverflowError, OSError):
                pass
        v["details"].append("cosigned by witness %s at %s" % (w["name"], when))
        cosigned.append("%s (at %s)" % (w["name"], when))
    if not witnesses and cosigs:
        v["not_checked"].append("%d witness cosignature(s): pass --witness-key VKEY for each witness you rely on" % len(cosigs))
    # 3. The timestamp token stamps this note.
    token = held.get("evidence/timestamp.tsr")
    st = stamp(token, note) if token is not None else None
    if st and tsa_ca is not None:
        openssl_ts_verify(token, note, tsa_ca)
        v["details"].append("timestamped by %s at %s (token signature and certificate checked by openssl against %s)" % (st["tsa"], st["time"], tsa_ca))
    elif st:
        v["details"].append("timestamp token by %s at %s stamps this checkpoint" % (st["tsa"], st["time"]))
        v["not_checked"].append("the timestamp's signature (the token names %s and %s): pass --tsa-ca TSA-CA.pem" % (st["tsa"], st["time"]))
    else:
        v["not_checked"].append("no timestamp: nothing independent of the log's operator says when the checkpoint was signed")
    # 4. Each entry hashes to its leaf, and the leaf is in the signed tree.
    listed = get(proof, "entries")
    if not isinstance(listed, list):
        raise Failed("no entries in evidence/proof.json")
    entries = []
    for e in listed:
        e = check_entry(e, size, root)
        if entries and e["seq"] <= entries[-1]["seq"]:
            raise Failed("evidence/proof.json: entry %d follows entry %d (entries must be in increasing seq order, each once)" % (e["seq"], entries[-1]["seq"]))
        entries.append(e)
    # 5. The blobs, each found by the hash an entry names it by: texts and
    # chains as members, captures and requests as WARC blocks.
    warc_gz = file("archive/data.warc.gz")
    records, places = gzip_members(warc_gz, len(warc_gz))
    blobs = {}
    for r in records:
        block = record_block(r)
        blobs[hexsha(block)] = block
    for name, b in sorted(held.items()):
        if name.startswith("evidence/blobs/") and name.endswith((".json", ".der")):
            h = name[len("evidence/blobs/"):].rsplit(".", 1)[0]
            if hexsha(b) != h:
                raise Failed("%s: its SHA-256 is not its name (the file was altered)" % name)
            blobs[h] = b
    for e in entries:
        for h in referenced_blobs(payload(e)):
            if h not in blobs:
                raise Failed("entry %d: the blob %s it names is not in the bundle with that SHA-256" % (e["seq"], h))
    # Each compact entry repeats a full fetch entry of this bundle.
    full = {e["seq"] for e in entries if e["kind"] == "fetch" and e.get("compact") is None}
    for e in entries:
        if e.get("ref_seq") is not None and e["ref_seq"] not in full:
            raise Failed("entry %d: it repeats entry %s, which is not a full fetch entry of this bundle" % (e["seq"], compact(e["ref_seq"])))
    # 6. What the entries are about: one article, and the revision claimed.
    urls = sorted({e["url"] for e in entries if e["url"] is not None})
    if not urls:
        raise Failed("evidence/proof.json: no entry names the article's URL")
    if len(urls) > 1:
        raise Failed("evidence/proof.json: entries of more than one URL (%s)" % ", ".join(urls))
    revision = as_int(get(proof, "revision"))
    revisions = [as_int(get(payload(e), "revision")) for e in entries if e["kind"] == "revision"]
    revisions = [r for r in revisions if r is not None]
    if revision is not None and revisions != [revision]:
        raise Failed("evidence/proof.json claims revision %d, but its entries record [%s]" % (revision, ", ".join(map(str, revisions))))
    # 7. Every member is what the checked inputs make of it.
    inp = {"article_url": urls[0], "revision": revision,
           "note": note, "cosignatures": cosigs,
           "token": token, "entries": entries, "blobs": blobs}
    expected_records = warc_records(inp)
    if [r for r, _ in expected_records] != records:
        raise Failed("archive/data.warc.gz: its records are not the captures its entries name (a record was altered, added or removed)")
    expected, st = members_around(inp, expected_records, file("archive/data.warc.gz"), places)
    for name, want in expected:
        if name not in held:
            raise Failed("the bundle has no %s" % name)
        if held[name] != want:
            raise Failed("%s is not what the signed entries and their blobs make of it (the member was altered)" % name)
    names = {name for name, _ in expected}
    for name, _ in members:
        if name not in names:
            raise Failed("%s is not part of a bundle (a member was added)" % name)
    # The container is newsledger's own when it is byte for byte the
    # canonical file of the rebuilt members, in their order.
    v["repacked"] = zip_write(expected) != data
    # 8. What that proves, in plain words first.
    summarize(v, inp, origin, size, st, cosigned, key, tsa_ca)
    return v


def summarize(v, inp, origin, size, st, cosigned, key, tsa_ca):
    data = page_data(inp, st)
    revisions, fetches, line = data["revisions"], data["fetches"], v["summary"].append
    line("The page: %s" % inp["article_url"])
    if revisions:
        last = revisions[-1]
        try:
            article = loads(last["text"])
        except ValueError:
            article = None
        title = str_or(get(article, "title"), "(no title)")
        words = [w for w in re.split("[%s]+" % WS, str_or(get(article, "text"), "")) if w][:25]
        held = "revisions in this bundle: " + ", ".join(compact(r["revision"]) for r in revisions)
        line("Revision %s (%s), headline: \"%s\"" % (compact(last["revision"]), held, title))
        line("It begins: \"%s \u2026\"" % " ".join(words))
        # The newest fetch before the revision's entry (the last of equals).
        before = [f for f in fetches if f["seq"] < last["seq"]]
        fetch = max(reversed(before), key=lambda f: f["seq"]) if before else (fetches or [None])[-1]
        if fetch:
            port = as_u64(fetch["peer_port"])
            line("Fetched at %s from %s (address %s%s), HTTP %s" % (
                str_or(fetch["started_at"], "?"), str_or(fetch["final_url"], "?"),
                str_or(fetch["peer_ip"], "not recorded"), "" if port is None else ":%d" % port,
                compact(fetch["status"])))
            if isinstance(fetch["leaf_sha256"], str):
                line("Over TLS, the server's certificate: %s, issued by %s, SHA-256 fingerprint %s" % (
                    str_or(fetch["tls_subject"], "(unreadable)"), str_or(fetch["tls_issuer"], "(unreadable)"),
                    fetch["leaf_sha256"]))
            else:
                line("Over plain HTTP: no certificate identifies the server")
        # A withdrawal after it: the page answered 404 or 410.
        gone = [f for f in fetches if f["seq"] > last["seq"] and f["outcome"] == "gone"]
        if gone:
            g = min(gone, key=lambda f: f["seq"])
            later = [payload(e) for e in inp["entries"] if e["kind"] == "fetch" and e["seq"] > g["seq"]]
            back = next((p for p in later if get(p, "outcome") in ("unchanged", "not_modified", "changed", "new")), None)
            again = "" if back is None else "; back at %s (HTTP %s, %s)" % (
                str_or(get(back, "started_at"), "?"), compact(get(back, "status")), str_or(get(back, "outcome"), "?"))
            line("Then withdrawn: at %s the page answered HTTP %s (gone)%s" % (str_or(g["started_at"], "?"), compact(g["status"]), again))
    elif fetches:
        f = fetches[-1]
        line("Fetched at %s (HTTP %s, %s)" % (str_or(f["started_at"], "?"), compact(f["status"]), str_or(f["outcome"], "?")))
    line("Recorded in the log %s (size %d); the log's signature checked with the key %s" % (origin, size, key["vkey"]))
    if st:
        line("Timestamped by %s at %s (%s)" % (st["tsa"], st["time"], "signature checked" if tsa_ca is not None else "signature NOT checked"))
    for c in cosigned:
        line("Cosigned by witness %s" % c)
    if v["repacked"]:
        line("Container re-packed: the ZIP file is not laid out as newsledger wrote it (another tool re-zipped it); every member's contents verified")
    # Details, for an expert: each entry.
    repeats = sum(1 for e in inp["entries"] if e.get("ref_seq") is not None)
    v["details"].append("%s: %d entries, of them %d unchanged or not-modified fetches kept as compact entries" % (
        inp["article_url"], len(inp["entries"]), repeats))
    for e in inp["entries"]:
        if e.get("ref_seq") is not None:
            continue  # counted above
        p = payload(e)
        g = lambda k: str_or(get(p, k), "?")  # noqa: E731
        if e["kind"] == "revision":
            v["details"].append("entry %d: revision %s has content %s (text and metadata in evidence/blobs/%s.json)" % (
                e["seq"], compact(get(p, "revision")), g("content_hash"), g("text_blob")))
        elif e["kind"] == "fetch":
            raw, content = as_str(get(p, "raw_blob")), as_str(get(p, "content_hash"))
            v["details"].append("entry %d: fetch of %s at %s: HTTP %s, %s%s%s" % (
                e["seq"], g("final_url"), g("started_at"), compact(get(p, "status")), g("outcome"),
                "" if raw is None else ", response as received in the WARC record with block digest sha256:" + raw,
                "" if content is None else ", text content " + content))
        elif e["kind"] is not None:
            v["details"].append("entry %d: %s" % (e["seq"], e["kind"]))
    v["details"].append("each entry is in the log %s of size %d" % (origin, size))


def main(argv):
    files, key, witnesses, tsa_ca = [], None, [], None
    it = iter(argv)
    for a in it:
        opt, eq, val = a.partition("=")
        if opt in ("--key", "--witness-key", "--tsa-ca"):
            val = val if eq else next(it, None)
            if val is None:
                raise Usage("%s needs a value" % opt)
            if opt == "--key":
                if key is not None:
                    raise Usage("--key cannot be used multiple times")
                key = val
            elif opt == "--witness-key":
                witnesses.append(val)
            else:
                tsa_ca = val
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        elif a.startswith("-") and a != "-":
            raise Usage("unknown option %s\n%s" % (a, __doc__.strip().splitlines()[2]))
        else:
            files.append(a)
    if len(files) != 1 or key is None:
        raise Usage(__doc__.strip().splitlines()[2])
    key = parse_vkey(key, "--key")
    witnesses = [parse_vkey(w, "--witness-key") for w in witnesses]
    try:
        with open(files[0], "rb") as f:
            data = f.read()
    except OSError as e:
        raise Usage("%s: %s" % (files[0], e.strerror or e))
    try:
        v = verify(data, key, witnesses, tsa_ca)
    except Failed as e:
        say(sys.stderr, "error: %s: FAILED: %s" % (files[0], e))
        return 1
    except (KeyError, ValueError, TypeError, IndexError, RecursionError, struct.error) as e:
        say(sys.stderr, "error: %s: FAILED: the bundle is malformed (%s: %s)" % (files[0], type(e).__name__, e))
        return 1
    out = list(v["summary"])
    if v["not_checked"]:
        out += ["", "NOT CHECKED:"] + ["  - " + l for l in v["not_checked"]]
    out += ["", "Details:"] + ["  " + l for l in v["details"]]
    code = 5 if v["repacked"] else 4 if v["not_checked"] else 0
    verdict = {0: "OK: verified, everything checked", 4: "OK, EXCEPT what NOT CHECKED lists: verified",
               5: "CONTAINER RE-PACKED; contents verified"}[code]
    out += ["", "%s: %s" % (verdict, files[0])]
    say(sys.stdout, "\n".join(out))
    return code


def say(stream, text):
    """UTF-8 whatever the locale."""
    stream.flush()
    stream.buffer.write((text + "\n").encode("utf-8", "replace"))
    stream.flush()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Usage as e:
        say(sys.stderr, "error: %s" % e)
        sys.exit(2)

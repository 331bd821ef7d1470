"""Reads a WARC file with warcio and prints one JSON object per record.

Used by tests/export.rs: every record is read in full so that warcio
checks WARC-Block-Digest and WARC-Payload-Digest.
"""
import json
import sys

from warcio.archiveiterator import ArchiveIterator

with open(sys.argv[1], "rb") as f:
    for record in ArchiveIterator(f, check_digests=True):
        record.content_stream().read()
        h = record.rec_headers
        checker = record.digest_checker
        print(json.dumps({
            "type": record.rec_type,
            "uri": h.get_header("WARC-Target-URI"),
            "seq": h.get_header("WARC-Newsledger-Seq"),
            "payload_digest": h.get_header("WARC-Payload-Digest"),
            "status": record.http_headers.get_statuscode() if record.http_headers else None,
            "digests_ok": checker.passed if checker else None,
            "problems": [str(p) for p in (checker.problems if checker else [])],
            "profile": h.get_header("WARC-Profile"),
        }))

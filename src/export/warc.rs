//! WARC 1.1 export (`.warc.gz`, one gzip member per record) of the stored
//! raw captures, readable by standard web-archive tools (warcio, pywb):
//!
//! - `warcinfo` first, naming the software and the ledger head;
//! - for each fetch whose raw response is stored, the records
//!   [`capture_records`] writes: the `request` exactly as sent (its
//!   `request_blob`), the `response` exactly as received (`WARC-Block-Digest`
//!   equal to its `raw_blob` key, `WARC-Payload-Digest` over the body as
//!   stored), each with `WARC-IP-Address`; for HTTPS two `metadata` records
//!   (the TLS session's facts, and the certificate chain in PEM). Captures
//!   recorded before requests were kept have no `request` record: none is
//!   made up;
//! - for an `unchanged` fetch whose body is byte-identical to a stored
//!   capture: a `revisit` (identical-payload-digest); for a `not_modified`
//!   fetch: a `revisit` (server-not-modified);
//! - every record carries `WARC-Newsledger-Seq`, the seq of its fetch entry.
//!
//! Digests are written `sha256:` + lower-case hex.

use std::collections::HashMap;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use rusqlite::Connection;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{ExportError, for_each_entry};
use crate::ledger::blobs;

/// A deterministic record id: the same ledger always exports the same file.
pub(crate) fn record_id(seq: i64, kind: &str) -> String {
    let h = Sha256::digest(format!("newsledger:{seq}:{kind}").as_bytes());
    let x = hex::encode(h.get(..16).unwrap_or_default());
    format!(
        "<urn:uuid:{}-{}-4{}-a{}-{}>",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

/// One record, uncompressed: version line, header fields, the block.
pub(crate) fn record(headers: &[(&str, String)], block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len() + 512);
    out.extend_from_slice(b"WARC/1.1\r\n");
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", block.len()).as_bytes());
    out.extend_from_slice(block);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// A record as one gzip member (WARC's `.warc.gz` layout).
pub(crate) fn gzip(record: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(
        Vec::with_capacity(record.len() / 3 + 512),
        Compression::default(),
    );
    gz.write_all(record)?;
    gz.finish()
}

pub(crate) fn write_record(
    out: &mut dyn Write,
    headers: &[(&str, String)],
    block: &[u8],
) -> std::io::Result<()> {
    out.write_all(&gzip(&record(headers, block))?)
}

pub(crate) fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// WARC-Date: RFC 3339 UTC (WARC 1.1 allows fractions of a second).
pub(crate) fn warc_date(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_else(|_| t.to_string())
}

/// The last response record written for a URL.
struct Capture {
    record_id: String,
    date: String,
    /// The response record's `WARC-Payload-Digest`.
    payload_sha: String,
    /// SHA-256 of the body as sent with its transfer coding undone (the
    /// fetch entry's `wire_sha256`, or `body_sha256` when not encoded).
    entity_sha: String,
}

/// The blobs a fetch entry's capture records are made of.
pub(crate) struct CaptureBlobs {
    pub raw: Vec<u8>,
    pub request: Option<Vec<u8>>,
    pub interim: Option<Vec<u8>>,
    pub chain: Option<Vec<u8>>,
}

impl CaptureBlobs {
    /// Reads the blobs fetch entry payload `p` names (`raw_blob`,
    /// `request_blob`, `tls.chain_blob`); `None` without a `raw_blob`.
    pub(crate) fn of(
        p: &Value,
        get: &mut dyn FnMut(&str) -> Result<Vec<u8>, ExportError>,
    ) -> Result<Option<CaptureBlobs>, ExportError> {
        let Some(raw) = p.get("raw_blob").and_then(Value::as_str) else {
            return Ok(None);
        };
        let request = p.get("request_blob").and_then(Value::as_str);
        let interim = p.get("interim_blob").and_then(Value::as_str);
        let chain = p
            .get("tls")
            .and_then(|t| t.get("chain_blob"))
            .and_then(Value::as_str);
        Ok(Some(CaptureBlobs {
            raw: get(raw)?,
            request: request.map(&mut *get).transpose()?,
            interim: interim.map(&mut *get).transpose()?,
            chain: chain.map(&mut *get).transpose()?,
        }))
    }
}

/// The records of one capture, uncompressed, and which is the response.
pub(crate) struct CaptureRecords {
    pub records: Vec<Vec<u8>>,
    /// Index of the `response` record in `records`.
    pub response: usize,
    pub response_id: String,
    pub payload_sha: String,
}

/// The records of one stored capture: the `request` as sent (when it was
/// recorded), the `response` exactly as received, and, for a TLS exchange,
/// a `metadata` record with the session's facts and one with the server's
/// certificate chain in PEM, both concurrent to the response. The same for
/// the export and for bundles, so that a verifier rebuilds them from the
/// entry and its blobs.
///
/// `WARC-Payload-Digest` is over the body as it is stored in the record
/// (after the head, chunk framing included when the server chunked it):
/// what warcio and cdxj-indexer compute and check.
pub(crate) fn capture_records(seq: i64, p: &Value, blobs: &CaptureBlobs) -> CaptureRecords {
    let s = |k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (url, date) = (s("final_url"), warc_date(&s("started_at")));
    let ip = p.get("peer_ip").and_then(Value::as_str);
    let seq_header = ("WARC-Newsledger-Seq", seq.to_string());
    let response_id = record_id(seq, "response");
    let mut records = Vec::new();
    let common = |kind: &str, id: String| -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("WARC-Type", kind.to_string()),
            ("WARC-Record-ID", id),
            ("WARC-Date", date.clone()),
            ("WARC-Target-URI", url.clone()),
        ];
        if let Some(ip) = ip {
            h.push(("WARC-IP-Address", ip.to_string()));
        }
        h
    };
    if let Some(request) = &blobs.request {
        let mut h = common("request", record_id(seq, "request"));
        h.extend([
            ("WARC-Concurrent-To", response_id.clone()),
            ("WARC-Block-Digest", digest(request)),
            seq_header.clone(),
            ("Content-Type", "application/http; msgtype=request".into()),
        ]);
        records.push(record(&h, request));
    }
    let body_at = crate::exchange::parse_head(&blobs.raw).map_or(blobs.raw.len(), |h| h.body_at);
    let payload_sha = digest(blobs.raw.get(body_at..).unwrap_or_default());
    let mut h = common("response", response_id.clone());
    h.extend([
        ("WARC-Payload-Digest", payload_sha.clone()),
        ("WARC-Block-Digest", digest(&blobs.raw)),
        seq_header.clone(),
        ("Content-Type", "application/http; msgtype=response".into()),
    ]);
    let response = records.len();
    records.push(record(&h, &blobs.raw));
    if let Some(interim) = &blobs.interim {
        // The 1xx responses the server sent before this one, as received.
        let mut h = common("metadata", record_id(seq, "interim"));
        h.extend([
            ("WARC-Concurrent-To", response_id.clone()),
            ("WARC-Block-Digest", digest(interim)),
            seq_header.clone(),
            (
                "Content-Type",
                "application/http; msgtype=response; interim=1xx".into(),
            ),
        ]);
        records.push(record(&h, interim));
    }
    if let Some(tls) = p.get("tls") {
        let t = |k: &str| tls.get(k).and_then(Value::as_str).unwrap_or("");
        let mut fields = String::new();
        if let Some(ip) = ip {
            let port = p.get("peer_port").and_then(Value::as_u64).unwrap_or(0);
            fields.push_str(&format!("peer: {ip}:{port}\r\n"));
        }
        for (k, v) in [
            ("tls-protocol", t("protocol")),
            ("tls-cipher-suite", t("cipher")),
            ("tls-server-name", t("sni")),
            ("tls-leaf-certificate-sha256", t("leaf_sha256")),
            ("tls-certificate-chain-blob", t("chain_blob")),
        ] {
            fields.push_str(&format!("{k}: {v}\r\n"));
        }
        let mut h = common("metadata", record_id(seq, "metadata"));
        h.extend([
            ("WARC-Concurrent-To", response_id.clone()),
            ("WARC-Block-Digest", digest(fields.as_bytes())),
            seq_header.clone(),
            ("Content-Type", "application/warc-fields".into()),
        ]);
        records.push(record(&h, fields.as_bytes()));
        if let Some(chain) = &blobs.chain {
            let pem: String = crate::x509::split_chain(chain)
                .unwrap_or_default()
                .into_iter()
                .map(crate::x509::pem)
                .collect();
            let mut h = common("metadata", record_id(seq, "certificates"));
            h.extend([
                ("WARC-Concurrent-To", response_id.clone()),
                ("WARC-Block-Digest", digest(pem.as_bytes())),
                seq_header,
                ("Content-Type", "application/x-pem-file".into()),
            ]);
            records.push(record(&h, pem.as_bytes()));
        }
    }
    CaptureRecords {
        records,
        response,
        response_id,
        payload_sha,
    }
}

/// Writes the WARC file. Returns the number of records.
pub fn export(conn: &Connection, out: &mut dyn Write) -> Result<u64, ExportError> {
    let head = crate::ledger::head(conn).map_err(|source| crate::ledger::LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    })?;
    let info = format!(
        "software: newsledger {}\r\nformat: WARC File Format 1.1\r\nconformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\nledger-head: {}\r\n",
        env!("CARGO_PKG_VERSION"),
        head.map(|(s, h)| format!("{s}:{}", hex::encode(h)))
            .unwrap_or_default(),
    );
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    write_record(
        out,
        &[
            ("WARC-Type", "warcinfo".into()),
            ("WARC-Record-ID", record_id(0, "warcinfo")),
            ("WARC-Date", now),
            ("Content-Type", "application/warc-fields".into()),
        ],
        info.as_bytes(),
    )?;
    let mut records = 1u64;
    let mut last: HashMap<String, Capture> = HashMap::new();
    let mut pending: Vec<(i64, Value)> = Vec::new();
    // What the archive says was captured comes from entries that verify:
    // each one's hash and its link to the one before.
    let mut prev: Vec<u8> = crate::ledger::entry::ZERO_HASH.to_vec();
    let mut broken: Option<(i64, &'static str)> = None;
    for_each_entry(conn, |e| {
        if broken.is_some() {
            return Ok(());
        }
        if let Some(fault) = e.fault(Some(&prev)) {
            broken = Some((e.seq, fault));
            return Ok(());
        }
        prev.clone_from(&e.entry_hash);
        if e.kind == "fetch"
            && let Ok(p) = serde_json::from_str::<Value>(&e.payload)
        {
            pending.push((e.seq, p));
        }
        Ok(())
    })?;
    if let Some((seq, fault)) = broken {
        return Err(crate::ledger::LedgerError::Untrusted {
            seq,
            reason: format!("the entry does not verify ({fault}), so no archive is made of it"),
        }
        .into());
    }
    for (seq, p) in pending {
        let s = |k: &str| {
            p.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (url, date, outcome) = (s("final_url"), warc_date(&s("started_at")), s("outcome"));
        let seq_header = ("WARC-Newsledger-Seq", seq.to_string());
        let mut get = |h: &str| blobs::get(conn, h).map_err(ExportError::from);
        if let Some(capture) = CaptureBlobs::of(&p, &mut get)? {
            let w = capture_records(seq, &p, &capture);
            for r in &w.records {
                out.write_all(&gzip(r)?)?;
            }
            records += w.records.len() as u64;
            let entity = p
                .get("wire_sha256")
                .and_then(Value::as_str)
                .unwrap_or(&s("body_sha256"))
                .to_string();
            last.insert(
                url,
                Capture {
                    record_id: w.response_id,
                    date,
                    payload_sha: w.payload_sha,
                    entity_sha: format!("sha256:{entity}"),
                },
            );
            continue;
        }
        let Some(cap) = last.get(&url) else { continue };
        let profile = match outcome.as_str() {
            "not_modified" => "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
            "unchanged"
                if format!(
                    "sha256:{}",
                    p.get("wire_sha256")
                        .and_then(Value::as_str)
                        .unwrap_or(&s("body_sha256"))
                ) == cap.entity_sha =>
            {
                "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
            }
            _ => continue,
        };
        write_record(
            out,
            &[
                ("WARC-Type", "revisit".into()),
                ("WARC-Record-ID", record_id(seq, "revisit")),
                ("WARC-Date", date),
                ("WARC-Target-URI", url.clone()),
                ("WARC-Profile", profile.into()),
                ("WARC-Refers-To", cap.record_id.clone()),
                ("WARC-Refers-To-Target-URI", url.clone()),
                ("WARC-Refers-To-Date", cap.date.clone()),
                ("WARC-Payload-Digest", cap.payload_sha.clone()),
                ("WARC-Block-Digest", digest(b"")),
                seq_header,
                ("Content-Type", "application/http; msgtype=response".into()),
            ],
            b"",
        )?;
        records += 1;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    #[test]
    fn record_ids_are_uuids_and_stable() {
        let a = super::record_id(7, "response");
        assert_eq!(a, super::record_id(7, "response"));
        assert_ne!(a, super::record_id(7, "request"));
        assert_eq!(a.len(), "<urn:uuid:>".len() + 36);
        assert_eq!(&a[24..25], "4");
    }
}

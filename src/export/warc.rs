//! WARC 1.1 export (`.warc.gz`, one gzip member per record) of the stored
//! raw captures, readable by standard web-archive tools (warcio, pywb):
//!
//! - `warcinfo` first, naming the software and the ledger head;
//! - for each fetch whose raw response is stored: a `request` record (the
//!   GET it made, reconstructed: method, path, Host) and a `response`
//!   record holding the capture, with `WARC-Payload-Digest` (SHA-256 of the
//!   body, equal to the fetch entry's `body_sha256`) and `WARC-Block-Digest`
//!   (SHA-256 of the whole HTTP message, equal to its `raw_blob` key);
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

pub(crate) fn write_record(
    out: &mut dyn Write,
    headers: &[(&str, String)],
    block: &[u8],
) -> std::io::Result<()> {
    let mut gz = GzEncoder::new(
        Vec::with_capacity(block.len() / 3 + 512),
        Compression::default(),
    );
    gz.write_all(b"WARC/1.1\r\n")?;
    for (k, v) in headers {
        gz.write_all(format!("{k}: {v}\r\n").as_bytes())?;
    }
    gz.write_all(format!("Content-Length: {}\r\n\r\n", block.len()).as_bytes())?;
    gz.write_all(block)?;
    gz.write_all(b"\r\n\r\n")?;
    out.write_all(&gz.finish()?)
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
    payload_sha: String,
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
        if let Some(raw_key) = p.get("raw_blob").and_then(Value::as_str) {
            let raw = blobs::get(conn, raw_key)?;
            let body_at = raw
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(raw.len(), |i| i + 4);
            let parsed = url::Url::parse(&url).ok();
            let target = parsed
                .as_ref()
                .map_or("/".to_string(), |u| match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_string(),
                });
            let host = parsed.as_ref().and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(port) => format!("{h}:{port}"),
                    None => h.to_string(),
                })
            });
            let request = format!(
                "GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n",
                host.unwrap_or_default()
            );
            let response_id = record_id(seq, "response");
            write_record(
                out,
                &[
                    ("WARC-Type", "request".into()),
                    ("WARC-Record-ID", record_id(seq, "request")),
                    ("WARC-Date", date.clone()),
                    ("WARC-Target-URI", url.clone()),
                    ("WARC-Concurrent-To", response_id.clone()),
                    ("WARC-Block-Digest", digest(request.as_bytes())),
                    seq_header.clone(),
                    ("Content-Type", "application/http; msgtype=request".into()),
                ],
                request.as_bytes(),
            )?;
            let payload_sha = digest(raw.get(body_at..).unwrap_or_default());
            write_record(
                out,
                &[
                    ("WARC-Type", "response".into()),
                    ("WARC-Record-ID", response_id.clone()),
                    ("WARC-Date", date.clone()),
                    ("WARC-Target-URI", url.clone()),
                    ("WARC-Payload-Digest", payload_sha.clone()),
                    ("WARC-Block-Digest", format!("sha256:{raw_key}")),
                    seq_header,
                    ("Content-Type", "application/http; msgtype=response".into()),
                ],
                &raw,
            )?;
            records += 2;
            last.insert(
                url,
                Capture {
                    record_id: response_id,
                    date,
                    payload_sha,
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
                ) == cap.payload_sha =>
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

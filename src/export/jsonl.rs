//! JSON lines export. Each line is one object:
//!
//! - an entry: `{"seq", "recorded_at", "kind", "url", "payload", "prev_hash", "entry_hash"}`,
//!   with `payload` the exact stored text and hashes in hex; a compact
//!   entry adds `ref_seq` and `compact` (its stored bytes, base64), and its
//!   `payload` is then the JSON view of those bytes;
//! - with `--blobs`, after the entries, one line per referenced blob:
//!   `{"blob": HEX_SHA256, "data": BASE64_OF_UNCOMPRESSED_BYTES}`.
//!
//! [`verify_file`] recomputes the whole chain (and every blob hash) from
//! such a file alone. A file with blob lines claims to carry the blobs: then
//! every blob an entry references must be there, and no other.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};

use base64::Engine;
use rusqlite::Connection;
use serde_json::{Value, json};

use super::{ExportError, for_each_entry};
use crate::ledger::blobs;
use crate::ledger::entry::{Checkpoint, Entry, ZERO_HASH};
use crate::ledger::verify::{Break, Report};

/// Writes every entry (and, with `with_blobs`, every referenced blob).
pub fn export(
    conn: &Connection,
    out: &mut dyn Write,
    with_blobs: bool,
) -> Result<u64, ExportError> {
    let mut referenced = BTreeSet::new();
    let n = for_each_entry(conn, |e| {
        if with_blobs {
            referenced.extend(crate::ledger::blobs::referenced_blobs(&e.payload));
        }
        let mut line = json!({
            "seq": e.seq,
            "recorded_at": e.recorded_at,
            "kind": e.kind,
            "url": e.url,
            "payload": e.payload,
            "prev_hash": hex::encode(&e.prev_hash),
            "entry_hash": hex::encode(&e.entry_hash),
        });
        // A compact entry: its stored bytes (what the hash covers) and the
        // full entry it repeats; `payload` is then its JSON view.
        if let (Some((ref_seq, bytes)), Some(o)) = (&e.compact, line.as_object_mut()) {
            o.insert("ref_seq".into(), json!(ref_seq));
            o.insert(
                "compact".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
        }
        writeln!(out, "{line}")
    })?;
    for h in referenced {
        let bytes = blobs::get(conn, &h)?;
        let line =
            json!({ "blob": h, "data": base64::engine::general_purpose::STANDARD.encode(bytes) });
        writeln!(out, "{line}")?;
    }
    Ok(n)
}

fn field<'a>(v: &'a Value, k: &str, line: usize) -> Result<&'a Value, ExportError> {
    v.get(k)
        .ok_or_else(|| ExportError::Format(format!("line {line}: no `{k}`")))
}

fn str_field(v: &Value, k: &str, line: usize) -> Result<String, ExportError> {
    field(v, k, line)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ExportError::Format(format!("line {line}: `{k}` is not a string")))
}

/// Verifies an exported file: chain, hashes, checkpoint, and blob hashes.
pub fn verify_file(
    input: &mut dyn BufRead,
    checkpoint: Option<&Checkpoint>,
) -> Result<Report, ExportError> {
    let mut report = Report::default();
    let mut prev = ZERO_HASH.to_vec();
    let mut expected = 1i64;
    let mut checkpoint_seen = false;
    // Blob hash -> first entry referencing it; blob lines seen (hash, line).
    let mut referenced: std::collections::BTreeMap<String, i64> = Default::default();
    let mut carried: Vec<(String, usize)> = vec![];
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| ExportError::Format(format!("line {n}: not JSON: {e}")))?;
        if let Some(h) = v.get("blob").and_then(Value::as_str) {
            let data = base64::engine::general_purpose::STANDARD
                .decode(str_field(&v, "data", n)?)
                .map_err(|e| ExportError::Format(format!("line {n}: data is not base64: {e}")))?;
            report.blobs_checked += 1;
            carried.push((h.to_string(), n));
            if blobs::hash_hex(&data) != h && report.first_break.is_none() {
                report.first_break = Some(Break {
                    seq: expected - 1,
                    reason: format!("blob {h} (line {n}) does not match its hash"),
                });
            }
            continue;
        }
        if report.first_break.is_some() {
            continue;
        }
        let hexfield = |k: &str| -> Result<Vec<u8>, ExportError> {
            hex::decode(str_field(&v, k, n)?)
                .map_err(|_| ExportError::Format(format!("line {n}: `{k}` is not hex")))
        };
        let e = Entry {
            seq: field(&v, "seq", n)?
                .as_i64()
                .ok_or_else(|| ExportError::Format(format!("line {n}: bad seq")))?,
            recorded_at: str_field(&v, "recorded_at", n)?,
            kind: str_field(&v, "kind", n)?,
            url: field(&v, "url", n)?.as_str().map(str::to_string),
            payload: str_field(&v, "payload", n)?,
            prev_hash: hexfield("prev_hash")?,
            entry_hash: hexfield("entry_hash")?,
            compact: match v.get("compact").and_then(Value::as_str) {
                None => None,
                Some(b64) => Some((
                    field(&v, "ref_seq", n)?
                        .as_i64()
                        .ok_or_else(|| ExportError::Format(format!("line {n}: bad ref_seq")))?,
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|_| {
                            ExportError::Format(format!("line {n}: `compact` is not base64"))
                        })?,
                )),
            },
            stray_ref_seq: None,
        };
        report.entries += 1;
        let fail = |reason: String| Some(Break { seq: e.seq, reason });
        if e.seq != expected {
            report.first_break = Some(Break {
                seq: expected,
                reason: format!("entry {expected} is missing (line {n} holds {})", e.seq),
            });
        } else if e.prev_hash != prev {
            report.first_break = fail("prev_hash does not match the entry before it".into());
        } else if e.computed_hash().as_slice() != e.entry_hash.as_slice() {
            report.first_break = fail("entry_hash does not match the entry's contents".into());
        } else if e.seq == 1 && e.kind != "genesis" {
            report.first_break = fail("the first entry is not the genesis entry".into());
        } else if let Some(cp) = checkpoint.filter(|c| c.seq == e.seq) {
            checkpoint_seen = true;
            if cp.hash.as_slice() != e.entry_hash.as_slice() {
                report.first_break = fail(format!(
                    "entry {} does not match the checkpoint {cp}",
                    e.seq
                ));
            }
        }
        if report.first_break.is_none() {
            for h in crate::ledger::blobs::referenced_blobs(&e.payload) {
                referenced.entry(h).or_insert(e.seq);
            }
            prev = e.entry_hash.clone();
            report.head = Some(Checkpoint {
                seq: e.seq,
                hash: e.entry_hash.as_slice().try_into().unwrap_or([0; 32]),
            });
            expected += 1;
        }
    }
    if report.first_break.is_none() && !carried.is_empty() {
        let present: BTreeSet<&str> = carried.iter().map(|(h, _)| h.as_str()).collect();
        if let Some((h, seq)) = referenced
            .iter()
            .find(|(h, _)| !present.contains(h.as_str()))
        {
            report.first_break = Some(Break {
                seq: *seq,
                reason: format!(
                    "blob {h}, referenced by entry {seq}, is not in the export (a file with blob lines must carry every referenced blob)"
                ),
            });
        } else if let Some((h, n)) = carried.iter().find(|(h, _)| !referenced.contains_key(h)) {
            report.first_break = Some(Break {
                seq: expected - 1,
                reason: format!("blob {h} (line {n}) is referenced by no entry"),
            });
        }
    }
    if report.first_break.is_none()
        && let Some(cp) = checkpoint
        && !checkpoint_seen
    {
        report.first_break = Some(Break {
            seq: expected,
            reason: format!(
                "the file ends at entry {} before the checkpoint {cp}",
                expected - 1
            ),
        });
    }
    Ok(report)
}

//! Reading a bundle's members back: the WARC's gzip members and records
//! (each block against its digest), and each entry of `evidence/proof.json`
//! against its hash and its inclusion proof.

use std::io::Read;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{GZIP_HEADER, PROOF, Refused, WARC};
use crate::ledger::checkpoints::Body;
use crate::ledger::entry::entry_hash;
use crate::ledger::merkle::{self, Hash};

/// The most bytes the WARC may unpack to: 16 times its own packed size
/// plus 16 MiB (other members, padding included, do not raise it).
pub(super) fn warc_budget(file_len: usize) -> u64 {
    (file_len as u64).saturating_mul(16) + (16 << 20)
}

/// The WARC's gzip members, each unpacked, and where each lies in the file.
/// Unpacked gzip members, and each one's (offset, length) in the file.
pub(super) type Members = (Vec<Vec<u8>>, Vec<(usize, usize)>);

pub(super) fn gzip_members(gz: &[u8], file_len: usize) -> Result<Members, Refused> {
    let mut budget = warc_budget(file_len);
    let mut out = Vec::new();
    let mut places = Vec::new();
    let mut rest = gz;
    while !rest.is_empty() {
        let mut d = flate2::bufread::GzDecoder::new(rest);
        let mut record = Vec::new();
        (&mut d)
            .take(budget + 1)
            .read_to_end(&mut record)
            .map_err(|e| Refused::member(WARC, format!("does not decompress: {e}")))?;
        if record.len() as u64 > budget {
            return Err(Refused::member(
                WARC,
                format!(
                    "unpacks to more than {} bytes (a decompression bomb, or not a bundle)",
                    warc_budget(file_len)
                ),
            ));
        }
        budget -= record.len() as u64;
        let left = d.into_inner().len();
        let used = rest.len() - left;
        if used == 0 {
            return Err(Refused::member(WARC, "a gzip member is empty"));
        }
        // Each member's header is the plain one newsledger writes: no
        // name, comment or extra field (nothing the rebuild would not see).
        if rest.get(..10) != Some(&GZIP_HEADER[..]) {
            return Err(Refused::member(
                WARC,
                format!(
                    "the gzip member at offset {} has a header newsledger does not write (a name, comment or extra field was added)",
                    gz.len() - rest.len()
                ),
            ));
        }
        places.push((gz.len() - rest.len(), used));
        out.push(record);
        rest = rest.get(used..).unwrap_or_default();
    }
    Ok((out, places))
}

/// A WARC record's block, checked against its `WARC-Block-Digest`.
pub(super) fn record_block(record: &[u8]) -> Result<&[u8], Refused> {
    let end = memchr::memmem::find(record, b"\r\n\r\n")
        .ok_or_else(|| Refused::member(WARC, "a record has no header end"))?;
    let head = String::from_utf8_lossy(record.get(..end).unwrap_or_default()).to_string();
    let field = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(": ")
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            })
            .map(|(_, v)| v.trim().to_string())
    };
    let len: usize = field("Content-Length")
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| Refused::member(WARC, "a record has no Content-Length"))?;
    let block = (end + 4)
        .checked_add(len)
        .and_then(|stop| record.get(end + 4..stop))
        .ok_or_else(|| Refused::member(WARC, "a record is cut short"))?;
    if let Some(d) = field("WARC-Block-Digest")
        && d != format!("sha256:{}", hex::encode(Sha256::digest(block)))
    {
        return Err(Refused::member(
            WARC,
            format!(
                "a record's block does not match its WARC-Block-Digest {d} (the capture was altered)"
            ),
        ));
    }
    Ok(block)
}

/// One entry of `proof.json`, checked: its columns hash to its
/// `entry_hash`, and its inclusion proof leads to the signed root.
/// Returns the entry as the bundle is rebuilt from it (known keys only).
pub(super) fn check_entry(e: &Value, body: &Body) -> Result<Value, Refused> {
    let s = |k: &str| e.get(k).and_then(Value::as_str);
    let seq = e
        .get("seq")
        .and_then(Value::as_i64)
        .ok_or_else(|| Refused::member(PROOF, "an entry has no seq"))?;
    if seq < 1 {
        return Err(Refused::entry(seq, "seq starts at 1"));
    }
    // Lower-case hex only: one spelling per hash, as written.
    let lower = |h: &str| h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let h = |k: &str| -> Result<Vec<u8>, Refused> {
        let text = s(k).unwrap_or_default();
        if !lower(text) {
            return Err(Refused::entry(seq, format!("{k} is not lower-case hex")));
        }
        hex::decode(text).map_err(|_| Refused::entry(seq, format!("{k} is not hex")))
    };
    let (prev, claimed) = (h("prev_hash")?, h("entry_hash")?);
    if s("compact").is_none() && e.get("ref_seq").is_some_and(|r| !r.is_null()) {
        return Err(Refused::entry(
            seq,
            "a ref_seq without compact bytes, which no hash covers (the entry was altered)",
        ));
    }
    let computed = match s("compact") {
        // A compact entry: its stored bytes are hashed, and its JSON view
        // must be what they say.
        Some(b64) => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| Refused::entry(seq, "compact is not base64"))?;
            let ref_seq = e
                .get("ref_seq")
                .and_then(Value::as_i64)
                .ok_or_else(|| Refused::entry(seq, "a compact entry without ref_seq"))?;
            let at = s("recorded_at").unwrap_or_default();
            let view = crate::ledger::entry::Compact::decode(&bytes)
                .map(|c| c.view(at, ref_seq))
                .ok_or_else(|| Refused::entry(seq, "its compact bytes do not decode"))?;
            if Some(view.as_str()) != s("payload") || s("url").is_some() {
                return Err(Refused::entry(
                    seq,
                    "its payload is not what its compact bytes record (the entry was altered)",
                ));
            }
            crate::ledger::entry::entry_hash_v2(
                seq,
                at,
                s("kind").unwrap_or_default(),
                ref_seq,
                &bytes,
                &prev,
            )
        }
        None => entry_hash(
            seq,
            s("recorded_at").unwrap_or_default(),
            s("kind").unwrap_or_default(),
            s("url"),
            s("payload").unwrap_or_default(),
            &prev,
        ),
    };
    if computed.as_slice() != claimed {
        return Err(Refused::entry(
            seq,
            "its columns do not hash to its entry_hash (the entry was altered)",
        ));
    }
    let path: Vec<Hash> = e
        .get("inclusion")
        .and_then(Value::as_array)
        .ok_or_else(|| Refused::entry(seq, "no inclusion proof"))?
        .iter()
        .map(|h| {
            h.as_str()
                .filter(|h| lower(h))
                .and_then(|h| hex::decode(h).ok())
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| Refused::entry(seq, "a proof hash is not 32 bytes of hex"))
        })
        .collect::<Result<_, _>>()?;
    merkle::verify_inclusion(&computed, seq as u64 - 1, body.size, &path, &body.root)
        .map_err(|err| Refused::entry(seq, format!("inclusion proof: {err}")))?;
    serde_json::from_str::<Value>(s("payload").unwrap_or_default())
        .map_err(|_| Refused::entry(seq, "payload is not JSON"))?;
    let mut out = json!({
        "seq": seq, "recorded_at": s("recorded_at"), "kind": s("kind"), "url": s("url"),
        "payload": s("payload"), "prev_hash": s("prev_hash"), "entry_hash": s("entry_hash"),
        "inclusion": e.get("inclusion"),
    });
    if let (Some(c), Some(o)) = (s("compact"), out.as_object_mut()) {
        o.insert(
            "ref_seq".into(),
            e.get("ref_seq").cloned().unwrap_or(Value::Null),
        );
        o.insert("compact".into(), json!(c));
    }
    Ok(out)
}

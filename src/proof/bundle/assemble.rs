//! A bundle's members from what the chain binds, and nothing else.
//!
//! The inputs are the entries (each hashed into the signed tree), the
//! blobs they name by hash (texts, captures, requests, certificate chains),
//! the signed checkpoint note with its cosignatures, and the timestamp
//! token over that note. Every other member (the WARC's records, the CDXJ
//! index, `pages.jsonl`, `proof.json`'s article URL and times, `index.html`,
//! `README.txt`, `datapackage.json`) is derived from those here. `build`
//! calls this with inputs read from the ledger; `verify` calls it with
//! inputs read from the bundle (after checking each against its hash) and
//! requires every member to come out the same: a member that says anything
//! its inputs do not is found, whoever re-zipped the file.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{BundleError, FORMAT};
use crate::export::warc;
use crate::proof::tsa;
use crate::x509;

/// The offline page's template (tools/bundle_index.html): its one
/// `{{DATA}}` becomes the bundle's facts as JSON, rendered by its script.
pub const INDEX_TEMPLATE: &str = include_str!("../../../tools/bundle_index.html");
/// What `proof.json`, `datapackage.json` and the WARC name as the software:
/// no version, so that nothing in a bundle is a claim its inputs do not
/// bind (the format is `FORMAT`).
pub const SOFTWARE: &str = "newsledger";
/// The bundle's `README.txt` (tools/bundle_README.txt).
pub const README: &str = include_str!("../../../tools/bundle_README.txt");

/// What a bundle is made from.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub article_url: String,
    pub revision: Option<i64>,
    pub note: String,
    pub cosignatures: Vec<String>,
    /// The RFC 3161 reply over `note`, if the checkpoint was timestamped.
    pub token: Option<Vec<u8>>,
    /// `proof.json`'s entries, in seq order.
    pub entries: Vec<Value>,
    /// Blobs by SHA-256 (hex): texts, captures, requests, certificate chains.
    pub blobs: BTreeMap<String, Vec<u8>>,
}

/// One gzip member of the WARC, uncompressed, and whether it is a response
/// (the CDXJ index points at responses).
pub struct WarcRecord {
    pub bytes: Vec<u8>,
    pub response: Option<CdxFacts>,
}

/// What the index line of a response record says, but its place.
pub struct CdxFacts {
    pub seq: i64,
    pub url: String,
    pub date: String,
    pub status: String,
    pub digest: String,
}

/// The timestamp as the token states it.
pub struct Stamp {
    pub tsa: String,
    pub time: String,
}

/// Parses an entry's payload (`{}` when it is not JSON).
pub fn payload(e: &Value) -> Value {
    e.get("payload")
        .and_then(Value::as_str)
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(Value::Null)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// The time a bundle was made, as far as its inputs say: the newest entry's.
fn created(inputs: &Inputs) -> String {
    inputs
        .entries
        .iter()
        .map(|e| s(e, "recorded_at"))
        .max()
        .unwrap_or_default()
        .to_string()
}

/// What the token says: its time, and its signer's name from the
/// certificate it carries.
pub fn stamp(token: &[u8], note: &str) -> Result<Stamp, BundleError> {
    let stamped = tsa::check_reply(token, note.as_bytes(), None)?;
    let tsa = stamped
        .certificate
        .as_deref()
        .and_then(|c| x509::summary(c).ok())
        .map_or_else(
            || "a TSA whose token carries no certificate".to_string(),
            |c| c.subject,
        );
    Ok(Stamp {
        tsa,
        time: stamped.time.unwrap_or(stamped.gen_time),
    })
}

fn blob<'a>(
    inputs: &'a Inputs,
    h: &str,
    seq: i64,
    what: &'static str,
) -> Result<&'a Vec<u8>, BundleError> {
    inputs.blobs.get(h).ok_or_else(|| BundleError::MissingBlob {
        seq,
        what,
        hash: h.to_string(),
    })
}

/// The WARC's records: warcinfo, then each capture's records in entry order.
pub fn warc_records(inputs: &Inputs) -> Result<Vec<WarcRecord>, BundleError> {
    let mut out = vec![WarcRecord {
        bytes: warc::record(
            &[
                ("WARC-Type", "warcinfo".into()),
                ("WARC-Record-ID", warc::record_id(0, "warcinfo")),
                ("WARC-Date", created(inputs)),
                ("Content-Type", "application/warc-fields".into()),
            ],
            format!(
                "software: {SOFTWARE}\r\nformat: WARC File Format 1.1\r\nisPartOf: {FORMAT}\r\n"
            )
            .as_bytes(),
        ),
        response: None,
    }];
    let mut seen = BTreeSet::new();
    for e in &inputs.entries {
        let p = payload(e);
        let seq = e.get("seq").and_then(Value::as_i64).unwrap_or(0);
        let Some(raw) = p.get("raw_blob").and_then(Value::as_str) else {
            continue;
        };
        if e.get("kind").and_then(Value::as_str) != Some("fetch") || !seen.insert(raw.to_string()) {
            continue;
        }
        let mut get = |h: &str| -> Result<Vec<u8>, crate::export::ExportError> {
            blob(inputs, h, seq, "blob")
                .cloned()
                .map_err(|e| crate::export::ExportError::Format(e.to_string()))
        };
        let Some(blobs) = warc::CaptureBlobs::of(&p, &mut get)? else {
            continue;
        };
        let records = warc::capture_records(seq, &p, &blobs);
        let status = crate::exchange::parse_head(&blobs.raw)
            .map_or("0".to_string(), |h| h.status.to_string());
        for (i, bytes) in records.records.into_iter().enumerate() {
            let response = (i == records.response).then(|| CdxFacts {
                seq,
                url: s(&p, "final_url").to_string(),
                date: warc::warc_date(s(&p, "started_at")),
                status: status.clone(),
                digest: records.payload_sha.clone(),
            });
            out.push(WarcRecord { bytes, response });
        }
    }
    Ok(out)
}

/// The CDXJ index of responses at `places` (offset, length) in the gzip file.
pub fn cdx(records: &[WarcRecord], places: &[(usize, usize)]) -> Vec<u8> {
    let mut lines: Vec<String> = records
        .iter()
        .zip(places)
        .filter_map(|(r, (offset, length))| {
            let f = r.response.as_ref()?;
            let ts14: String = f
                .date
                .chars()
                .filter(char::is_ascii_digit)
                .take(14)
                .collect();
            Some(format!(
                "{} {ts14} {}",
                super::surt(&f.url),
                json!({
                    "url": f.url, "mime": "text/html", "status": f.status,
                    "digest": f.digest, "length": length, "offset": offset,
                    "filename": "data.warc.gz",
                })
            ))
        })
        .collect();
    lines.sort();
    (lines.join("\n") + "\n").into_bytes()
}

/// `pages/pages.jsonl`: one page per response record.
fn pages(records: &[WarcRecord], inputs: &Inputs) -> Vec<u8> {
    let mut lines = vec![
        json!({"format": "json-pages-1.0", "id": "pages", "title": format!("newsledger evidence for {}", inputs.article_url)})
            .to_string(),
    ];
    for r in records {
        if let Some(f) = &r.response {
            lines.push(json!({"id": f.seq.to_string(), "url": f.url, "ts": f.date}).to_string());
        }
    }
    (lines.join("\n") + "\n").into_bytes()
}

/// Escapes what could end a `<script>` element inside JSON text.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The facts `index.html` shows, as JSON (keys sorted).
pub fn page_data(inputs: &Inputs, stamp: Option<&Stamp>) -> Result<Value, BundleError> {
    let body =
        crate::ledger::checkpoints::Body::parse(&crate::note::Note::parse(&inputs.note)?.text)?;
    let mut revisions = Vec::new();
    let mut fetches = Vec::new();
    for e in &inputs.entries {
        let p = payload(e);
        let seq = e.get("seq").and_then(Value::as_i64).unwrap_or(0);
        let compact = e.get("compact").is_some_and(|c| !c.is_null());
        match e.get("kind").and_then(Value::as_str) {
            Some("revision") => {
                let text = blob(inputs, s(&p, "text_blob"), seq, "text blob")?;
                revisions.push(json!({
                    "revision": p.get("revision"), "seq": seq,
                    "recorded_at": s(e, "recorded_at"), "content_hash": p.get("content_hash"),
                    "text": String::from_utf8_lossy(text),
                }));
            }
            Some("fetch") if !compact => {
                let cert = p
                    .get("tls")
                    .and_then(|t| t.get("chain_blob"))
                    .and_then(Value::as_str)
                    .and_then(|h| inputs.blobs.get(h))
                    .and_then(|chain| x509::split_chain(chain).ok()?.first().copied())
                    .and_then(|leaf| x509::summary(leaf).ok());
                fetches.push(json!({
                    "seq": seq, "started_at": p.get("started_at"), "final_url": p.get("final_url"),
                    "status": p.get("status"), "outcome": p.get("outcome"),
                    "peer_ip": p.get("peer_ip"), "peer_port": p.get("peer_port"),
                    "leaf_sha256": p.get("tls").and_then(|t| t.get("leaf_sha256")),
                    "tls_subject": cert.as_ref().map(|c| c.subject.clone()),
                    "tls_issuer": cert.as_ref().map(|c| c.issuer.clone()),
                }));
            }
            _ => {}
        }
    }
    revisions.sort_by_key(|r| r["revision"].as_i64());
    Ok(json!({
        "article_url": inputs.article_url,
        "log": body.origin, "tree_size": body.size, "root": hex::encode(body.root),
        "timestamp": stamp.map(|t| json!({"tsa": t.tsa, "time": t.time})),
        "revisions": revisions, "fetches": fetches,
    }))
}

/// `evidence/proof.json`.
fn proof_json(inputs: &Inputs, stamp: Option<&Stamp>) -> Result<Vec<u8>, BundleError> {
    let timestamp = stamp.map_or(
        Value::Null,
        |t| json!({"tsa": t.tsa, "time": t.time, "path": "evidence/timestamp.tsr"}),
    );
    let proof = json!({
        "format": FORMAT,
        "article_url": inputs.article_url,
        "revision": inputs.revision,
        "software": SOFTWARE,
        "checkpoint": {"note": inputs.note, "cosignatures": inputs.cosignatures},
        "timestamp": timestamp,
        "entries": inputs.entries,
    });
    Ok(serde_json::to_vec_pretty(&proof)?)
}

/// `datapackage.json` over `members` (every other member).
pub fn datapackage(inputs: &Inputs, members: &[(String, Vec<u8>)]) -> Result<Vec<u8>, BundleError> {
    let resources: Vec<Value> = members
        .iter()
        .map(|(path, b)| {
            json!({
                "name": path.rsplit('/').next().unwrap_or(path),
                "path": path,
                "hash": format!("sha256:{}", hex::encode(Sha256::digest(b))),
                "bytes": b.len(),
            })
        })
        .collect();
    serde_json::to_vec_pretty(&json!({
        "profile": "data-package",
        "wacz_version": "1.1.1",
        "title": format!("newsledger evidence for {}", inputs.article_url),
        "software": SOFTWARE,
        "created": created(inputs),
        "mainPageUrl": inputs.article_url,
        "resources": resources,
    }))
    .map_err(BundleError::from)
}

/// Every member but the WARC, the index and `datapackage.json`, in order,
/// given the WARC's records and where they are.
pub fn members_around(
    inputs: &Inputs,
    records: &[WarcRecord],
    warc_gz: Vec<u8>,
    places: &[(usize, usize)],
) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let stamp = inputs
        .token
        .as_deref()
        .map(|t| stamp(t, &inputs.note))
        .transpose()?;
    let mut members = vec![
        ("archive/data.warc.gz".to_string(), warc_gz),
        ("indexes/index.cdx".to_string(), cdx(records, places)),
        ("pages/pages.jsonl".to_string(), pages(records, inputs)),
        (
            "evidence/proof.json".to_string(),
            proof_json(inputs, stamp.as_ref())?,
        ),
    ];
    // Texts and certificate chains, each named by its hash.
    let mut named: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for e in &inputs.entries {
        let p = payload(e);
        let seq = e.get("seq").and_then(Value::as_i64).unwrap_or(0);
        if let Some(t) = p.get("text_blob").and_then(Value::as_str) {
            named.insert(
                format!("evidence/blobs/{t}.json"),
                blob(inputs, t, seq, "text blob")?.clone(),
            );
        }
        if let Some(c) = p
            .get("tls")
            .and_then(|t| t.get("chain_blob"))
            .and_then(Value::as_str)
            .filter(|_| e.get("compact").is_none_or(Value::is_null))
        {
            named.insert(
                format!("evidence/blobs/{c}.der"),
                blob(inputs, c, seq, "certificate chain")?.clone(),
            );
        }
    }
    members.extend(named);
    if let Some(t) = &inputs.token {
        members.push(("evidence/timestamp.tsr".into(), t.clone()));
    }
    let data = page_data(inputs, stamp.as_ref())?.to_string();
    members.push((
        "index.html".into(),
        INDEX_TEMPLATE
            .replacen("{{DATA}}", &script_safe(&data), 1)
            .into_bytes(),
    ));
    members.push(("README.txt".into(), README.as_bytes().to_vec()));
    let dp = datapackage(inputs, &members)?;
    members.push(("datapackage.json".into(), dp));
    Ok(members)
}

/// The whole bundle's members from its inputs.
pub fn members(inputs: &Inputs) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let records = warc_records(inputs)?;
    let mut gz = Vec::new();
    let mut places = Vec::new();
    for r in &records {
        let member = warc::gzip(&r.bytes)?;
        places.push((gz.len(), member.len()));
        gz.extend(member);
    }
    members_around(inputs, &records, gz, &places)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// The page's Content-Security-Policy lets only its own script run, by
    /// hash: an edit to the script without a new hash would leave the page
    /// blank, and this says so.
    #[test]
    fn the_page_template_allows_its_own_script_and_holds_one_marker() {
        assert_eq!(INDEX_TEMPLATE.matches("{{DATA}}").count(), 1);
        let start = INDEX_TEMPLATE.rfind("<script>").unwrap() + "<script>".len();
        let end = start + INDEX_TEMPLATE[start..].find("</script>").unwrap();
        let script = &INDEX_TEMPLATE[start..end];
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script));
        assert!(
            INDEX_TEMPLATE.contains(&format!("'sha256-{hash}'")),
            "tools/bundle_index.html: the CSP's script-src must name 'sha256-{hash}'"
        );
        assert!(!INDEX_TEMPLATE.contains('\r') && !README.contains('\r'));
    }

    #[test]
    fn data_cannot_end_the_script_element() {
        let safe = script_safe(&json!({"t": "</script><script>alert(1)</script>&"}).to_string());
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["t"], "</script><script>alert(1)</script>&");
    }
}

//! Checking a bundle without the ledger, and saying what it proves to
//! someone who is not a cryptographer.
//!
//! Order of the checks: the container (any ZIP layout is read; whether it
//! is the canonical one is reported, not failed), the checkpoint's
//! signature, cosignatures, the timestamp token, each entry's hash and
//! inclusion proof, each blob against the hash an entry names it by; then
//! every member is rebuilt from those ([`super::assemble`]) and must be
//! what the bundle holds.
//!
//! The result speaks in three parts: a summary in plain words, what was
//! NOT CHECKED (and why), and the details. Its exit code
//! ([`Verdict::exit_code`]) tells "verified" (0) from "verified except what
//! is listed" (4) and "contents verified, container re-packed" (5).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::assemble::{self, Inputs};
use super::{BundleError, FORMAT};
use crate::ledger::checkpoints::Body;
use crate::note::{Note, NoteVerifier};

mod members;
mod summary;

use members::{check_entry, gzip_members, record_block};
use summary::summarize;

/// Keys to check a bundle with.
pub struct Trust<'a> {
    pub log_key: &'a NoteVerifier,
    pub witnesses: &'a [NoteVerifier],
    /// The TSA's CA certificate (PEM): the token is checked with `openssl ts -verify`.
    pub tsa_ca: Option<&'a Path>,
}

/// What a bundle that verified proves.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// In plain words, for an editor: the page, when and from where, who
    /// signed, timestamped and cosigned.
    pub summary: Vec<String>,
    /// What could not be checked, each with what would check it.
    pub not_checked: Vec<String>,
    /// Entry by entry, for an expert.
    pub details: Vec<String>,
    /// The ZIP container is not the canonical layout (another tool re-packed
    /// it); every member's contents verified.
    pub repacked: bool,
}

impl Verdict {
    /// 0: verified, everything checked; 4: verified except what
    /// `not_checked` lists; 5: the container was re-packed (contents
    /// verified; `not_checked` may list more).
    pub fn exit_code(&self) -> u8 {
        if self.repacked {
            5
        } else if !self.not_checked.is_empty() {
            4
        } else {
            0
        }
    }
}

/// The header of every gzip member newsledger writes: deflate, no flags, no
/// time, default level, unknown OS (what `flate2`'s encoder writes; a test
/// holds it to that).
pub(crate) const GZIP_HEADER: [u8; 10] =
    [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff];

/// The members checked by name.
pub(super) const WARC: &str = "archive/data.warc.gz";
pub(super) const PROOF: &str = "evidence/proof.json";

/// Why a bundle is refused: what failed, and where in it.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The container: not a ZIP file this reader accepts.
    #[error(transparent)]
    Container(#[from] crate::proof::zip::ZipError),
    #[error("the bundle has no {0}")]
    Missing(String),
    /// A member whose contents are wrong.
    #[error("{member}: {what}")]
    Member { member: String, what: String },
    /// An entry of `evidence/proof.json`.
    #[error("entry {seq}: {what}")]
    Entry { seq: i64, what: String },
    /// The checkpoint note, its signature or its body.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A witness the user trusts (`--witness-key`).
    #[error("witness {witness}: {what}")]
    Witness { witness: String, what: String },
    /// The timestamp token, checked with openssl.
    #[error("timestamp: {0}")]
    Timestamp(String),
    /// A member could not be rebuilt from the checked inputs.
    #[error("{0}")]
    Rebuild(#[from] BundleError),
}

impl Refused {
    pub(super) fn member(member: &str, what: impl Into<String>) -> Refused {
        Refused::Member {
            member: member.to_string(),
            what: what.into(),
        }
    }

    pub(super) fn entry(seq: i64, what: impl Into<String>) -> Refused {
        Refused::Entry {
            seq,
            what: what.into(),
        }
    }
}

/// Checks a bundle; the verdict says what it proves, an error what failed.
pub fn verify(bytes: &[u8], trust: &Trust<'_>) -> Result<Verdict, Refused> {
    let mut v = Verdict::default();
    let members = crate::proof::zip::read(bytes)?;
    let held: BTreeMap<&str, &Vec<u8>> = members.iter().map(|(n, b)| (n.as_str(), b)).collect();
    let file = |name: &str| -> Result<&Vec<u8>, Refused> {
        held.get(name)
            .copied()
            .ok_or_else(|| Refused::Missing(name.to_string()))
    };
    // 1. The checkpoint is signed by the log key.
    let proof: Value = serde_json::from_slice(file("evidence/proof.json")?)
        .map_err(|e| Refused::member(PROOF, format!("is not JSON: {e}")))?;
    if proof.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(Refused::member(
            PROOF,
            format!("is not {FORMAT} (made by another version of newsledger?)"),
        ));
    }
    let cp = proof
        .get("checkpoint")
        .ok_or_else(|| Refused::member(PROOF, "holds no checkpoint"))?;
    let note_text = cp
        .get("note")
        .and_then(Value::as_str)
        .ok_or_else(|| Refused::Checkpoint("it has no note".into()))?;
    let note = Note::parse(note_text).map_err(|e| Refused::Checkpoint(e.to_string()))?;
    note.verify(trust.log_key)
        .map_err(|e| Refused::Checkpoint(format!("signature: {e}")))?;
    // The note as the log signed it carries the log's signature only
    // (cosignatures travel apart): another line would be a signature that
    // nobody checks, shown as part of the proof.
    if let Some(other) = note
        .sigs
        .iter()
        .find(|s| s.name != trust.log_key.name || s.id != trust.log_key.id())
    {
        return Err(Refused::Checkpoint(format!(
            "the note carries a signature line by {} that is not the log's (the note was altered)",
            other.name
        )));
    }
    let body = Body::parse(&note.text).map_err(|e| Refused::Checkpoint(e.to_string()))?;
    v.details.push(format!(
        "checkpoint: log {} of size {} with root {}, signed by {}",
        body.origin,
        body.size,
        hex::encode(body.root),
        trust.log_key
    ));
    // 2. Cosignatures from the witnesses the user trusts.
    let cosigs: Vec<String> = cp
        .get("cosignatures")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let mut cosigned = Vec::new();
    for w in trust.witnesses {
        if !w.is_cosigner() {
            return Err(Refused::Witness {
                witness: w.to_string(),
                what: "a log's key (type 0x01), not a witness's cosigning key (type 0x04)".into(),
            });
        }
        if cosigs.is_empty() {
            return Err(Refused::Witness {
                witness: w.name.clone(),
                what: "the checkpoint carries no cosignature, so none by this witness".into(),
            });
        }
        let with = Note::parse(&format!("{note_text}{}\n", cosigs.join("\n")))
            .map_err(|e| Refused::Checkpoint(format!("its cosignatures: {e}")))?;
        let time = with.verify(w).map_err(|e| Refused::Witness {
            witness: w.name.clone(),
            what: format!("cosignature: {e}"),
        })?;
        let at = time
            .and_then(|t| chrono::DateTime::from_timestamp(t as i64, 0))
            .map_or("?".into(), |t| {
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            });
        v.details
            .push(format!("cosigned by witness {} at {at}", w.name));
        cosigned.push(format!("{} (at {at})", w.name));
    }
    if trust.witnesses.is_empty() && !cosigs.is_empty() {
        v.not_checked.push(format!(
            "{} witness cosignature(s): pass --witness-key VKEY for each witness you rely on",
            cosigs.len()
        ));
    }
    // 3. The timestamp token stamps this note.
    let token = held.get("evidence/timestamp.tsr").map(|t| t.to_vec());
    let stamp = token
        .as_deref()
        .map(|t| assemble::stamp(t, note_text))
        .transpose()?;
    match (&stamp, &token, trust.tsa_ca) {
        (Some(s), Some(t), Some(ca)) => {
            openssl_ts_verify(t, note_text.as_bytes(), ca)?;
            v.details.push(format!(
                "timestamped by {} at {} (token signature and certificate checked by openssl against {})",
                s.tsa,
                s.time,
                ca.display()
            ));
        }
        (Some(s), _, None) => {
            v.details.push(format!(
                "timestamp token by {} at {} stamps this checkpoint",
                s.tsa, s.time
            ));
            v.not_checked.push(format!(
                "the timestamp's signature (the token names {} and {}): pass --tsa-ca TSA-CA.pem",
                s.tsa, s.time
            ));
        }
        _ => v.not_checked.push(
            "no timestamp: nothing independent of the log's operator says when the checkpoint was signed"
                .into(),
        ),
    }
    // 4. Each entry hashes to its leaf, and the leaf is in the signed tree.
    let listed = proof
        .get("entries")
        .and_then(Value::as_array)
        .ok_or_else(|| Refused::member(PROOF, "holds no entries"))?;
    let mut entries: Vec<Value> = Vec::new();
    for e in listed {
        let e = check_entry(e, &body)?;
        let (seq, last) = (
            at(&e, "seq").as_i64(),
            entries.last().map(|l| at(l, "seq").as_i64()),
        );
        if let Some(last) = last
            && seq <= last
        {
            return Err(Refused::member(
                PROOF,
                format!(
                    "entry {} follows entry {} (entries must be in increasing seq order, each once)",
                    seq.unwrap_or(0),
                    last.unwrap_or(0)
                ),
            ));
        }
        entries.push(e);
    }
    // 5. The blobs, each found by the hash an entry names it by: texts and
    // chains as members, captures and requests as WARC blocks.
    let warc_gz = file("archive/data.warc.gz")?;
    let (records, places) = gzip_members(warc_gz, warc_gz.len())?;
    let mut blobs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for r in &records {
        let block = record_block(r)?;
        blobs.insert(hex::encode(Sha256::digest(block)), block.to_vec());
    }
    for (name, b) in &held {
        let hash = name
            .strip_prefix("evidence/blobs/")
            .and_then(|n| n.strip_suffix(".json").or_else(|| n.strip_suffix(".der")));
        if let Some(h) = hash {
            if hex::encode(Sha256::digest(b)) != h {
                return Err(Refused::member(
                    name,
                    "its SHA-256 is not its name (the file was altered)",
                ));
            }
            blobs.insert(h.to_string(), b.to_vec());
        }
    }
    for e in &entries {
        let seq = e["seq"].as_i64().unwrap_or(0);
        let p = assemble::payload(e);
        for h in crate::ledger::blobs::referenced_blobs(&p.to_string()) {
            if !blobs.contains_key(&h) {
                return Err(Refused::entry(
                    seq,
                    format!("the blob {h} it names is not in the bundle with that SHA-256"),
                ));
            }
        }
    }
    // Each compact entry repeats a full fetch entry of this bundle: nothing
    // else ties an entry without a URL to the article.
    for e in &entries {
        if let Some(r) = at(e, "ref_seq").as_i64()
            && !entries.iter().any(|f| {
                at(f, "seq").as_i64() == Some(r)
                    && at(f, "kind") == "fetch"
                    && at(f, "compact").is_null()
            })
        {
            return Err(Refused::entry(
                at(e, "seq").as_i64().unwrap_or(0),
                format!("it repeats entry {r}, which is not a full fetch entry of this bundle"),
            ));
        }
    }
    // 6. What the entries are about: one article, and the revision claimed.
    let urls: std::collections::BTreeSet<&str> =
        entries.iter().filter_map(|e| e["url"].as_str()).collect();
    let article_url = match urls.into_iter().collect::<Vec<_>>().as_slice() {
        [one] => one.to_string(),
        [] => return Err(Refused::member(PROOF, "no entry names the article's URL")),
        many => {
            return Err(Refused::member(
                PROOF,
                format!("entries of more than one URL ({})", many.join(", ")),
            ));
        }
    };
    let revision = proof.get("revision").and_then(Value::as_i64);
    let revisions: Vec<i64> = entries
        .iter()
        .filter(|e| e["kind"] == "revision")
        .filter_map(|e| at(&assemble::payload(e), "revision").as_i64())
        .collect();
    if let Some(n) = revision
        && revisions != [n]
    {
        return Err(Refused::member(
            PROOF,
            format!("claims revision {n}, but its entries record {revisions:?}"),
        ));
    }
    // 7. Every member is what the checked inputs make of it.
    let inputs = Inputs {
        article_url: article_url.clone(),
        revision,
        note: note_text.to_string(),
        cosignatures: cosigs.clone(),
        token,
        entries,
        blobs,
    };
    let expected_records = assemble::warc_records(&inputs)?;
    if expected_records.len() != records.len()
        || expected_records
            .iter()
            .zip(&records)
            .any(|(a, b)| a.bytes != *b)
    {
        return Err(Refused::member(
            WARC,
            "its records are not the captures its entries name (a record was altered, added or removed)",
        ));
    }
    let gz = file("archive/data.warc.gz")?.to_vec();
    let expected = assemble::members_around(&inputs, &expected_records, gz, &places)?;
    for (name, want) in &expected {
        match held.get(name.as_str()) {
            None => return Err(Refused::Missing(name.clone())),
            Some(got) if *got != want => {
                return Err(Refused::member(
                    name,
                    "is not what the signed entries and their blobs make of it (the member was altered)",
                ));
            }
            Some(_) => {}
        }
    }
    if let Some((extra, _)) = members
        .iter()
        .find(|(n, _)| !expected.iter().any(|(e, _)| e == n))
    {
        return Err(Refused::member(
            extra,
            "is not part of a bundle (a member was added)",
        ));
    }
    // The container is newsledger's own when it is byte for byte the
    // canonical file of the rebuilt members, in their order.
    v.repacked = crate::proof::zip::write(&expected) != bytes;
    // 8. What that proves, in plain words first.
    summarize(&mut v, &inputs, &body, stamp.as_ref(), &cosigned, trust);
    Ok(v)
}

/// `v[k]`, or null.
pub(super) fn at<'a>(v: &'a Value, k: &str) -> &'a Value {
    v.get(k).unwrap_or(&Value::Null)
}

/// Checks an RFC 3161 reply's signature and certificate with openssl, the
/// files in a new directory of this process's own (tempfile: an
/// unpredictable name, created, 0700; removed after).
fn openssl_ts_verify(tsr: &[u8], data: &[u8], ca: &Path) -> Result<(), Refused> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("newsledger-ts-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let tmp = builder
        .tempdir()
        .map_err(|e| Refused::Timestamp(format!("cannot create a temporary directory: {e}")))?;
    let dir = tmp.path();
    let (t, d) = (dir.join("token.tsr"), dir.join("data"));
    let written = std::fs::write(&t, tsr).and_then(|_| std::fs::write(&d, data));
    let out = written
        .map_err(|e| Refused::Timestamp(format!("cannot write its files: {e}")))
        .and_then(|_| {
            std::process::Command::new("openssl")
                .args(["ts", "-verify", "-in"])
                .arg(&t)
                .arg("-data")
                .arg(&d)
                .arg("-CAfile")
                .arg(ca)
                .output()
                .map_err(|e| Refused::Timestamp(format!("cannot run openssl: {e}")))
        });
    drop(tmp);
    let out = out?;
    if !out.status.success() {
        return Err(Refused::Timestamp(format!(
            "openssl ts -verify failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .find(|l| !l.trim().is_empty() && !l.starts_with("Using configuration"))
                .unwrap_or("no reason given")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_gzip_header_is_the_one_the_encoder_writes() {
        let gz = crate::export::warc::gzip(b"WARC/1.1\r\n").unwrap();
        assert_eq!(gz.get(..10), Some(&super::GZIP_HEADER[..]));
    }
}

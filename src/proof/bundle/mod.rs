//! Evidence bundles: one self-contained file for one article revision (or
//! its whole history) that an outsider verifies without newsledger.
//!
//! The file is a WACZ 1.1.1 package (a ZIP, see [`super::zip`]) so that
//! replay tools open the captures:
//!
//! - `archive/data.warc.gz`: the raw responses (WARC 1.1 `response`
//!   records, one gzip member each; `WARC-Block-Digest` is the capture's
//!   blob key, `WARC-Newsledger-Seq` the entry that recorded it);
//! - `indexes/index.cdx` (CDXJ) and `pages/pages.jsonl`;
//! - `evidence/proof.json`: the entries, their inclusion proofs, the signed
//!   checkpoint and cosignatures (format below);
//! - `evidence/blobs/<sha256>.json`: each revision's stored text and
//!   metadata, byte for byte as hashed in its entry;
//! - `evidence/timestamp.tsr`: the RFC 3161 reply over the checkpoint
//!   note, when the checkpoint was timestamped;
//! - `datapackage.json`: every other member with its SHA-256 and size.
//!
//! `evidence/proof.json` (format `newsledger-evidence/1`): `article_url`,
//! `revision` (null for the whole history), `checkpoint` {`note` (as
//! signed by the log), `cosignatures` (signature lines), `seq`},
//! `timestamp` ({`tsa`, `time`, `path`} or null), and `entries`: each
//! entry's columns (`seq`, `recorded_at`, `kind`, `url`, `payload`,
//! `prev_hash`, `entry_hash`, hashes in hex) with `inclusion`, the RFC 9162
//! inclusion proof (hex hashes, leaf side first) of leaf `seq - 1` in the
//! checkpoint's tree.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use serde_json::{Value, json};

pub mod assemble;
mod verify;

pub use verify::{Trust, Verdict, verify};

use crate::ledger::checkpoints;
use crate::ledger::entry::Entry;
use crate::ledger::merkle;
use crate::ledger::{blobs, read};

pub const FORMAT: &str = "newsledger-evidence/2";

/// What went into a bundle.
#[derive(Debug, Clone)]
pub struct Built {
    pub bytes: Vec<u8>,
    pub entries: usize,
    pub captures: usize,
    pub tree_size: u64,
    pub timestamped: bool,
}

fn hex32(h: &[u8]) -> String {
    hex::encode(h)
}

/// Why a bundle could not be made (by `prove`) or its members rebuilt (by
/// the verifier, from the inputs a bundle carries).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    #[error("reading the ledger: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{url} has no revision {revision} (it has {have})")]
    NoRevision {
        url: String,
        revision: i64,
        have: String,
    },
    #[error("the ledger has no entry for {0}")]
    NoEntry(String),
    #[error("entry {0} does not verify: run `newsledger verify`")]
    EntryBroken(i64),
    #[error(
        "no signed checkpoint covers entry {0} yet: configure a [checkpoint] key and let a cycle run (the daemon signs one after every cycle that appended)"
    )]
    NoCheckpoint(i64),
    #[error(
        "the ledger's entries do not give the root signed at entry {0}: run `newsledger verify`"
    )]
    RootDiffers(i64),
    #[error(
        "entry {seq} is not in the tree the checkpoint signs ({reason}): run `newsledger verify`"
    )]
    NotIncluded { seq: i64, reason: String },
    #[error("entry {seq}: its {what} {hash} is not in the bundle")]
    MissingBlob {
        seq: i64,
        what: &'static str,
        hash: String,
    },
    #[error("evidence/timestamp.tsr: {0}")]
    Timestamp(#[from] crate::proof::tsa::ReplyError),
    #[error("checkpoint: {0}")]
    Note(#[from] crate::note::NoteError),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] crate::ledger::checkpoints::BodyError),
    #[error("a capture: {0}")]
    Capture(#[from] crate::export::ExportError),
    #[error("encoding a member: {0}")]
    Json(#[from] serde_json::Error),
    #[error("compressing a record: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the bundle for `url` (normalized), one revision or all.
pub fn build(conn: &Connection, url: &str, revision: Option<i64>) -> Result<Built, BundleError> {
    let record = read::article(conn, url)?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM ledger WHERE url = ?1 ORDER BY seq",
        Entry::columns(conn)
    ))?;
    let mut all: Vec<Entry> = stmt
        .query_map([url], Entry::from_row)
        .and_then(|r| r.collect())?;
    // The not-modified and unchanged fetches kept as compact entries (no
    // URL: each names the full fetch entry it repeats). Every observation
    // `history` counts is in the bundle.
    if Entry::columns(conn).ends_with("ref_seq") {
        let mut compact = conn.prepare(&format!(
            "SELECT {} FROM ledger WHERE ref_seq IN
                   (SELECT seq FROM ledger WHERE url = ?1 AND kind = 'fetch') ORDER BY seq",
            Entry::columns(conn)
        ))?;
        let repeats: Vec<Entry> = compact
            .query_map([url], Entry::from_row)
            .and_then(|r| r.collect())?;
        all.extend(repeats);
        all.sort_by_key(|e| e.seq);
    }
    let payload = |e: &Entry| serde_json::from_str::<Value>(&e.payload).unwrap_or(Value::Null);
    let entries: Vec<Entry> = match revision {
        None => all,
        Some(n) => {
            let content = all
                .iter()
                .filter(|e| e.kind == "revision")
                .map(payload)
                .find(|p| p.get("revision").and_then(Value::as_i64) == Some(n))
                .and_then(|p| {
                    p.get("content_hash")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .ok_or_else(|| BundleError::NoRevision {
                    url: url.to_string(),
                    revision: n,
                    have: record.last().map_or("none".into(), |l| format!("1 to {l}")),
                })?;
            let mut kept: BTreeSet<i64> = BTreeSet::new();
            all.into_iter()
                .filter(|e| {
                    let p = payload(e);
                    let same = p.get("content_hash").and_then(Value::as_str) == Some(&content);
                    let keep = match (e.kind.as_str(), &e.compact) {
                        ("revision", _) => p.get("revision").and_then(Value::as_i64) == Some(n),
                        // A repeat of a fetch that served this text.
                        ("fetch", Some((ref_seq, _))) => kept.contains(ref_seq),
                        ("fetch", None) => same,
                        _ => false,
                    };
                    if keep {
                        kept.insert(e.seq);
                    }
                    keep
                })
                .collect()
        }
    };
    let last = entries
        .iter()
        .map(|e| e.seq)
        .max()
        .ok_or_else(|| BundleError::NoEntry(url.to_string()))?;
    for e in &entries {
        if e.computed_hash().as_slice() != e.entry_hash {
            return Err(BundleError::EntryBroken(e.seq));
        }
    }
    let (cp, ts) = checkpoints::covering(conn, last)?.ok_or(BundleError::NoCheckpoint(last))?;
    let size = cp.body.size;
    let mut proofs = Proofs::new(conn, size, cp.body.root, cp.seq)?;
    let cosignatures = checkpoints::cosignatures_of(conn, cp.seq)?;

    let mut blobs_by_hash: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut json_entries = Vec::new();
    for e in &entries {
        for h in crate::ledger::blobs::referenced_blobs(&e.payload) {
            if !blobs_by_hash.contains_key(&h) {
                blobs_by_hash.insert(h.clone(), blobs::get(conn, &h)?);
            }
        }
        let inclusion = proofs.inclusion(conn, e)?;
        let mut entry = json!({
            "seq": e.seq, "recorded_at": e.recorded_at, "kind": e.kind, "url": e.url,
            "payload": e.payload, "prev_hash": hex32(&e.prev_hash), "entry_hash": hex32(&e.entry_hash),
            "inclusion": inclusion.iter().map(|h| hex32(h)).collect::<Vec<_>>(),
        });
        // A compact entry, as `export --format jsonl` writes it: its stored
        // bytes (what the hash covers) and the entry it repeats; `payload`
        // is their JSON view.
        if let (Some((ref_seq, bytes)), Some(o)) = (&e.compact, entry.as_object_mut()) {
            use base64::Engine;
            o.insert("ref_seq".into(), json!(ref_seq));
            o.insert(
                "compact".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
        }
        json_entries.push(entry);
    }
    let token = match &ts {
        Some(t) => Some(blobs::get(conn, &t.token_blob)?),
        None => None,
    };
    let inputs = assemble::Inputs {
        article_url: url.to_string(),
        revision,
        note: cp.note.clone(),
        cosignatures,
        token,
        entries: json_entries,
        blobs: blobs_by_hash,
    };
    let members = assemble::members(&inputs)?;
    let captures = assemble::warc_records(&inputs)?
        .iter()
        .filter(|r| r.response.is_some())
        .count();
    Ok(Built {
        bytes: super::zip::write(&members),
        entries: entries.len(),
        captures,
        tree_size: size,
        timestamped: ts.is_some(),
    })
}

/// Where a bundle's inclusion proofs come from: the stored tree nodes
/// (`merkle_nodes`) while they give the signed root and proofs that verify
/// against it; otherwise the tree computed from the chain's own entry
/// hashes, so that a damaged derived table cannot change or stop a bundle
/// (it is logged, and `verify` names it).
struct Proofs {
    cp_seq: i64,
    size: u64,
    root: merkle::Hash,
    computed: Option<merkle::Computed>,
}

impl Proofs {
    fn new(
        conn: &Connection,
        size: u64,
        root: merkle::Hash,
        cp_seq: i64,
    ) -> Result<Proofs, BundleError> {
        let mut p = Proofs {
            cp_seq,
            size,
            root,
            computed: None,
        };
        if checkpoints::root(conn, size).ok() != Some(root) {
            p.compute(conn)?;
        }
        Ok(p)
    }

    fn compute(&mut self, conn: &Connection) -> Result<(), BundleError> {
        let cp_seq = self.cp_seq;
        tracing::warn!(
            "the stored Merkle tree (table merkle_nodes) disagrees with the signed checkpoint at entry {cp_seq}: proofs computed from the chain's entries; run `newsledger verify`, then `newsledger rebuild`"
        );
        let leaves = merkle::store::entry_hashes(conn, Some(self.size))?;
        let mut tree = merkle::Computed::new(leaves);
        let root = merkle::root(&mut tree, self.size).unwrap_or_else(|e| match e {});
        if root != self.root {
            return Err(BundleError::RootDiffers(cp_seq));
        }
        self.computed = Some(tree);
        Ok(())
    }

    /// The inclusion proof of `e`, checked against the signed root.
    fn inclusion(
        &mut self,
        conn: &Connection,
        e: &Entry,
    ) -> Result<Vec<merkle::Hash>, BundleError> {
        let leaf: merkle::Hash = e.entry_hash.as_slice().try_into().unwrap_or([0; 32]);
        let index = e.seq as u64 - 1;
        if self.computed.is_none() {
            let stored = checkpoints::inclusion(conn, e.seq, self.size)?;
            if merkle::verify_inclusion(&leaf, index, self.size, &stored, &self.root).is_ok() {
                return Ok(stored);
            }
            self.compute(conn)?;
        }
        let Some(tree) = self.computed.as_mut() else {
            return Err(BundleError::RootDiffers(self.cp_seq));
        };
        let proof = merkle::inclusion_proof(tree, index, self.size).unwrap_or_else(|e| match e {});
        merkle::verify_inclusion(&leaf, index, self.size, &proof, &self.root).map_err(|err| {
            BundleError::NotIncluded {
                seq: e.seq,
                reason: err.to_string(),
            }
        })?;
        Ok(proof)
    }
}

/// A SURT key for the CDXJ index (host labels reversed, `)` before the path).
fn surt(u: &str) -> String {
    let Ok(p) = url::Url::parse(u) else {
        return u.to_string();
    };
    let host = p.host_str().unwrap_or_default().to_ascii_lowercase();
    // Labels reversed for names and IPv4 addresses alike, as cdxj-indexer
    // (Python's `surt`) writes them.
    let host = if p
        .host()
        .is_some_and(|h| matches!(h, url::Host::Domain(_) | url::Host::Ipv4(_)))
    {
        host.split('.').rev().collect::<Vec<_>>().join(",")
    } else {
        host
    };
    let port = p.port().map(|x| format!(":{x}")).unwrap_or_default();
    let query = p.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("{host}{port}){}{query}", p.path())
}

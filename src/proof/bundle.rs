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
use std::io::Read;
use std::path::Path;

use rusqlite::Connection;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::checkpoint::Body;
use super::log;
use super::note::{Note, NoteVerifier};
use crate::export::warc;
use crate::ledger::entry::{Entry, entry_hash};
use crate::ledger::merkle::{self, Hash};
use crate::ledger::{blobs, read};

pub const FORMAT: &str = "newsledger-evidence/1";

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

/// Builds the bundle for `url` (normalized), one revision or all.
pub fn build(conn: &Connection, url: &str, revision: Option<i64>) -> Result<Built, String> {
    let record = read::article(conn, url).map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {} FROM ledger WHERE url = ?1 ORDER BY seq",
            Entry::columns(conn)
        ))
        .map_err(|e| e.to_string())?;
    let mut all: Vec<Entry> = stmt
        .query_map([url], Entry::from_row)
        .and_then(|r| r.collect())
        .map_err(|e| e.to_string())?;
    // The not-modified and unchanged fetches kept as compact entries (no
    // URL: each names the full fetch entry it repeats). Every observation
    // `history` counts is in the bundle.
    if Entry::columns(conn).ends_with("ref_seq") {
        let mut compact = conn
            .prepare(&format!(
                "SELECT {} FROM ledger WHERE ref_seq IN
                   (SELECT seq FROM ledger WHERE url = ?1 AND kind = 'fetch') ORDER BY seq",
                Entry::columns(conn)
            ))
            .map_err(|e| e.to_string())?;
        let repeats: Vec<Entry> = compact
            .query_map([url], Entry::from_row)
            .and_then(|r| r.collect())
            .map_err(|e| e.to_string())?;
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
                .ok_or_else(|| {
                    format!(
                        "{url} has no revision {n} (it has {})",
                        record.last().map_or("none".into(), |l| format!("1 to {l}"))
                    )
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
        .ok_or_else(|| format!("the ledger has no entry for {url}"))?;
    for e in &entries {
        if e.computed_hash().as_slice() != e.entry_hash {
            return Err(format!(
                "entry {} does not verify: run `newsledger verify`",
                e.seq
            ));
        }
    }
    let (cp, ts) = log::covering(conn, last)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "no signed checkpoint covers entry {last} yet: configure a [checkpoint] key and let a cycle run (the daemon signs one after every cycle that appended)"
            )
        })?;
    let size = cp.body.size;
    let mut proofs = Proofs::new(conn, size, cp.body.root, cp.seq)?;
    let cosignatures = log::cosignatures_of(conn, cp.seq).map_err(|e| e.to_string())?;

    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    let mut warc_bytes: Vec<u8> = Vec::new();
    let mut cdx: Vec<String> = Vec::new();
    let mut pages = vec![
        json!({"format": "json-pages-1.0", "id": "pages", "title": "newsledger evidence"})
            .to_string(),
    ];
    let mut seen_raw = BTreeSet::new();
    let mut texts: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut json_entries = Vec::new();
    let mut captures = 0;
    warc::write_record(
        &mut warc_bytes,
        &[
            ("WARC-Type", "warcinfo".into()),
            ("WARC-Record-ID", warc::record_id(0, "warcinfo")),
            ("WARC-Date", cp.recorded_at.clone()),
            ("Content-Type", "application/warc-fields".into()),
        ],
        format!(
            "software: newsledger {}\r\nformat: WARC File Format 1.1\r\nisPartOf: {FORMAT}\r\n",
            env!("CARGO_PKG_VERSION")
        )
        .as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    for e in &entries {
        let p = payload(e);
        if let Some(text) = p.get("text_blob").and_then(Value::as_str)
            && !texts.contains_key(text)
        {
            texts.insert(
                text.to_string(),
                blobs::get(conn, text).map_err(|e| e.to_string())?,
            );
        }
        if let Some(raw) = p.get("raw_blob").and_then(Value::as_str)
            && seen_raw.insert(raw.to_string())
        {
            let bytes = blobs::get(conn, raw).map_err(|e| e.to_string())?;
            // The fetch entry that recorded the capture has its URL and time.
            let fetch = if e.kind == "fetch" {
                Some(p.clone())
            } else {
                let fseq = p.get("fetch_seq").and_then(Value::as_i64);
                entries.iter().find(|f| Some(f.seq) == fseq).map(payload)
            };
            let s = |k: &str| {
                fetch
                    .as_ref()
                    .and_then(|f| f.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let target = Some(s("final_url"))
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| url.to_string());
            let date = warc::warc_date(&s("started_at"));
            let offset = warc_bytes.len();
            warc::write_record(
                &mut warc_bytes,
                &[
                    ("WARC-Type", "response".into()),
                    ("WARC-Record-ID", warc::record_id(e.seq, "response")),
                    ("WARC-Date", date.clone()),
                    ("WARC-Target-URI", target.clone()),
                    ("WARC-Block-Digest", format!("sha256:{raw}")),
                    ("WARC-Newsledger-Seq", e.seq.to_string()),
                    ("Content-Type", "application/http; msgtype=response".into()),
                ],
                &bytes,
            )
            .map_err(|e| e.to_string())?;
            let ts14: String = date.chars().filter(char::is_ascii_digit).take(14).collect();
            let status = std::str::from_utf8(bytes.get(..64).unwrap_or(&bytes))
                .ok()
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("200")
                .to_string();
            cdx.push(format!(
                "{} {ts14} {}",
                surt(&target),
                json!({
                    "url": target, "mime": "text/html", "status": status,
                    "digest": format!("sha256:{raw}"),
                    "length": warc_bytes.len() - offset, "offset": offset,
                    "filename": "data.warc.gz",
                })
            ));
            pages.push(json!({"id": e.seq.to_string(), "url": target, "ts": date}).to_string());
            captures += 1;
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
    cdx.sort();
    let mut timestamp = Value::Null;
    let mut tsr = None;
    if let Some(t) = &ts {
        tsr = Some(blobs::get(conn, &t.token_blob).map_err(|e| e.to_string())?);
        timestamp = json!({"tsa": t.tsa, "time": t.time, "path": "evidence/timestamp.tsr"});
    }
    let proof = json!({
        "format": FORMAT,
        "article_url": url,
        "revision": revision,
        "software": format!("newsledger {}", env!("CARGO_PKG_VERSION")),
        "checkpoint": {"note": cp.note, "cosignatures": cosignatures, "seq": cp.seq},
        "timestamp": timestamp,
        "entries": json_entries,
    });
    members.push(("archive/data.warc.gz".into(), warc_bytes));
    members.push((
        "indexes/index.cdx".into(),
        (cdx.join("\n") + "\n").into_bytes(),
    ));
    members.push((
        "pages/pages.jsonl".into(),
        (pages.join("\n") + "\n").into_bytes(),
    ));
    members.push((
        "evidence/proof.json".into(),
        serde_json::to_vec_pretty(&proof).map_err(|e| e.to_string())?,
    ));
    for (h, bytes) in texts {
        members.push((format!("evidence/blobs/{h}.json"), bytes));
    }
    if let Some(t) = tsr {
        members.push(("evidence/timestamp.tsr".into(), t));
    }
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
    let datapackage = json!({
        "profile": "data-package",
        "wacz_version": "1.1.1",
        "title": format!("newsledger evidence for {url}"),
        "software": format!("newsledger {}", env!("CARGO_PKG_VERSION")),
        "created": cp.recorded_at,
        "mainPageUrl": url,
        "resources": resources,
    });
    members.push((
        "datapackage.json".into(),
        serde_json::to_vec_pretty(&datapackage).map_err(|e| e.to_string())?,
    ));
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
    ) -> Result<Proofs, String> {
        let mut p = Proofs {
            cp_seq,
            size,
            root,
            computed: None,
        };
        if log::root(conn, size).ok() != Some(root) {
            p.compute(conn)?;
        }
        Ok(p)
    }

    fn compute(&mut self, conn: &Connection) -> Result<(), String> {
        let cp_seq = self.cp_seq;
        tracing::warn!(
            "the stored Merkle tree (table merkle_nodes) disagrees with the signed checkpoint at entry {cp_seq}: proofs computed from the chain's entries; run `newsledger verify`, then `newsledger rebuild`"
        );
        let leaves =
            merkle::store::entry_hashes(conn, Some(self.size)).map_err(|e| e.to_string())?;
        let mut tree = merkle::Computed::new(leaves);
        let root = merkle::root(&mut tree, self.size).unwrap_or_else(|e| match e {});
        if root != self.root {
            return Err(format!(
                "the ledger's entries do not give the root signed at entry {cp_seq}: run `newsledger verify`"
            ));
        }
        self.computed = Some(tree);
        Ok(())
    }

    /// The inclusion proof of `e`, checked against the signed root.
    fn inclusion(&mut self, conn: &Connection, e: &Entry) -> Result<Vec<merkle::Hash>, String> {
        let leaf: merkle::Hash = e.entry_hash.as_slice().try_into().unwrap_or([0; 32]);
        let index = e.seq as u64 - 1;
        if self.computed.is_none() {
            let stored = log::inclusion(conn, e.seq, self.size).map_err(|e| e.to_string())?;
            if merkle::verify_inclusion(&leaf, index, self.size, &stored, &self.root).is_ok() {
                return Ok(stored);
            }
            self.compute(conn)?;
        }
        let Some(tree) = self.computed.as_mut() else {
            return Err("no Merkle tree to prove inclusion with".into());
        };
        let proof = merkle::inclusion_proof(tree, index, self.size).unwrap_or_else(|e| match e {});
        merkle::verify_inclusion(&leaf, index, self.size, &proof, &self.root).map_err(|err| {
            format!(
                "entry {} is not in the tree the checkpoint signs ({err:?}): run `newsledger verify`",
                e.seq
            )
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
    let host = if p.host().is_some_and(|h| matches!(h, url::Host::Domain(_))) {
        host.split('.').rev().collect::<Vec<_>>().join(",")
    } else {
        host
    };
    let port = p.port().map(|x| format!(":{x}")).unwrap_or_default();
    let query = p.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("{host}{port}){}{query}", p.path())
}

/// Keys to check a bundle with.
pub struct Trust<'a> {
    pub log_key: &'a NoteVerifier,
    pub witnesses: &'a [NoteVerifier],
    /// The TSA's CA certificate (PEM): the token is checked with `openssl ts -verify`.
    pub tsa_ca: Option<&'a Path>,
}

/// What a bundle proves, one line each; an error names what failed.
pub fn verify(bytes: &[u8], trust: &Trust<'_>) -> Result<Vec<String>, String> {
    let members = super::zip::read(bytes)?;
    let file = |name: &str| -> Result<&Vec<u8>, String> {
        members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b)
            .ok_or_else(|| format!("the bundle has no {name}"))
    };
    // 1. The package lists every other member with its hash and size.
    let dp: Value = serde_json::from_slice(file("datapackage.json")?)
        .map_err(|e| format!("datapackage.json is not JSON: {e}"))?;
    let resources = dp
        .get("resources")
        .and_then(Value::as_array)
        .ok_or("datapackage.json lists no resources")?;
    for (name, b) in members.iter().filter(|(n, _)| n != "datapackage.json") {
        let r = resources
            .iter()
            .find(|r| r.get("path").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| format!("{name} is not listed in datapackage.json"))?;
        let want = format!("sha256:{}", hex::encode(Sha256::digest(b)));
        if r.get("hash").and_then(Value::as_str) != Some(&want)
            || r.get("bytes").and_then(Value::as_u64) != Some(b.len() as u64)
        {
            return Err(format!(
                "{name}: its SHA-256 or size differs from datapackage.json (the file was altered)"
            ));
        }
    }
    if resources.len() + 1 != members.len() {
        return Err("datapackage.json lists files the bundle does not hold".into());
    }
    // 2. The checkpoint is signed by the log key.
    let proof: Value = serde_json::from_slice(file("evidence/proof.json")?)
        .map_err(|e| format!("evidence/proof.json is not JSON: {e}"))?;
    if proof.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(format!("evidence/proof.json is not {FORMAT}"));
    }
    let cp = proof
        .get("checkpoint")
        .ok_or("no checkpoint in evidence/proof.json")?;
    let note_text = cp
        .get("note")
        .and_then(Value::as_str)
        .ok_or("no checkpoint note")?;
    let note = Note::parse(note_text).map_err(|e| format!("checkpoint: {e}"))?;
    note.verify(trust.log_key)
        .map_err(|e| format!("checkpoint signature: {e}"))?;
    let body = Body::parse(&note.text).map_err(|e| format!("checkpoint: {e}"))?;
    let mut out = vec![format!(
        "checkpoint: log {} of size {} with root {}, signed by {}",
        body.origin,
        body.size,
        hex::encode(body.root),
        trust.log_key
    )];
    // 3. Cosignatures from the witnesses the user trusts.
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
    for w in trust.witnesses {
        let cosigned = format!("{note_text}{}\n", cosigs.join("\n"));
        let with = Note::parse(&cosigned).map_err(|e| format!("cosignatures: {e}"))?;
        let time = with
            .verify(w)
            .map_err(|e| format!("cosignature of witness {}: {e}", w.name))?;
        out.push(format!(
            "cosigned by witness {} at {}",
            w.name,
            time.and_then(|t| chrono::DateTime::from_timestamp(t as i64, 0))
                .map_or("?".into(), |t| t.to_rfc3339())
        ));
    }
    if trust.witnesses.is_empty() && !cosigs.is_empty() {
        out.push(format!(
            "{} cosignature(s) present, not checked (pass --witness-key VKEY)",
            cosigs.len()
        ));
    }
    // 4. The timestamp token stamps this note.
    let stamped_at = match proof.get("timestamp").filter(|t| !t.is_null()) {
        None => None,
        Some(t) => {
            let tsr = file("evidence/timestamp.tsr")?;
            let stamped = super::tsa::check_reply(tsr, note_text.as_bytes(), None)
                .map_err(|e| format!("timestamp: {e}"))?;
            let tsa = t.get("tsa").and_then(Value::as_str).unwrap_or("?");
            let time = stamped.time.clone().unwrap_or(stamped.gen_time.clone());
            match trust.tsa_ca {
                Some(ca) => {
                    openssl_ts_verify(tsr, note_text.as_bytes(), ca)?;
                    out.push(format!("timestamped by {tsa} at {time} (token signature and certificate checked by openssl against {})", ca.display()));
                }
                None => out.push(format!("timestamped by {tsa} at {time} (token matches the checkpoint; its signature is not checked: pass --tsa-ca CA.pem)")),
            }
            Some((tsa.to_string(), time))
        }
    };
    // 5. Each entry hashes to its leaf, and the leaf is in the signed tree.
    let entries = proof
        .get("entries")
        .and_then(Value::as_array)
        .ok_or("no entries in evidence/proof.json")?;
    let mut by_seq: BTreeMap<i64, Value> = BTreeMap::new();
    for e in entries {
        let s = |k: &str| e.get(k).and_then(Value::as_str);
        let seq = e
            .get("seq")
            .and_then(Value::as_i64)
            .ok_or("an entry has no seq")?;
        let h = |k: &str| -> Result<Vec<u8>, String> {
            hex::decode(s(k).unwrap_or_default())
                .map_err(|_| format!("entry {seq}: {k} is not hex"))
        };
        let (prev, claimed) = (h("prev_hash")?, h("entry_hash")?);
        if s("compact").is_none() && e.get("ref_seq").is_some_and(|r| !r.is_null()) {
            return Err(format!(
                "entry {seq}: a ref_seq without compact bytes, which no hash covers (the entry was altered)"
            ));
        }
        let computed = match s("compact") {
            // A compact entry: its stored bytes are hashed, and its JSON
            // view must be what they say.
            Some(b64) => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| format!("entry {seq}: compact is not base64"))?;
                let ref_seq = e
                    .get("ref_seq")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| format!("entry {seq}: a compact entry without ref_seq"))?;
                let at = s("recorded_at").unwrap_or_default();
                let view = crate::ledger::entry::Compact::decode(&bytes)
                    .map(|c| c.view(at, ref_seq))
                    .ok_or_else(|| format!("entry {seq}: its compact bytes do not decode"))?;
                if Some(view.as_str()) != s("payload") || s("url").is_some() {
                    return Err(format!(
                        "entry {seq}: its payload is not what its compact bytes record (the entry was altered)"
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
            return Err(format!(
                "entry {seq}: its columns do not hash to its entry_hash (the entry was altered)"
            ));
        }
        let path: Vec<Hash> = e
            .get("inclusion")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|h| {
                        h.as_str()
                            .and_then(|h| hex::decode(h).ok())
                            .and_then(|b| b.try_into().ok())
                            .ok_or_else(|| {
                                format!("entry {seq}: a proof hash is not 32 bytes of hex")
                            })
                    })
                    .collect::<Result<_, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        if seq < 1 {
            return Err(format!("entry {seq}: seq starts at 1"));
        }
        merkle::verify_inclusion(&computed, seq as u64 - 1, body.size, &path, &body.root)
            .map_err(|err| format!("entry {seq}: inclusion proof: {err}"))?;
        let payload: Value = serde_json::from_str(s("payload").unwrap_or_default())
            .map_err(|_| format!("entry {seq}: payload is not JSON"))?;
        by_seq.insert(
            seq,
            json!({"kind": s("kind"), "url": s("url"), "payload": payload,
                   "recorded_at": s("recorded_at"), "ref_seq": e.get("ref_seq")}),
        );
    }
    // 6. Every blob an entry cites is in the bundle with that hash.
    let warc = file("archive/data.warc.gz")?;
    let records = warc_blocks(warc)?;
    for (seq, e) in &by_seq {
        let p = &e["payload"];
        if let Some(t) = p.get("text_blob").and_then(Value::as_str) {
            let b = file(&format!("evidence/blobs/{t}.json"))?;
            if hex::encode(Sha256::digest(b)) != t {
                return Err(format!(
                    "evidence/blobs/{t}.json: its SHA-256 is not the text_blob of entry {seq}"
                ));
            }
        }
        if let Some(r) = p.get("raw_blob").and_then(Value::as_str)
            && !records.contains(r)
        {
            return Err(format!(
                "entry {seq}: its raw capture {r} is not in archive/data.warc.gz with that SHA-256"
            ));
        }
    }
    // 7. What that proves.
    let origin_line = format!("is in the log {} of size {}", body.origin, body.size);
    let stamp = stamped_at
        .as_ref()
        .map(|(tsa, t)| format!(", timestamped by {tsa} at {t}"))
        .unwrap_or_default();
    let article = proof
        .get("article_url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (observations, spans) = observations(&by_seq, article);
    let compact = by_seq.values().filter(|e| !e["ref_seq"].is_null()).count();
    if let (Some(first), Some(last)) = (spans.first(), spans.last()) {
        out.push(format!(
            "{article}: {observations} observations in {} stretches from {} to {} ({compact} of them unchanged or not-modified fetches kept as compact entries); each entry {origin_line}{stamp}",
            spans.len(),
            first.first_seen,
            last.last_seen
        ));
    }
    for (seq, e) in &by_seq {
        let p = &e["payload"];
        let g = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("?");
        if !e["ref_seq"].is_null() {
            continue; // counted in the observations line
        }
        match e["kind"].as_str() {
            Some("revision") => out.push(format!(
                "entry {seq}: revision {} of {} has content {} (text and metadata in evidence/blobs/{}.json); it {origin_line}{stamp}",
                p.get("revision").and_then(Value::as_i64).unwrap_or(0),
                g("article_url"),
                g("content_hash"),
                g("text_blob"),
            )),
            Some("fetch") if p.get("content_hash").is_some() => out.push(format!(
                "entry {seq}: this text (content {}) was served by {} at {} (HTTP {}, body SHA-256 {}); it {origin_line}{stamp}",
                g("content_hash"),
                g("final_url"),
                g("started_at"),
                p.get("status").map_or("?".into(), Value::to_string),
                g("body_sha256"),
            )),
            Some(kind) => out.push(format!(
                "entry {seq}: {kind} of {} at {} ({}); it {origin_line}{stamp}",
                e["url"].as_str().unwrap_or("?"),
                g("started_at"),
                g("outcome"),
            )),
            None => {}
        }
    }
    Ok(out)
}

/// The article's timeline folded from the bundle's entries, as `history`
/// folds the ledger's (`ledger::derive::Replay`): the observations it counts
/// and its stretches.
fn observations(
    by_seq: &BTreeMap<i64, Value>,
    article: &str,
) -> (u64, Vec<crate::ledger::derive::Span>) {
    use crate::ledger::derive::{Event, Payload, Replay};
    let mut replay = Replay::with_spans();
    for (seq, e) in by_seq {
        let text = e["payload"].to_string();
        let payload = Payload::parse(&text).unwrap_or_default();
        replay.apply(Event {
            seq: *seq,
            recorded_at: e["recorded_at"].as_str().unwrap_or_default(),
            kind: e["kind"].as_str().unwrap_or_default(),
            url: e["url"].as_str(),
            payload: &payload,
            ref_seq: e["ref_seq"].as_i64(),
        });
    }
    let spans = replay.spans.remove(article).unwrap_or_default();
    (spans.iter().map(|s| s.observations).sum(), spans)
}

/// The `WARC-Block-Digest` hex of every record whose block hashes to it.
fn warc_blocks(gz: &[u8]) -> Result<BTreeSet<String>, String> {
    let mut all = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut all)
        .map_err(|e| format!("archive/data.warc.gz does not decompress: {e}"))?;
    let mut out = BTreeSet::new();
    let mut rest = all.as_slice();
    while !rest.is_empty() {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("archive/data.warc.gz: a record has no header end")?;
        let head = String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).to_string();
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
            .ok_or("archive/data.warc.gz: a record has no Content-Length")?;
        let block = rest
            .get(end + 4..end + 4 + len)
            .ok_or("archive/data.warc.gz: a record is cut short")?;
        let digest = hex::encode(Sha256::digest(block));
        if let Some(d) = field("WARC-Block-Digest") {
            if d != format!("sha256:{digest}") {
                return Err(format!(
                    "archive/data.warc.gz: a record's block does not match its WARC-Block-Digest {d} (the capture was altered)"
                ));
            }
            out.insert(digest);
        }
        rest = rest.get(end + 4 + len + 4..).unwrap_or_default();
    }
    Ok(out)
}

/// Checks an RFC 3161 reply's signature and certificate with openssl.
fn openssl_ts_verify(tsr: &[u8], data: &[u8], ca: &Path) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("newsledger-ts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (t, d) = (dir.join("token.tsr"), dir.join("data"));
    std::fs::write(&t, tsr).map_err(|e| e.to_string())?;
    std::fs::write(&d, data).map_err(|e| e.to_string())?;
    let out = std::process::Command::new("openssl")
        .args(["ts", "-verify", "-in"])
        .arg(&t)
        .arg("-data")
        .arg(&d)
        .arg("-CAfile")
        .arg(ca)
        .output()
        .map_err(|e| format!("timestamp: cannot run openssl: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Err(format!(
            "timestamp: openssl ts -verify failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
        ));
    }
    Ok(())
}

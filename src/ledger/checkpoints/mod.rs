//! The proof entries in the ledger: making a signed checkpoint (the
//! writer's job), reading checkpoints, their timestamps and cosignatures,
//! and producing inclusion and consistency proofs from the stored tree.
//! The signed statements themselves travel in `crate::proof`: bundles,
//! timestamp requests and witnesses read what is recorded here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction};
use serde_json::{Value, json};

use crate::ledger::merkle::{self, Hash, store::Stored};
use crate::ledger::{self, Kind};
use crate::note::Signer;

mod body;

pub use body::{Body, BodyError};

/// A checkpoint entry as stored.
#[derive(Debug, Clone)]
pub struct StoredCheckpoint {
    pub seq: i64,
    pub recorded_at: String,
    pub body: Body,
    /// The signed note, as signed by the log (no cosignatures).
    pub note: String,
    /// The log's verifier key.
    pub key: String,
}

fn from_payload(seq: i64, recorded_at: String, payload: &str) -> Option<StoredCheckpoint> {
    let p: Value = serde_json::from_str(payload).ok()?;
    let note = p.get("note")?.as_str()?.to_string();
    let parsed = crate::note::Note::parse(&note).ok()?;
    Some(StoredCheckpoint {
        seq,
        recorded_at,
        body: Body::parse(&parsed.text).ok()?,
        note,
        key: p.get("key")?.as_str()?.to_string(),
    })
}

/// The newest checkpoint entry.
pub fn latest(conn: &Connection) -> rusqlite::Result<Option<StoredCheckpoint>> {
    newest_from(conn, i64::MAX)
}

/// The newest checkpoint entry at or before `seq`.
fn newest_from(conn: &Connection, seq: i64) -> rusqlite::Result<Option<StoredCheckpoint>> {
    let row: Option<(i64, String, String)> = conn
        .prepare_cached(
            "SELECT seq, recorded_at, payload FROM ledger WHERE kind = 'checkpoint' AND seq <= ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(row.and_then(|(seq, at, p)| from_payload(seq, at, &p)))
}

/// Every checkpoint entry, oldest first.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<StoredCheckpoint>> {
    let mut stmt = conn.prepare(
        "SELECT seq, recorded_at, payload FROM ledger WHERE kind = 'checkpoint' ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))?;
    let mut out = Vec::new();
    for r in rows {
        let (seq, at, p) = r?;
        out.extend(from_payload(seq, at, &p));
    }
    Ok(out)
}

/// A timestamp entry: the TSA's token over a checkpoint's note.
#[derive(Debug, Clone)]
pub struct Timestamp {
    pub seq: i64,
    pub tsa: String,
    pub token_blob: String,
    pub time: Option<String>,
}

/// Entries of `kind` that refer to the checkpoint at `checkpoint_seq`.
fn linked(
    conn: &Connection,
    kind: &str,
    checkpoint_seq: i64,
) -> rusqlite::Result<Vec<(i64, Value)>> {
    let sql =
        format!("SELECT seq, payload FROM ledger WHERE kind = '{kind}' AND seq > ?1 ORDER BY seq");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([checkpoint_seq], |r| {
        Ok((r.get(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (seq, p) = r?;
        if let Ok(v) = serde_json::from_str::<Value>(&p)
            && v.get("checkpoint_seq").and_then(Value::as_i64) == Some(checkpoint_seq)
        {
            out.push((seq, v));
        }
    }
    Ok(out)
}

fn timestamp_from(seq: i64, v: &Value) -> Timestamp {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Timestamp {
        seq,
        tsa: s("tsa").unwrap_or_default(),
        token_blob: s("token_blob").unwrap_or_default(),
        time: s("time"),
    }
}

pub fn timestamp_of(conn: &Connection, checkpoint_seq: i64) -> rusqlite::Result<Option<Timestamp>> {
    Ok(linked(conn, "timestamp", checkpoint_seq)?
        .into_iter()
        .next()
        .map(|(seq, v)| timestamp_from(seq, &v)))
}

/// The checkpoint to prove entries up to `seq` against: the newest one
/// that covers it (tree size ≥ `seq`) and has a timestamp token, else the
/// newest that covers it. Timestamps are asked for the latest checkpoint
/// only, so they refer to checkpoints in order: the walk from the newest
/// token stops at the first that does not cover `seq`.
pub fn covering(
    conn: &Connection,
    seq: i64,
) -> rusqlite::Result<Option<(StoredCheckpoint, Option<Timestamp>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, payload FROM ledger WHERE kind = 'timestamp' ORDER BY seq DESC",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let ts_seq: i64 = r.get(0)?;
        let v: Value = serde_json::from_str(&r.get::<_, String>(1)?).unwrap_or(Value::Null);
        let Some(cp_seq) = v.get("checkpoint_seq").and_then(Value::as_i64) else {
            continue;
        };
        let Some(cp) = newest_from(conn, cp_seq)?.filter(|c| c.seq == cp_seq) else {
            continue;
        };
        if cp.body.size < seq as u64 {
            break;
        }
        return Ok(Some((cp, Some(timestamp_from(ts_seq, &v)))));
    }
    Ok(latest(conn)?
        .filter(|c| c.body.size >= seq as u64)
        .map(|c| (c, None)))
}

/// Cosignature lines stored for a checkpoint (each witness's latest).
pub fn cosignatures_of(conn: &Connection, checkpoint_seq: i64) -> rusqlite::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for (_, v) in linked(conn, "cosignature", checkpoint_seq)? {
        for l in v
            .get("lines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(l) = l.as_str()
                && !out.iter().any(|o| o == l)
            {
                out.push(l.to_string());
            }
        }
    }
    Ok(out)
}

/// The tree size `witness` last cosigned, read from the ledger's
/// `cosignature` entries (0 if it never did).
pub fn witnessed_size(conn: &Connection, witness: &str) -> rusqlite::Result<u64> {
    let mut stmt = conn.prepare_cached(
        "SELECT payload FROM ledger WHERE kind = 'cosignature' ORDER BY seq DESC",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let v: Value = serde_json::from_str(&r.get::<_, String>(0)?).unwrap_or(Value::Null);
        if v.get("witness").and_then(Value::as_str) != Some(witness) {
            continue;
        }
        let Some(cp_seq) = v.get("checkpoint_seq").and_then(Value::as_i64) else {
            continue;
        };
        if let Some(cp) = newest_from(conn, cp_seq)?.filter(|c| c.seq == cp_seq) {
            return Ok(cp.body.size);
        }
    }
    Ok(0)
}

/// What a checked reply says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    /// The TSA's time (GeneralizedTime as sent, e.g. 20261122101500Z).
    pub gen_time: String,
    /// The same as RFC 3339, when it parses.
    pub time: Option<String>,
    pub serial: String,
    /// The first certificate the token carries (DER), normally the TSA's
    /// own: whom the token names as its signer.
    pub certificate: Option<Vec<u8>>,
}

/// What [`make_checkpoint`] appended.
#[derive(Debug, Clone)]
pub struct Made {
    pub seq: i64,
    pub body: Body,
    pub note: String,
    /// The checkpoint before it, for consistency proofs to witnesses.
    pub previous: Option<Body>,
}

/// Why a checkpoint was not made.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the stored Merkle tree is not consistent with the checkpoint at entry {seq} (size {size}): {why}; nothing was signed. Run `newsledger verify`"
    )]
    Inconsistent { seq: i64, size: u64, why: String },
    #[error(
        "the last checkpoint (entry {seq}) is of the log `{was}` signed by {was_key}, and this configuration signs `{now}` with {now_key}: a different key or origin would start another log's checkpoints on this ledger. Configure the key that signed it, or, to move the log on purpose, add `replaces = \"{was}\"` to [checkpoint]"
    )]
    OriginChanged {
        seq: i64,
        was: String,
        was_key: String,
        now: String,
        now_key: String,
    },
}

/// Appends a signed checkpoint of the tree over every entry so far, if an
/// entry other than a proof entry was appended since the last one. The
/// new root must extend the previous checkpoint's (consistency proof from
/// the stored nodes), or nothing is signed.
pub fn make_checkpoint(
    tx: &Transaction<'_>,
    signer: &Signer,
    origin: &str,
    replaces: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Made>, CheckpointError> {
    let Some((head, _)) = ledger::head(tx)? else {
        return Ok(None);
    };
    let previous = latest(tx)?;
    // One log per ledger: a checkpoint under another origin only when the
    // configuration says which one it replaces.
    // The same holds for another key under the same origin (a key
    // rotation is a move too).
    let now_key = signer.verifier().to_string();
    if let Some(p) = previous.as_ref().filter(|p| {
        (p.body.origin != origin || p.key != now_key) && replaces != Some(p.body.origin.as_str())
    }) {
        return Err(CheckpointError::OriginChanged {
            seq: p.seq,
            was: p.body.origin.clone(),
            was_key: p.key.clone(),
            now: origin.to_string(),
            now_key,
        });
    }
    if let Some(p) = &previous {
        let news: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM ledger WHERE seq > ?1 AND kind NOT IN ('checkpoint', 'timestamp', 'cosignature'))",
            [p.seq],
            |r| r.get(0),
        )?;
        if !news {
            return Ok(None);
        }
    }
    let size = head as u64;
    let mut nodes = Stored::new(tx);
    let root = merkle::root(&mut nodes, size)?;
    if let Some(p) = &previous
        && p.body.size > 0
    {
        let proof = merkle::consistency_proof(&mut nodes, p.body.size, size)?;
        merkle::verify_consistency(p.body.size, size, &p.body.root, &root, &proof).map_err(
            |e| CheckpointError::Inconsistent {
                seq: p.seq,
                size: p.body.size,
                why: e.to_string(),
            },
        )?;
    }
    let body = Body {
        origin: origin.to_string(),
        size,
        root,
    };
    let note = signer.sign(&body.text());
    let payload = json!({
        "origin": origin,
        "size": size,
        "root": B64.encode(root),
        "note": note,
        "key": signer.verifier().to_string(),
    });
    let seq = ledger::append(tx, Kind::Checkpoint, None, &payload, now)?;
    Ok(Some(Made {
        seq,
        body,
        note,
        previous: previous.map(|p| p.body),
    }))
}

/// Records a checked RFC 3161 reply for the checkpoint at `checkpoint_seq`.
pub fn record_timestamp(
    tx: &Transaction<'_>,
    checkpoint_seq: i64,
    tsa: &str,
    reply: &[u8],
    stamped: &Stamped,
    now: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    let token_blob = ledger::blobs::put(tx, reply)?;
    let payload = json!({
        "checkpoint_seq": checkpoint_seq,
        "tsa": tsa,
        "token_blob": token_blob,
        "gen_time": stamped.gen_time,
        "time": stamped.time,
        "serial": stamped.serial,
    });
    ledger::append(tx, Kind::Timestamp, None, &payload, now)
}

/// Records the cosignature lines a witness returned.
pub fn record_cosignatures(
    tx: &Transaction<'_>,
    checkpoint_seq: i64,
    witness: &str,
    lines: &[String],
    verified: bool,
    now: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    let payload = json!({
        "checkpoint_seq": checkpoint_seq,
        "witness": witness,
        "lines": lines,
        "verified": verified,
    });
    ledger::append(tx, Kind::Cosignature, None, &payload, now)
}

/// The inclusion proof of the entry `seq` in the tree of size `size`.
pub fn inclusion(conn: &Connection, seq: i64, size: u64) -> rusqlite::Result<Vec<Hash>> {
    merkle::inclusion_proof(&mut Stored::new(conn), seq as u64 - 1, size)
}

/// The consistency proof from size `m` to size `n`.
pub fn consistency(conn: &Connection, m: u64, n: u64) -> rusqlite::Result<Vec<Hash>> {
    merkle::consistency_proof(&mut Stored::new(conn), m, n)
}

/// The root of the tree of size `n`.
pub fn root(conn: &Connection, n: u64) -> rusqlite::Result<Hash> {
    merkle::root(&mut Stored::new(conn), n)
}

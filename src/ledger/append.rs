//! Appending to the chain: the next seq after the head, linked to the
//! head's hash, with the tree nodes kept alongside (`append_entry`,
//! `append_compact`), inside the caller's transaction.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::Value;

use super::entry::{self, Kind, ZERO_HASH};
use super::{derive, merkle, timestamp};

/// The head of the chain: `(seq, entry_hash)`, or `None` for an empty ledger.
pub fn head(conn: &Connection) -> rusqlite::Result<Option<(i64, Vec<u8>)>> {
    conn.prepare_cached("SELECT seq, entry_hash FROM ledger ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// Appends one entry inside the caller's transaction and returns its seq.
pub fn append(
    tx: &Transaction<'_>,
    kind: Kind,
    url: Option<&str>,
    payload: &Value,
    now: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    append_entry(tx, kind, url, payload, now).map(|a| a.seq)
}

/// What [`append_entry`] wrote: the writer folds exactly these columns into
/// the derived rows, never a copy rebuilt beside them.
#[derive(Debug, Clone)]
pub struct Appended {
    pub seq: i64,
    pub recorded_at: String,
    /// The canonical JSON stored in the `payload` column.
    pub payload: String,
}

/// Appends one entry and returns what was written.
pub fn append_entry(
    tx: &Transaction<'_>,
    kind: Kind,
    url: Option<&str>,
    payload: &Value,
    now: DateTime<Utc>,
) -> rusqlite::Result<Appended> {
    let (seq, prev_hash) = next_position(tx)?;
    let recorded_at = timestamp(now);
    let payload = entry::canonical_json(payload);
    let hash = entry::entry_hash(seq, &recorded_at, kind.as_str(), url, &payload, &prev_hash);
    tx.prepare_cached(
        "INSERT INTO ledger (seq, recorded_at, kind, url, payload, prev_hash, entry_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        seq,
        recorded_at,
        kind.as_str(),
        url,
        payload,
        prev_hash,
        hash.to_vec()
    ])?;
    after_append(tx, seq)?;
    Ok(Appended {
        seq,
        recorded_at,
        payload,
    })
}

/// The seq and `prev_hash` of the next entry.
pub(super) fn next_position(tx: &Transaction<'_>) -> rusqlite::Result<(i64, Vec<u8>)> {
    Ok(match head(tx)? {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, ZERO_HASH.to_vec()),
    })
}

/// What every append does after its row: the derived tables include every
/// entry as it is appended (the writer folds its entries in the same
/// transaction), and the tree's stored nodes grow with it.
pub(super) fn after_append(tx: &Transaction<'_>, seq: i64) -> rusqlite::Result<()> {
    derive::store::set_through_seq(tx, seq)?;
    merkle::store::on_append(tx, seq)
}

/// Appends a compact fetch entry (encoding tag 2) that repeats the full
/// fetch entry `ref_seq`; returns what was written, with the payload as the
/// JSON view readers and the fold see.
pub fn append_compact(
    tx: &Transaction<'_>,
    ref_seq: i64,
    compact: &entry::Compact,
    now: DateTime<Utc>,
) -> rusqlite::Result<Appended> {
    let (seq, prev_hash) = next_position(tx)?;
    let recorded_at = timestamp(now);
    let bytes = compact.encode();
    let kind = Kind::Fetch.as_str();
    let hash = entry::entry_hash_v2(seq, &recorded_at, kind, ref_seq, &bytes, &prev_hash);
    tx.prepare_cached(
        "INSERT INTO ledger (seq, recorded_at, kind, url, payload, prev_hash, entry_hash, ref_seq)
         VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        seq,
        recorded_at,
        kind,
        bytes,
        prev_hash,
        hash.to_vec(),
        ref_seq
    ])?;
    after_append(tx, seq)?;
    let payload = compact.view(&recorded_at, ref_seq);
    Ok(Appended {
        seq,
        recorded_at,
        payload,
    })
}

//! The sources' cycles and the ledger's head, as `status` and `health`
//! show them.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::sqlite;
use crate::ledger::{LedgerError, entry::Entry};

#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    pub name: String,
    pub last_cycle_at: Option<String>,
    pub next_run_at: Option<String>,
    pub counts: Value,
    pub last_error: Option<String>,
    pub articles: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LedgerStatus {
    pub entries: i64,
    pub head_seq: i64,
    pub head_hash: String,
    pub bytes: u64,
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub sources: Vec<SourceStatus>,
    pub ledger: LedgerStatus,
}

/// The head of the chain, `(seq, entry_hash)`, after checking that entry's
/// hash and its link (the value users are told to keep elsewhere).
pub fn checked_head(conn: &Connection) -> Result<(i64, Vec<u8>), LedgerError> {
    let e: Option<Entry> = conn
        .query_row(
            &format!(
                "SELECT {} FROM ledger ORDER BY seq DESC LIMIT 1",
                Entry::columns(conn)
            ),
            [],
            Entry::from_row_unviewed,
        )
        .optional()
        .map_err(sqlite)?;
    let Some(e) = e else {
        return Ok((0, vec![]));
    };
    if let Some(fault) = e.fault_in(conn).map_err(sqlite)? {
        return Err(LedgerError::Untrusted {
            seq: e.seq,
            reason: fault.into(),
        });
    }
    Ok((e.seq, e.entry_hash))
}

/// The sources the chain's configuration entries name, by name.
pub fn source_names(conn: &Connection) -> Result<Vec<String>, LedgerError> {
    let mut stmt = conn
        .prepare(
            "SELECT DISTINCT json_extract(payload, '$.name') FROM ledger
             WHERE kind = 'source' AND json_valid(payload) ORDER BY 1",
        )
        .map_err(sqlite)?;
    let names: Vec<Option<String>> = stmt
        .query_map([], |r| r.get(0))
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    Ok(names.into_iter().flatten().collect())
}

/// [`super::lists::status`] without the article counts: what `health`
/// needs.
pub fn cycles(conn: &Connection, path: &std::path::Path) -> Result<Status, LedgerError> {
    let mut stmt = conn
        .prepare(
            "SELECT s.name, s.last_cycle_at, s.next_run_at, s.counts_json, s.last_error
             FROM source_state s ORDER BY s.name",
        )
        .map_err(sqlite)?;
    let sources = stmt
        .query_map([], |r| {
            let counts: Option<String> = r.get(3)?;
            Ok(SourceStatus {
                name: r.get(0)?,
                last_cycle_at: r.get(1)?,
                next_run_at: r.get(2)?,
                counts: counts
                    .and_then(|c| serde_json::from_str(&c).ok())
                    .unwrap_or(Value::Null),
                last_error: r.get(4)?,
                articles: 0,
            })
        })
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    let (head_seq, head_hash) = checked_head(conn)?;
    Ok(Status {
        sources,
        ledger: LedgerStatus {
            entries: head_seq,
            head_seq,
            head_hash: hex::encode(head_hash),
            bytes: crate::ledger::size_on_disk(path),
            path: path.display().to_string(),
        },
    })
}

//! Archival export: the ledger as JSON lines (verifiable offline, from the
//! file alone) and stored captures as WARC 1.1 for web-archive tools.

pub mod jsonl;
pub mod warc;

use rusqlite::Connection;

use crate::ledger::{Entry, LedgerError};

/// Every ledger entry in order, streamed to `f`.
pub fn for_each_entry(
    conn: &Connection,
    mut f: impl FnMut(Entry) -> std::io::Result<()>,
) -> Result<u64, ExportError> {
    let sqlite = |source| LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    };
    let mut stmt = conn
        .prepare("SELECT seq, recorded_at, kind, url, payload, prev_hash, entry_hash FROM ledger ORDER BY seq")
        .map_err(sqlite)?;
    let mut rows = stmt.query([]).map_err(sqlite)?;
    let mut n = 0;
    while let Some(r) = rows.next().map_err(sqlite)? {
        let e = Entry {
            seq: r.get(0).map_err(sqlite)?,
            recorded_at: r.get(1).map_err(sqlite)?,
            kind: r.get(2).map_err(sqlite)?,
            url: r.get(3).map_err(sqlite)?,
            payload: r.get(4).map_err(sqlite)?,
            prev_hash: r.get(5).map_err(sqlite)?,
            entry_hash: r.get(6).map_err(sqlite)?,
        };
        f(e)?;
        n += 1;
    }
    Ok(n)
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("write: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Format(String),
}

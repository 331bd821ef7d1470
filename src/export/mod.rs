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
        .prepare(&format!(
            "SELECT {} FROM ledger ORDER BY seq",
            Entry::columns(conn)
        ))
        .map_err(sqlite)?;
    let mut rows = stmt.query([]).map_err(sqlite)?;
    let mut n = 0;
    while let Some(r) = rows.next().map_err(sqlite)? {
        let e = Entry::from_row(r).map_err(sqlite)?;
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

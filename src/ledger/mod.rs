//! The ledger: an append-only, hash-chained SQLite database.
//!
//! Invariant: nothing issues UPDATE or DELETE on `ledger` or `blobs`; the
//! triggers in `migrations/0001_ledger.sql` refuse them anyway.
//! Invariant: only the writer task ([`writer`]) holds a writable connection
//! while the daemon runs; every read command opens its own read-only one.

pub mod blobs;
pub mod entry;
pub mod read;
pub mod verify;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use serde_json::{Value, json};

pub use entry::{Checkpoint, Entry, Kind, ZERO_HASH};

/// Migrations, embedded in the binary and applied in order at open.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_ledger.sql")),
    (2, include_str!("../../migrations/0002_notifications.sql")),
    (3, include_str!("../../migrations/0003_watchlist.sql")),
];

/// How long a connection waits on a lock before reporting it.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("ledger {0} does not exist (run `newsledger run` or `once` first, or pass --db PATH)")]
    Missing(PathBuf),
    #[error("cannot create the ledger directory {path}: {source}")]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "ledger {path} has schema version {found}, newer than this newsledger knows ({known}); upgrade newsledger"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("blob {0} is missing from the ledger")]
    MissingBlob(String),
    #[error("blob {hash} is corrupt: {reason}")]
    CorruptBlob { hash: String, reason: String },
}

impl LedgerError {
    /// Wraps a SQLite error with the ledger path, for messages that say where.
    pub fn sqlite(path: &Path) -> impl FnOnce(rusqlite::Error) -> LedgerError + '_ {
        move |source| LedgerError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// RFC 3339 UTC with millisecond precision: the one timestamp format the
/// ledger writes, so that text order is time order.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Opens (creating and migrating if needed) the ledger for writing.
pub fn open_writable(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| LedgerError::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let mut conn = Connection::open(path).map_err(LedgerError::sqlite(path))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(LedgerError::sqlite(path))?;
    // WAL lets readers work while the daemon writes; synchronous=FULL makes
    // every commit durable; recursive_triggers makes REPLACE fire the DELETE
    // triggers instead of silently removing rows.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA recursive_triggers = ON;
         PRAGMA foreign_keys = ON;",
    )
    .map_err(LedgerError::sqlite(path))?;
    migrate(&mut conn, path)?;
    ensure_genesis(&mut conn, path)?;
    Ok(conn)
}

/// Opens an existing ledger read-only; works while the daemon is writing.
pub fn open_read_only(path: &Path) -> Result<Connection> {
    if !path.exists() {
        return Err(LedgerError::Missing(path.to_path_buf()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(LedgerError::sqlite(path))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(LedgerError::sqlite(path))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let err = LedgerError::sqlite(path);
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(LedgerError::sqlite(path))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    INTEGER PRIMARY KEY,
             applied_at TEXT NOT NULL
         );",
    )
    .map_err(LedgerError::sqlite(path))?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )
        .map_err(LedgerError::sqlite(path))?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > known {
        return Err(LedgerError::TooNew {
            path: path.to_path_buf(),
            found: current,
            known,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.execute_batch(sql).map_err(LedgerError::sqlite(path))?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            params![version, timestamp(Utc::now())],
        )
        .map_err(LedgerError::sqlite(path))?;
    }
    tx.commit().map_err(err)
}

fn ensure_genesis(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(LedgerError::sqlite(path))?;
    if head(&tx).map_err(LedgerError::sqlite(path))?.is_none() {
        let payload = json!({
            "format": entry::ENCODING_TAG,
            "software": format!("newsledger {}", env!("CARGO_PKG_VERSION")),
            "hash": "sha256",
        });
        append(&tx, Kind::Genesis, None, &payload, Utc::now())
            .map_err(LedgerError::sqlite(path))?;
    }
    tx.commit().map_err(LedgerError::sqlite(path))
}

/// The head of the chain: `(seq, entry_hash)`, or `None` for an empty ledger.
pub fn head(conn: &Connection) -> rusqlite::Result<Option<(i64, Vec<u8>)>> {
    conn.query_row(
        "SELECT seq, entry_hash FROM ledger ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
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
    let (seq, prev_hash) = match head(tx)? {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, ZERO_HASH.to_vec()),
    };
    let recorded_at = timestamp(now);
    let payload = entry::canonical_json(payload);
    let hash = entry::entry_hash(seq, &recorded_at, kind.as_str(), url, &payload, &prev_hash);
    tx.execute(
        "INSERT INTO ledger (seq, recorded_at, kind, url, payload, prev_hash, entry_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            seq,
            recorded_at,
            kind.as_str(),
            url,
            payload,
            prev_hash,
            hash.to_vec()
        ],
    )?;
    Ok(seq)
}

/// Size of the database files (main file and WAL) in bytes.
pub fn size_on_disk(path: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    [path.to_path_buf(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

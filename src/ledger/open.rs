//! Opening a ledger: for writing (created, migrated, its tail checked, one
//! writer at a time) or for reading (read-only, checked against truncation).

use std::path::{Path, PathBuf};

use chrono::Utc;
use rusqlite::{Connection, OpenFlags, Transaction, params};
use serde_json::json;

use super::append::{append, head};
use super::entry::{self, Kind};
use super::{BUSY_TIMEOUT, LedgerError, MIGRATIONS, Result, check_before_append, read, timestamp};

/// Opens (creating and migrating if needed) the ledger for writing.
pub fn open_writable(path: &Path) -> Result<Connection> {
    let mut conn = open_schema(path)?;
    ensure_genesis(&mut conn, path)?;
    Ok(conn)
}

/// Opens (or creates) a ledger for writing, migrated and checked, without
/// writing its genesis entry: the one way in for a ledger copied entry by
/// entry from another storage (whose first entry is its own genesis).
pub fn open_schema(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| LedgerError::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let mut conn = Connection::open(path).map_err(|e| not_writable(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(LedgerError::sqlite(path))?;
    // WAL lets readers work while the daemon writes; synchronous=FULL makes
    // every commit durable; recursive_triggers makes REPLACE fire the DELETE
    // triggers instead of silently removing rows.
    // A new ledger gets 16 KiB pages (SQLite's default is 4 KiB): a capture
    // of about 30 KB fills two or three overflow pages instead of eight, and
    // the writer makes about a third of the WAL writes and reads per fetch.
    // An existing ledger keeps its page size (WAL mode cannot change it).
    conn.execute_batch(
        "PRAGMA page_size = 16384;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA recursive_triggers = ON;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )
    .map_err(|e| not_writable(path, e))?;
    // One fetch runs about twenty statements; the default cache of 16
    // would recompile some (and their triggers) on every fetch.
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&mut conn, path)?;
    check_before_append(&mut conn, path)?;
    Ok(conn)
}

/// SQLite's "unable to open database file" / "attempt to write a readonly
/// database" name no cause: say it is about permissions, and where.
pub(super) fn not_writable(path: &Path, source: rusqlite::Error) -> LedgerError {
    use rusqlite::ErrorCode::{CannotOpen, PermissionDenied, ReadOnly};
    match source.sqlite_error_code() {
        Some(CannotOpen | ReadOnly | PermissionDenied) => LedgerError::NotWritable {
            path: path.to_path_buf(),
            source,
        },
        _ => LedgerError::Sqlite {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// The lock that makes a process the one writer of a ledger: an OS file
/// lock on `LEDGER.lock`, released by the kernel if the process dies.
/// (A separate file: closing any descriptor of the database file itself
/// would drop SQLite's own POSIX locks.)
pub fn lock_writer(path: &Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| LedgerError::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    // The lock belongs to the file, not to one of its spellings: a symlink
    // to the ledger locks the ledger's own lock file.
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let lock = PathBuf::from(format!("{}.lock", real.display()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|source| LedgerError::LockFile {
            path: path.to_path_buf(),
            lock: lock.clone(),
            source,
        })?;
    match file.try_lock() {
        // The lock is on the name's lock file; a second name for the same
        // file (a hard link) would have its own. One name only, then: a
        // ledger file with more than one link is not written.
        Ok(()) => match hard_links(path) {
            n if n > 1 => Err(LedgerError::Refused {
                path: path.to_path_buf(),
                reason: format!(
                    "the ledger file has {n} hard links: a writer through another name would not see this one's lock (two writers, two WAL files, entries lost); remove the other links (find / -samefile {}) and keep one name",
                    path.display()
                ),
            }),
            _ => Ok(file),
        },
        Err(std::fs::TryLockError::WouldBlock) => Err(LedgerError::Locked {
            path: path.to_path_buf(),
            lock,
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(LedgerError::LockFile {
            path: path.to_path_buf(),
            lock,
            source,
        }),
    }
}

/// How many names the file at `path` has (1 where that cannot be known).
pub(super) fn hard_links(path: &Path) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map_or(1, |m| m.nlink())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        1
    }
}

/// Opens an existing ledger read-only; works while the daemon is writing,
/// and on a ledger the user cannot write (a read-only directory, another
/// user's file, write-once media).
pub fn open_read_only(path: &Path) -> Result<Connection> {
    if !path.exists() {
        return Err(LedgerError::Missing(path.to_path_buf()));
    }
    let open = |uri: &str| -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Reads that fold every article touch pages all over the file:
        // mapped, they are not copied by a read() each, and a larger cache
        // keeps the pages an entry and the one before it share.
        conn.execute_batch("PRAGMA mmap_size = 268435456; PRAGMA cache_size = -32768;")?;
        // WAL needs its -shm file: the first read fails if it can neither be
        // found nor created.
        conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })?;
        Ok(conn)
    };
    let uri = file_uri(path);
    match open(&uri) {
        Ok(conn) => Ok(conn),
        Err(first) => {
            // Nothing can be writing a ledger whose directory nobody can
            // write, so reading it as immutable is exact, unless a WAL file
            // with content was left beside it (then its content would be
            // missed: refuse, and say how to fix it).
            let wal = PathBuf::from(format!("{}-wal", path.display()));
            if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
                return Err(LedgerError::Sqlite {
                    path: path.to_path_buf(),
                    source: first,
                });
            }
            open(&format!("{uri}?immutable=1")).map_err(|_| LedgerError::Sqlite {
                path: path.to_path_buf(),
                source: first,
            })
        }
    }
}

/// [`open_read_only`] for a read command or page: refused when the chain
/// ends before what was recorded of it (`read::check_not_truncated`).
pub fn open_for_reading(path: &Path) -> Result<Connection> {
    let conn = open_read_only(path)?;
    read::check_not_truncated(&conn, path)?;
    Ok(conn)
}

/// A `file:` URI for a path (SQLite's URI syntax: `?` and `#` escaped).
pub(super) fn file_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut s = String::from("file:");
    for c in abs.display().to_string().chars() {
        match c {
            '?' => s.push_str("%3f"),
            '#' => s.push_str("%23"),
            '%' => s.push_str("%25"),
            c => s.push(c),
        }
    }
    s
}

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| not_writable(path, e))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    INTEGER PRIMARY KEY,
             applied_at TEXT NOT NULL
         );",
    )
    .map_err(|e| not_writable(path, e))?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )
        .map_err(|e| not_writable(path, e))?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > known {
        return Err(LedgerError::TooNew {
            path: path.to_path_buf(),
            found: current,
            known,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        if *version == 6 {
            widen_check(&tx, "ledger", KINDS_V1, KINDS_V6).map_err(|e| not_writable(path, e))?;
        }
        if *version == 7 {
            widen_check(&tx, "blobs", CODECS_V1, CODECS_V7).map_err(|e| not_writable(path, e))?;
        }
        if *version == 8 {
            widen_check(&tx, "ledger", KINDS_V6, KINDS_V8).map_err(|e| not_writable(path, e))?;
        }
        tx.execute_batch(sql).map_err(|e| not_writable(path, e))?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            params![version, timestamp(Utc::now())],
        )
        .map_err(|e| not_writable(path, e))?;
    }
    tx.commit().map_err(|e| not_writable(path, e))
}

pub(super) const KINDS_V1: &str =
    "CHECK (kind IN ('genesis', 'fetch', 'revision', 'gone', 'source'))";
pub(super) const KINDS_V6: &str = "CHECK (kind IN ('genesis', 'fetch', 'revision', 'gone', 'source', 'checkpoint', 'timestamp', 'cosignature'))";
pub(super) const KINDS_V8: &str = "CHECK (kind IN ('genesis', 'fetch', 'revision', 'gone', 'source', 'checkpoint', 'timestamp', 'cosignature', 'pruned'))";
pub(super) const CODECS_V1: &str = "CHECK (codec IN ('zstd', 'identity'))";
pub(super) const CODECS_V7: &str = "CHECK (codec IN ('zstd', 'identity', 'zstd-delta'))";

/// Migration 6 admits the proof entries (`checkpoint`, `timestamp`,
/// `cosignature`) in `ledger.kind`'s CHECK constraint, migration 7 the
/// `zstd-delta` codec in `blobs.codec`'s. Copying a table to change it would
/// rewrite every row; loosening a CHECK constraint in the stored schema is
/// SQLite's documented alternative for exactly this
/// (sqlite.org/lang_altertable.html, "otherchanges"), and no row changes.
pub(super) fn widen_check(
    tx: &Transaction<'_>,
    table: &str,
    old: &str,
    new: &str,
) -> rusqlite::Result<()> {
    let sql: String = tx.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get(0),
    )?;
    if !sql.contains(old) {
        return Ok(());
    }
    let version: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    tx.execute_batch("PRAGMA writable_schema = ON")?;
    tx.execute(
        "UPDATE sqlite_master SET sql = ?1 WHERE type = 'table' AND name = ?2",
        params![sql.replace(old, new), table],
    )?;
    tx.execute_batch(&format!(
        "PRAGMA schema_version = {}; PRAGMA writable_schema = OFF;",
        version + 1
    ))
}

pub(super) fn ensure_genesis(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(LedgerError::sqlite(path))?;
    genesis_in(&tx).map_err(LedgerError::sqlite(path))?;
    tx.commit().map_err(LedgerError::sqlite(path))
}

/// Appends the genesis entry to an empty ledger, in the caller's
/// transaction; its seq, when one was appended.
pub(crate) fn genesis_in(tx: &Transaction<'_>) -> rusqlite::Result<Option<i64>> {
    if head(tx)?.is_some() {
        return Ok(None);
    }
    let payload = json!({
        "format": entry::ENCODING_TAG,
        "software": format!("newsledger {}", env!("CARGO_PKG_VERSION")),
        "hash": "sha256",
    });
    append(tx, Kind::Genesis, None, &payload, Utc::now()).map(Some)
}

//! The storage contract on SQLite: the `ledger` and `blobs` tables every
//! other part of newsledger reads. Entries appended here keep the stored
//! tree nodes as the writer does; `finish` folds the derived tables from
//! the chain (`rebuild`), so that a ledger made by a migration is one the
//! daemon, the read commands and `verify` take as they take any other.

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{Payload, RawBlob, RawEntry, Result, Storage, StorageError, check_batch, hash_of};
use crate::ledger::merkle::{self, Hash};

pub struct SqliteStorage {
    /// The ledger's path.
    path: PathBuf,
    /// Where a copy is written until it is complete (`PATH.partial`), when
    /// this storage is a copy being made.
    partial: Option<PathBuf>,
    /// Read-only after `finish` (the rebuild takes the ledger itself).
    conn: Option<Connection>,
    /// The one-writer lock, held while writable.
    lock: Option<std::fs::File>,
}

/// The name a copy is written under until it is complete.
fn partial_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial", path.display()))
}

impl SqliteStorage {
    /// A new ledger to copy into, written under `PATH.partial` (schema, no
    /// genesis: the source's first entry is its genesis) and renamed to
    /// `path` by [`Storage::finish`]. An existing `path` is refused: a copy
    /// never lands beside another application's tables or another ledger.
    pub fn create(path: &Path) -> Result<SqliteStorage> {
        let at = path.display().to_string();
        if path.is_dir() {
            return Err(StorageError::Usage(format!(
                "{at} is a directory: give the path of the new ledger file (e.g. {at}/ledger.db)"
            )));
        }
        if path.exists() {
            let head = crate::ledger::open_read_only(path)
                .ok()
                .and_then(|c| {
                    c.query_row("SELECT MAX(seq) FROM ledger", [], |r| {
                        r.get::<_, Option<i64>>(0)
                    })
                    .ok()
                    .flatten()
                })
                .unwrap_or(0);
            if head > 0 {
                return Err(StorageError::NotEmpty { at, head });
            }
            return Err(StorageError::Usage(format!(
                "{at} exists: migrate writes a new ledger; give a path that does not exist yet"
            )));
        }
        let partial = partial_of(path);
        if partial.exists() {
            return Err(StorageError::Partial {
                at: partial.display().to_string(),
                what: "a SQLite copy that was never completed".into(),
            });
        }
        let ledger = |source| StorageError::Ledger {
            at: at.clone(),
            source,
        };
        let lock = crate::ledger::lock_writer(&partial).map_err(ledger)?;
        let conn = crate::ledger::open_schema(&partial).map_err(ledger)?;
        Ok(SqliteStorage {
            path: path.to_path_buf(),
            partial: Some(partial),
            conn: Some(conn),
            lock: Some(lock),
        })
    }

    /// A ledger to read from (the daemon may be writing it).
    pub fn open_read_only(path: &Path) -> Result<SqliteStorage> {
        let conn = crate::ledger::open_read_only(path).map_err(|source| StorageError::Ledger {
            at: path.display().to_string(),
            source,
        })?;
        Ok(SqliteStorage {
            path: path.to_path_buf(),
            partial: None,
            conn: Some(conn),
            lock: None,
        })
    }

    /// Runs `f` in one immediate (write) transaction and commits it.
    fn write<T>(&mut self, f: impl FnOnce(&Transaction<'_>, &str) -> Result<T>) -> Result<T> {
        let at = self.describe();
        let tx = self
            .conn()?
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&at))?;
        let out = f(&tx, &at)?;
        tx.commit().map_err(sqlite(&at))?;
        Ok(out)
    }

    fn conn(&mut self) -> Result<&mut Connection> {
        let at = self.describe();
        self.conn.as_mut().ok_or(StorageError::Usage(format!(
            "{at}: the storage was finished"
        )))
    }
}

/// A SQLite error, said of the storage at `at`.
pub(crate) fn sqlite(at: &str) -> impl Fn(rusqlite::Error) -> StorageError + Copy + '_ {
    move |source| StorageError::Sqlite {
        at: at.to_string(),
        source,
    }
}

/// The last entry's seq and hash.
fn head_in(conn: &Connection, at: &str) -> Result<Option<(i64, Hash)>> {
    let head: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, entry_hash FROM ledger ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sqlite(at))?;
    head.map(|(seq, h)| Ok((seq, hash_of(&h, at, "entry hash")?)))
        .transpose()
}

/// A `blobs` row: hash, codec, size, data, base.
type BlobRow = (Vec<u8>, String, i64, Vec<u8>, Option<Vec<u8>>);

fn entry_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<(RawEntry, Vec<u8>, Vec<u8>)> {
    let payload = match r.get_ref(4)? {
        ValueRef::Text(t) => Payload::Json(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Payload::Compact(b.to_vec()),
        _ => Payload::Json(String::new()),
    };
    Ok((
        RawEntry {
            seq: r.get(0)?,
            recorded_at: r.get(1)?,
            kind: r.get(2)?,
            url: r.get(3)?,
            payload,
            prev_hash: [0; 32],
            entry_hash: [0; 32],
            ref_seq: r.get(7)?,
        },
        r.get(5)?,
        r.get(6)?,
    ))
}

/// The contract on one SQLite connection, inside the caller's transaction
/// when it writes: what [`SqliteStorage`] runs in its own transactions, and
/// what the writer pushes from (and a replica pulls into) inside its own.
pub struct SqliteTx<'c> {
    conn: &'c Connection,
    at: String,
}

impl<'c> SqliteTx<'c> {
    /// `conn` must be in a write transaction for [`Storage::append`] and
    /// [`Storage::put_blobs`] to be all-or-nothing.
    pub fn new(conn: &'c Connection, at: &str) -> SqliteTx<'c> {
        SqliteTx {
            conn,
            at: at.to_string(),
        }
    }
}

impl Storage for SqliteTx<'_> {
    fn describe(&self) -> String {
        self.at.clone()
    }

    fn head(&mut self) -> Result<Option<(i64, Hash)>> {
        head_in(self.conn, &self.at)
    }

    fn append(&mut self, entries: &[RawEntry]) -> Result<()> {
        let (tx, at) = (self.conn, self.at.as_str());
        let sqlite = sqlite(at);
        // The head read inside the write transaction: the sequencer is the
        // write lock, and the chain is checked against what it holds.
        check_batch(at, head_in(tx, at)?, entries)?;
        for e in entries {
            let (text, bytes) = match &e.payload {
                Payload::Json(t) => (Some(t.as_str()), None),
                Payload::Compact(b) => (None, Some(b.as_slice())),
            };
            tx.prepare_cached(
                "INSERT INTO ledger (seq, recorded_at, kind, url, payload, prev_hash, entry_hash, ref_seq)
                 VALUES (?1, ?2, ?3, ?4, COALESCE(?5, ?6), ?7, ?8, ?9)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    e.seq,
                    e.recorded_at,
                    e.kind,
                    e.url,
                    text,
                    bytes,
                    e.prev_hash.to_vec(),
                    e.entry_hash.to_vec(),
                    e.ref_seq
                ])
            })
            .map_err(sqlite)?;
            merkle::store::on_append(tx, e.seq).map_err(sqlite)?;
        }
        Ok(())
    }

    fn entries(&mut self, from: i64, limit: usize) -> Result<Vec<RawEntry>> {
        let at = self.at.as_str();
        let sqlite = sqlite(at);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, recorded_at, kind, url, payload, prev_hash, entry_hash, ref_seq
                 FROM ledger WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(sqlite)?;
        let rows: Vec<(RawEntry, Vec<u8>, Vec<u8>)> = stmt
            .query_map(params![from, limit as i64], entry_of)
            .map_err(sqlite)?
            .collect::<rusqlite::Result<_>>()
            .map_err(sqlite)?;
        rows.into_iter()
            .map(|(mut e, prev, hash)| {
                e.prev_hash = hash_of(&prev, at, "prev_hash")?;
                e.entry_hash = hash_of(&hash, at, "entry_hash")?;
                Ok(e)
            })
            .collect()
    }

    fn put_blobs(&mut self, blobs: &[RawBlob]) -> Result<()> {
        let sqlite = sqlite(&self.at);
        for b in blobs {
            self.conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO blobs (hash, codec, size, data, base) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        b.hash.to_vec(),
                        b.codec,
                        b.size,
                        b.data,
                        b.base.map(|h| h.to_vec())
                    ])
                })
                .map_err(sqlite)?;
        }
        Ok(())
    }

    fn blobs_after(&mut self, after: Option<Hash>, limit: usize) -> Result<Vec<RawBlob>> {
        let at = self.at.as_str();
        let sqlite = sqlite(at);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT hash, codec, size, data, base FROM blobs WHERE hash > ?1 ORDER BY hash LIMIT ?2",
            )
            .map_err(sqlite)?;
        let after = after.map_or(Vec::new(), |h| h.to_vec());
        let rows: Vec<BlobRow> = stmt
            .query_map(params![after, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(sqlite)?
            .collect::<rusqlite::Result<_>>()
            .map_err(sqlite)?;
        rows.into_iter()
            .map(|(hash, codec, size, data, base)| {
                Ok(RawBlob {
                    hash: hash_of(&hash, at, "blob hash")?,
                    codec,
                    size,
                    data,
                    base: base.map(|b| hash_of(&b, at, "blob base")).transpose()?,
                })
            })
            .collect()
    }

    fn blob(&mut self, hash: &Hash) -> Result<Option<RawBlob>> {
        let at = self.at.as_str();
        let row: Option<BlobRow> = self
            .conn
            .prepare_cached("SELECT hash, codec, size, data, base FROM blobs WHERE hash = ?1")
            .and_then(|mut s| {
                s.query_row([hash.to_vec()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()
            })
            .map_err(sqlite(at))?;
        row.map(|(_, codec, size, data, base)| {
            Ok(RawBlob {
                hash: *hash,
                codec,
                size,
                data,
                base: base.map(|b| hash_of(&b, at, "blob base")).transpose()?,
            })
        })
        .transpose()
    }

    fn is_empty(&mut self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM ledger) AND NOT EXISTS (SELECT 1 FROM blobs)",
                [],
                |r| r.get(0),
            )
            .map_err(sqlite(&self.at))
    }

    fn interrupted_copy(&mut self) -> Result<Option<String>> {
        Ok(None)
    }

    fn begin_copy(&mut self, _from: &str) -> Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    fn left_behind(&mut self) -> Result<Vec<(&'static str, i64)>> {
        let mut out = Vec::new();
        for (name, sql) in [
            (
                "watch-list URLs",
                "SELECT COUNT(*) FROM watchlist WHERE retired_at IS NULL",
            ),
            (
                "queued webhook notifications",
                "SELECT COUNT(*) FROM notifications WHERE delivered_at IS NULL AND gave_up_at IS NULL",
            ),
            ("sources' cycle states", "SELECT COUNT(*) FROM source_state"),
        ] {
            let n: i64 = self
                .conn
                .query_row(sql, [], |r| r.get(0))
                .map_err(sqlite(&self.at))?;
            if n > 0 {
                out.push((name, n));
            }
        }
        Ok(out)
    }
}

impl SqliteStorage {
    /// The contract on this storage's connection, outside a transaction
    /// (reads) or inside one that [`SqliteStorage::write`] opened.
    fn on(&mut self) -> Result<SqliteTx<'_>> {
        let at = self.describe();
        Ok(SqliteTx::new(self.conn()?, &at))
    }
}

impl Storage for SqliteStorage {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn head(&mut self) -> Result<Option<(i64, Hash)>> {
        self.on()?.head()
    }

    fn append(&mut self, entries: &[RawEntry]) -> Result<()> {
        self.write(|tx, at| SqliteTx::new(tx, at).append(entries))
    }

    fn entries(&mut self, from: i64, limit: usize) -> Result<Vec<RawEntry>> {
        self.on()?.entries(from, limit)
    }

    fn put_blobs(&mut self, blobs: &[RawBlob]) -> Result<()> {
        self.write(|tx, at| SqliteTx::new(tx, at).put_blobs(blobs))
    }

    fn blobs_after(&mut self, after: Option<Hash>, limit: usize) -> Result<Vec<RawBlob>> {
        self.on()?.blobs_after(after, limit)
    }

    fn blob(&mut self, hash: &Hash) -> Result<Option<RawBlob>> {
        self.on()?.blob(hash)
    }

    fn is_empty(&mut self) -> Result<bool> {
        self.on()?.is_empty()
    }

    fn interrupted_copy(&mut self) -> Result<Option<String>> {
        // A copy in progress is a `.partial` file, which `create` refuses.
        Ok(None)
    }

    fn begin_copy(&mut self, _from: &str) -> Result<()> {
        Ok(())
    }

    /// The derived tables and tree nodes folded from the chain, as
    /// `newsledger rebuild` does (the lock is handed over to it); a copy
    /// is then renamed to its own name: complete, or not there at all.
    fn finish(&mut self) -> Result<()> {
        let Some(partial) = self.partial.take() else {
            return Ok(());
        };
        self.conn = None;
        let at = self.describe();
        let ledger = |source| StorageError::Ledger {
            at: at.clone(),
            source,
        };
        self.lock = None;
        crate::ledger::rebuild(&partial, false).map_err(ledger)?;
        let io = |e: std::io::Error| {
            StorageError::Usage(format!(
                "{at}: the complete copy could not be put in place: {e}"
            ))
        };
        // The last connection closed cleanly: the WAL is checkpointed into
        // the file and removed. Whatever is left moves with it.
        for suffix in ["-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", partial.display()));
            if from.exists() {
                std::fs::rename(&from, format!("{}{suffix}", self.path.display())).map_err(io)?;
            }
        }
        std::fs::rename(&partial, &self.path).map_err(io)?;
        let _ = std::fs::remove_file(format!("{}.lock", partial.display()));
        self.conn = Some(crate::ledger::open_read_only(&self.path).map_err(ledger)?);
        Ok(())
    }

    fn left_behind(&mut self) -> Result<Vec<(&'static str, i64)>> {
        self.on()?.left_behind()
    }
}

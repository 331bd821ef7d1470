//! The ledger's storage contract: one append-only log of entries under one
//! sequencer, checked as it is appended to (each entry the next seq, linked
//! to the head's hash, its own hash recomputed from its encoding), and the
//! content-addressed blobs its entries name. Two implementations keep it:
//! SQLite (`sqlite.rs`, the embedded default, the format every other part of
//! newsledger reads) and PostgreSQL (`postgres.rs`, one database that several
//! machines can share). Both store the same bytes and the same hashes, so a
//! ledger moves between them entry by entry (`migrate.rs`) and its head and
//! Merkle root are the same on both. `tests/storage_contract.rs` runs one
//! conformance suite against each (Tessera's model: independent
//! implementations of one narrow contract).
//!
//! What is still SQLite-only (issue 37): the writer, the derived tables,
//! the read commands, `serve` and `prove` read the SQLite schema directly.

pub mod migrate;
pub mod postgres;
pub mod replica;
pub mod sqlite;

use super::entry::{self, ZERO_HASH};
use super::merkle::{Hash, store::Builder};

/// An entry as stored: every column, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub seq: i64,
    pub recorded_at: String,
    pub kind: String,
    pub url: Option<String>,
    pub payload: Payload,
    pub prev_hash: Hash,
    pub entry_hash: Hash,
    /// The full entry a compact one repeats (encoding tag 2).
    pub ref_seq: Option<i64>,
}

/// The payload column: canonical JSON (encoding tag 1) or a compact entry's
/// binary payload (tag 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Json(String),
    Compact(Vec<u8>),
}

/// A blob as stored: named by the SHA-256 of its full bytes, kept whole
/// (`identity`, `zstd`) or as a delta against `base` (`zstd-delta`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBlob {
    pub hash: Hash,
    pub codec: String,
    pub size: i64,
    pub data: Vec<u8>,
    pub base: Option<Hash>,
}

/// Why the storage refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{at}: {source}")]
    Sqlite {
        at: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{at}: {message}")]
    Postgres {
        at: String,
        message: String,
        /// The connection or the server's state, worth trying again
        /// (not a refusal: a constraint, a permission, a bad statement).
        transient: bool,
    },
    #[error("{at}: {source}")]
    Ledger {
        at: String,
        #[source]
        source: super::LedgerError,
    },
    #[error("{at}: entry {seq} refused: {reason}; nothing of this append was stored")]
    Chain {
        at: String,
        seq: i64,
        reason: String,
    },
    #[error(
        "{at} already holds a ledger (head at entry {head}) or blobs: migrate only into an empty one (a new SQLite path, or a new PostgreSQL database)"
    )]
    NotEmpty { at: String, head: i64 },
    #[error(
        "{at} holds a partial copy from an interrupted migrate ({what}): it is not a ledger; delete it (or drop and create the database again), then run migrate again"
    )]
    Partial { at: String, what: String },
    #[error(
        "after copying, {from} and {to} differ: {what}; the copy in {to} is not the same ledger"
    )]
    Differ {
        from: String,
        to: String,
        what: String,
    },
    #[error(
        "the replica {replica} and the PostgreSQL ledger {shared} differ at entry {seq}: the shared log was rewritten, or the replica follows another ledger; keep both as evidence, run `newsledger verify --db URL`, and give this process a new replica path"
    )]
    Fork {
        replica: String,
        shared: String,
        seq: i64,
    },
    #[error(
        "the PostgreSQL ledger {shared} ends at entry {shared_head} but its replica {replica} holds entries up to {replica_head}: the shared log lost entries (restored from an older backup?); start `newsledger run` with this replica to put them back, or verify the database"
    )]
    SharedBehind {
        replica: String,
        shared: String,
        replica_head: i64,
        shared_head: i64,
    },
    #[error(
        "the replica {replica} follows another ledger than the one in {shared} (its `{replica}.shared-id` names another, or it holds a history of its own and the database is empty): point it at its own database, or give this one a new replica path; to put an existing ledger into PostgreSQL use `newsledger migrate`"
    )]
    OtherLedger { replica: String, shared: String },
    #[error("{0}")]
    Usage(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// The contract. Every method is all-or-nothing.
pub trait Storage {
    /// Where this storage is, for messages (a path, or a URL without its
    /// password).
    fn describe(&self) -> String;
    /// The last entry: its seq and hash; `None` for an empty log.
    fn head(&mut self) -> Result<Option<(i64, Hash)>>;
    /// Appends entries in order under the sequencer. Each must be the next
    /// seq, link to the head's hash and carry the hash its encoding gives
    /// ([`check_next`]); otherwise nothing of the call is stored.
    fn append(&mut self, entries: &[RawEntry]) -> Result<()>;
    /// Up to `limit` entries from seq `from` on, in order.
    fn entries(&mut self, from: i64, limit: usize) -> Result<Vec<RawEntry>>;
    /// Stores blobs; one already stored under its hash is kept as it is.
    fn put_blobs(&mut self, blobs: &[RawBlob]) -> Result<()>;
    /// Up to `limit` blobs after `after`, by hash.
    fn blobs_after(&mut self, after: Option<Hash>, limit: usize) -> Result<Vec<RawBlob>>;
    /// One blob.
    fn blob(&mut self, hash: &Hash) -> Result<Option<RawBlob>>;
    /// True when the storage holds no entry and no blob at all.
    fn is_empty(&mut self) -> Result<bool>;
    /// A copy that `migrate` began and did not finish, if there is one.
    fn interrupted_copy(&mut self) -> Result<Option<String>>;
    /// Marks the storage as a copy in progress, from `from`, until
    /// [`Storage::finish`].
    fn begin_copy(&mut self, from: &str) -> Result<()>;
    /// Brings what is derived from the log up to date after appends made
    /// outside the writer, and ends a copy in progress.
    fn finish(&mut self) -> Result<()>;
    /// The id of the ledger the storage holds, when it keeps one
    /// (PostgreSQL: `ledger_identity`, which replicas are bound to).
    fn identity(&mut self) -> Result<Option<String>> {
        Ok(None)
    }
    /// Takes another storage's ledger id (a copy is the same ledger: the
    /// replicas of the source follow the copy too).
    fn take_identity(&mut self, _id: &str) -> Result<()> {
        Ok(())
    }
    /// What the storage holds beside the record (the watch list, queued
    /// notifications, the sources' cycle state), by name and count: what a
    /// copy of the record leaves behind.
    fn left_behind(&mut self) -> Result<Vec<(&'static str, i64)>> {
        Ok(Vec::new())
    }
}

/// A PostgreSQL error with its causes (the crate's own text is "db error").
pub(crate) fn postgres_error(at: &str, e: &::postgres::Error) -> StorageError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    // SQLSTATE classes that pass: a lost connection (08), the server
    // short of resources (53) or shutting down, or a statement cancelled by
    // its timeout (57), a transaction rolled back (40), a lock not had in
    // time (55P03), a system error (58). Without a code: the connection (a
    // closed one, one that could not be made, a timeout), not a value that
    // did not convert.
    let transient = match e.code() {
        Some(c) => {
            matches!(c.code().get(..2), Some("08" | "53" | "57" | "40" | "58"))
                || c.code() == "55P03"
        }
        None => {
            let text = e.to_string();
            e.is_closed()
                || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
                || text.contains("connect")
                || text.contains("timeout")
        }
    };
    StorageError::Postgres {
        at: at.to_string(),
        message,
        transient,
    }
}

/// The chain check of one entry appended after `head`: the next seq, the
/// head's hash as `prev_hash`, and `entry_hash` as its encoding gives it.
pub fn check_next(head: Option<(i64, Hash)>, e: &RawEntry) -> std::result::Result<(), String> {
    let (seq, prev) = head.unwrap_or((0, ZERO_HASH));
    if entry::Kind::parse(&e.kind).is_none() {
        return Err(format!("its kind `{}` is not one the ledger knows", e.kind));
    }
    if e.ref_seq.is_some_and(|r| r < 1 || r >= e.seq) {
        return Err(format!(
            "it repeats entry {:?}, which does not come before it",
            e.ref_seq
        ));
    }
    if e.seq != seq + 1 {
        return Err(format!("it has seq {}, the next is {}", e.seq, seq + 1));
    }
    if e.prev_hash != prev {
        return Err(format!(
            "its prev_hash {} is not the hash of entry {seq} ({})",
            hex::encode(e.prev_hash),
            hex::encode(prev)
        ));
    }
    let computed = match (&e.payload, e.ref_seq) {
        (Payload::Json(text), None) => entry::entry_hash(
            e.seq,
            &e.recorded_at,
            &e.kind,
            e.url.as_deref(),
            text,
            &e.prev_hash,
        ),
        (Payload::Compact(bytes), Some(r)) if e.url.is_none() => {
            entry::entry_hash_v2(e.seq, &e.recorded_at, &e.kind, r, bytes, &e.prev_hash)
        }
        _ => return Err("its payload is neither a JSON entry nor a compact one".into()),
    };
    if computed != e.entry_hash {
        return Err(format!(
            "its entry_hash {} is not the hash of its encoding ({})",
            hex::encode(e.entry_hash),
            hex::encode(computed)
        ));
    }
    Ok(())
}

/// Checks a batch against the head, entry after entry; the head after it.
pub fn check_batch(
    at: &str,
    mut head: Option<(i64, Hash)>,
    entries: &[RawEntry],
) -> Result<Option<(i64, Hash)>> {
    for e in entries {
        check_next(head, e).map_err(|reason| StorageError::Chain {
            at: at.to_string(),
            seq: e.seq,
            reason,
        })?;
        head = Some((e.seq, e.entry_hash));
    }
    Ok(head)
}

/// What a log holds, read through the contract: its head, entry count and
/// the Merkle root over its entries (computed from the entries themselves,
/// each checked against the one before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub head: Option<(i64, Hash)>,
    pub entries: i64,
    pub root: Hash,
}

/// Entries read per page.
pub const PAGE: usize = 1000;

pub fn summarize(s: &mut dyn Storage) -> Result<Summary> {
    let upto = s.head()?.map_or(0, |(seq, _)| seq);
    summarize_upto(s, upto)
}

/// [`summarize`] of the entries up to seq `upto` (a log that may be growing
/// while it is read).
pub fn summarize_upto(s: &mut dyn Storage, upto: i64) -> Result<Summary> {
    let at = s.describe();
    let mut tree = Builder::default();
    let mut head = None;
    let mut from = 1;
    while from <= upto {
        let room = usize::try_from(upto - from + 1).unwrap_or(PAGE).min(PAGE);
        let page = s.entries(from, room)?;
        if page.is_empty() {
            break;
        }
        head = check_batch(&at, head, &page)?;
        for e in &page {
            tree.push(e.entry_hash, |_, _, _| {});
        }
        from += page.len() as i64;
    }
    if head.map_or(0, |(seq, _)| seq) != upto {
        return Err(StorageError::Chain {
            at,
            seq: from,
            reason: format!(
                "the storage names entry {upto} as its head but returns entries only up to {}",
                from - 1
            ),
        });
    }
    Ok(Summary {
        head,
        entries: tree.size() as i64,
        root: tree.root(),
    })
}

/// A storage named on the command line or in the configuration: a
/// `postgres://` or `postgresql://` URL, or a SQLite ledger's path.
/// `writable`: a new ledger to copy into (a SQLite path that does not exist
/// yet, or a PostgreSQL database the schema is made in); otherwise an
/// existing ledger, read and never changed.
pub fn open(target: &str, writable: bool) -> Result<Box<dyn Storage>> {
    if is_postgres(target) {
        return Ok(Box::new(if writable {
            postgres::PgStorage::connect(target)?
        } else {
            postgres::PgStorage::open_existing(target)?
        }));
    }
    // Anything else that looks like a connection string is not a path:
    // taken as one, it would make a file named after its password.
    let lower = target.to_ascii_lowercase();
    if lower.contains("://") || lower.contains("password=") || lower.starts_with("host=") {
        return Err(StorageError::Usage(format!(
            "`{}` is neither a SQLite path nor a postgres:// URL (write postgres://USER@HOST:PORT/DB; give the password in PGPASSWORD)",
            postgres::redact(target)
        )));
    }
    let path = std::path::Path::new(target);
    Ok(Box::new(if writable {
        sqlite::SqliteStorage::create(path)?
    } else {
        sqlite::SqliteStorage::open_read_only(path)?
    }))
}

/// True for a `postgres://` or `postgresql://` URL.
pub fn is_postgres(target: &str) -> bool {
    let lower = target.to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

fn hash_of(bytes: &[u8], at: &str, what: &str) -> Result<Hash> {
    bytes.try_into().map_err(|_| {
        StorageError::Usage(format!(
            "{at}: a {what} of {} bytes is not a SHA-256 hash",
            bytes.len()
        ))
    })
}

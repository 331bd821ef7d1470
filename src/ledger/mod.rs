//! The ledger: an append-only, hash-chained SQLite database.
//!
//! Invariant: nothing issues UPDATE or DELETE on `ledger` or `blobs`; the
//! triggers in `migrations/0001_ledger.sql` refuse them anyway.
//! Invariant: only the writer task ([`writer`]) holds a writable connection
//! while the daemon runs; every read command opens its own read-only one.

pub mod blobs;
pub mod checkpoints;
pub mod derive;
pub mod entry;
pub mod lists;
pub mod merkle;
pub mod prune;
pub mod read;
pub mod search;
pub mod storage;
pub mod verified;
pub mod verify;
pub mod writer;

mod append;
mod open;

pub use append::{Appended, append, append_compact, append_entry, head};
pub use open::{lock_writer, open_for_reading, open_read_only, open_schema, open_writable};
use open::{migrate, not_writable};

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, params};

pub use entry::{Checkpoint, Entry, Kind, ZERO_HASH};

/// Migrations, embedded in the binary and applied in order at open.
/// Operational state, not facts: what the daemon keeps in order to run
/// (each source's cycles, the watch list of discovered links, the webhook
/// outbox, how far retention has looked, when each migration ran). No read
/// shows these as evidence and `verify` does not check them; the forgery
/// test (`tests/forgery.rs`) holds them only to changing no read. `*` is the
/// whole table, else one column. Every other table beside `ledger` and
/// `blobs` is derived from the chain or decides how much `verify` checks.
pub const OPERATIONAL: &[(&str, &str)] = &[
    ("source_state", "*"),
    ("watchlist", "*"),
    ("notifications", "*"),
    ("retention_state", "*"),
    ("schema_version", "applied_at"),
];

/// The newest schema this newsledger knows.
pub fn schema_known() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_ledger.sql")),
    (2, include_str!("../../migrations/0002_notifications.sql")),
    (3, include_str!("../../migrations/0003_watchlist.sql")),
    (
        4,
        include_str!("../../migrations/0004_derived_from_chain.sql"),
    ),
    (
        5,
        include_str!("../../migrations/0005_watchlist_retired.sql"),
    ),
    (6, include_str!("../../migrations/0006_merkle.sql")),
    (7, include_str!("../../migrations/0007_blob_deltas.sql")),
    (8, include_str!("../../migrations/0008_retention.sql")),
    (9, include_str!("../../migrations/0009_compact_entries.sql")),
    (
        10,
        include_str!("../../migrations/0010_ledger_url_partial.sql"),
    ),
    (
        11,
        include_str!("../../migrations/0011_ledger_revisions.sql"),
    ),
    (12, include_str!("../../migrations/0012_ledger_events.sql")),
];

/// How many entries at the head the writer re-verifies before it appends.
pub const TAIL_CHECK: i64 = 1000;

/// How long a connection waits on a lock before reporting it.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{}{source}", path_prefix(path))]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "ledger {path} cannot be written ({source}): the user running newsledger must be able to write the file and its directory (SQLite creates {path}-wal and {path}-shm beside it)"
    )]
    NotWritable {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "ledger {path} cannot be written: its lock file {lock}: {source} (the user running newsledger must be able to write the ledger's directory)"
    )]
    LockFile {
        path: PathBuf,
        lock: PathBuf,
        #[source]
        source: std::io::Error,
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
    #[error(
        "ledger {path}: refusing to append: {reason}. Run `newsledger verify --db {path}` to see what is wrong"
    )]
    Refused { path: PathBuf, reason: String },
    /// Nothing is wrong with the ledger; what was asked is not done (the
    /// reason says how to ask for it).
    #[error("ledger {}: {reason}", path.display())]
    Declined { path: PathBuf, reason: String },
    #[error(
        "ledger {path} is in use by another newsledger process (lock {lock} is held); one writer per ledger: stop the other `run`/`once` first"
    )]
    Locked { path: PathBuf, lock: PathBuf },
    #[error(
        "the record at entry {seq} cannot be trusted: {reason}. Run `newsledger verify`; `newsledger rebuild` recomputes derived tables from the chain"
    )]
    Untrusted { seq: i64, reason: String },
    /// Bookkeeping beside the chain contradicts it (a derived table, the
    /// record of the last verify): what was found, in one sentence.
    #[error("{what}. Run `newsledger verify` to see what is wrong")]
    Tampered { what: String },
    #[error("blob {0} is missing from the ledger")]
    MissingBlob(String),
    #[error(
        "blob {hash} was removed by the source's retention rule (raw_max_age), as the `pruned` entry at seq {seq} records"
    )]
    PrunedBlob { hash: String, seq: i64 },
    #[error("blob {hash} is corrupt: {reason}")]
    CorruptBlob { hash: String, reason: String },
    /// The PostgreSQL ledger a replica records into failed or refused.
    #[error("ledger {}: {source}", path.display())]
    Shared {
        path: PathBuf,
        #[source]
        source: Box<storage::StorageError>,
    },
}

/// "ledger PATH: " when the path is known; queries made without it (read
/// commands, verify) say "reading the ledger: ".
fn path_prefix(path: &Path) -> String {
    match path.to_str() {
        Some("ledger" | "blobs" | "") => "reading the ledger: ".into(),
        _ => format!("ledger {}: ", path.display()),
    }
}

impl LedgerError {
    /// Wraps a SQLite error with the ledger path, for messages that say where.
    pub fn sqlite(path: &Path) -> impl FnOnce(rusqlite::Error) -> LedgerError + '_ {
        move |source| not_writable(path, source)
    }
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// RFC 3339 UTC with millisecond precision: the one timestamp format the
/// ledger writes, so that text order is time order.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What `rebuild` did.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub entries: i64,
    pub articles: usize,
    pub revisions: usize,
    pub changes: usize,
    pub fetch_state: usize,
    /// Derived rows that disagreed with the chain before the rebuild.
    pub differed: usize,
    /// Merkle tree nodes written.
    pub tree_nodes: u64,
}

/// Recomputes the derived tables from the chain, as the one writer. The
/// whole chain must verify first; derived tables that cite entries beyond
/// the head (a truncated ledger) are kept as evidence unless `force`.
pub fn rebuild(path: &Path, force: bool) -> Result<Rebuilt> {
    if !path.exists() {
        return Err(LedgerError::Missing(path.to_path_buf()));
    }
    let _lock = lock_writer(path)?;
    let mut conn = Connection::open(path).map_err(LedgerError::sqlite(path))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(LedgerError::sqlite(path))?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA recursive_triggers = ON;")
        .map_err(LedgerError::sqlite(path))?;
    record_schema_again(&mut conn, path)?;
    migrate(&mut conn, path)?;
    let report = verify::verify(&conn, None)?;
    if let Some(b) = &report.first_break {
        return Err(LedgerError::Refused {
            path: path.to_path_buf(),
            reason: format!("the chain is broken at seq {}: {}", b.seq, b.reason),
        });
    }
    let head_seq = report.head.as_ref().map_or(0, |h| h.seq);
    let cited = derive::store::cited_beyond(&conn, head_seq).map_err(LedgerError::sqlite(path))?;
    let verified = verified::last_verified(path).filter(|v| v.entries > head_seq);
    if !force {
        if let Some((table, seq)) = cited {
            return Err(LedgerError::Refused {
                path: path.to_path_buf(),
                reason: format!(
                    "table {table} cites entry {seq} but the ledger ends at seq {head_seq}: entries were removed (pass --force to rebuild anyway)"
                ),
            });
        }
        if let Some(v) = verified {
            return Err(LedgerError::Refused {
                path: path.to_path_buf(),
                reason: format!(
                    "this machine verified {} entries on {} but the ledger ends at seq {head_seq}: entries were removed (pass --force to rebuild anyway)",
                    v.entries, v.at
                ),
            });
        }
    }
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(LedgerError::sqlite(path))?;
    let replay = derive::store::rebuild(&tx).map_err(LedgerError::sqlite(path))?;
    let tree_nodes = merkle::store::rebuild(&tx).map_err(LedgerError::sqlite(path))?;
    // The ledger's own indexes are derived from its rows too.
    tx.execute_batch("REINDEX ledger;")
        .map_err(LedgerError::sqlite(path))?;
    tx.commit().map_err(LedgerError::sqlite(path))?;
    // The search index is derived too: the next `search` makes it again.
    search::remove_index(path);
    Ok(Rebuilt {
        tree_nodes,
        entries: head_seq,
        articles: replay.articles.len(),
        revisions: replay.revisions.len(),
        changes: replay.changes.len(),
        fetch_state: replay.fetch_state.len(),
        differed: report.derived.len(),
    })
}

/// `schema_version` is bookkeeping of what the ledger's structure already
/// shows: when it is missing, has lost rows or claims less than that
/// structure (`verify` reports it), `rebuild` records the migrations the
/// structure shows again, so that opening it does not apply them twice. A
/// version newer than this newsledger knows is left for `migrate` to refuse.
fn record_schema_again(conn: &mut Connection, path: &Path) -> Result<()> {
    let sqlite = LedgerError::sqlite(path);
    let structure = verify::structural_version(conn).map_err(LedgerError::sqlite(path))?;
    if structure == 0
        || verify::check_schema_version(conn, structure)
            .map_err(LedgerError::sqlite(path))?
            .is_empty()
    {
        return Ok(());
    }
    // Every migration from 1 to one newer than this newsledger: a ledger a
    // newer release wrote, not a damaged record.
    let (newest, count): (i64, i64) = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0), COUNT(*) FROM schema_version",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or((0, 0));
    if newest > schema_known() && count == newest {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(LedgerError::sqlite(path))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    INTEGER PRIMARY KEY,
             applied_at TEXT NOT NULL
         );
         DELETE FROM schema_version;",
    )
    .map_err(LedgerError::sqlite(path))?;
    for version in 1..=structure {
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            params![version, timestamp(Utc::now())],
        )
        .map_err(LedgerError::sqlite(path))?;
    }
    tx.commit().map_err(sqlite)?;
    tracing::warn!(ledger = %path.display(), structure, "schema_version recorded again from the ledger's structure");
    Ok(())
}

/// Before the first append: the chain's tail must verify, and the derived
/// tables must not cite entries the chain lacks. A ledger wiped beside its
/// derived rows, truncated, or altered at the head is refused; derived
/// tables behind the head (after a migration) are rebuilt from the chain.
fn check_before_append(conn: &mut Connection, path: &Path) -> Result<()> {
    let refuse = |reason: String| LedgerError::Refused {
        path: path.to_path_buf(),
        reason,
    };
    let head_seq = head(conn)
        .map_err(LedgerError::sqlite(path))?
        .map_or(0, |h| h.0);
    if let Some(v) = verified::last_verified(path).filter(|v| v.entries > head_seq) {
        return Err(refuse(format!(
            "the ledger ends at seq {head_seq} but this machine verified {} entries on {} ({}): entries were removed",
            v.entries,
            v.at,
            verified::verified_path(path).display()
        )));
    }
    if let Some((table, seq)) =
        derive::store::cited_beyond(conn, head_seq).map_err(LedgerError::sqlite(path))?
    {
        return Err(refuse(if head_seq == 0 {
            format!(
                "the ledger has no entries but table {table} cites entry {seq}: the ledger was emptied"
            )
        } else {
            format!(
                "table {table} cites entry {seq} but the ledger ends at seq {head_seq}: entries were removed"
            )
        }));
    }
    // Derived tables are a fold of the chain: one missing or altered is
    // made again and refilled (the evidence is the chain, not them).
    let damaged = derive::schema::damaged_tables(conn).map_err(LedgerError::sqlite(path))?;
    if !damaged.is_empty() {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(LedgerError::sqlite(path))?;
        derive::schema::recreate_tables(&tx).map_err(LedgerError::sqlite(path))?;
        tx.commit().map_err(LedgerError::sqlite(path))?;
        for (table, what) in &damaged {
            tracing::warn!(ledger = %path.display(), table, "derived table {what}: made again and rebuilt from the chain");
        }
    }
    let through = derive::store::through_seq(conn).map_err(LedgerError::sqlite(path))?;
    let derived_rows: i64 = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM articles) + (SELECT COUNT(*) FROM fetch_state) + (SELECT COUNT(*) FROM changes)",
            [],
            |r| r.get(0),
        )
        .map_err(LedgerError::sqlite(path))?;
    if head_seq == 0 && (through > 0 || derived_rows > 0) {
        return Err(refuse(format!(
            "the ledger has no entries but its derived tables hold {derived_rows} rows up to seq {through}: the ledger was emptied"
        )));
    }
    if through > head_seq {
        return Err(refuse(format!(
            "the derived tables include entries up to seq {through} but the ledger ends at seq {head_seq}: entries were removed"
        )));
    }
    if let Some(b) = verify::verify_tail(conn, TAIL_CHECK).map_err(LedgerError::sqlite(path))? {
        return Err(refuse(format!(
            "entry {} (within the last {TAIL_CHECK} entries) does not verify: {}",
            b.seq, b.reason
        )));
    }
    if through < head_seq {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(LedgerError::sqlite(path))?;
        let replay = derive::store::rebuild(&tx).map_err(LedgerError::sqlite(path))?;
        tx.commit().map_err(LedgerError::sqlite(path))?;
        tracing::info!(
            ledger = %path.display(),
            from_seq = through,
            to_seq = replay.through_seq,
            "derived tables rebuilt from the chain"
        );
    }
    // A ledger from before the tree (or one whose node table was emptied)
    // gets its nodes computed once, before anything is appended.
    // The nodes the daemon will sign roots from are held to the entries'
    // hashes (32 bytes an entry, about a second at a million entries): a
    // node table emptied, from before the tree, or altered is computed
    // again from the chain before anything is signed.
    let mut expected = merkle::store::Expected::default();
    {
        let mut stmt = conn
            .prepare("SELECT entry_hash FROM ledger ORDER BY seq")
            .map_err(LedgerError::sqlite(path))?;
        let mut rows = stmt.query([]).map_err(LedgerError::sqlite(path))?;
        while let Some(r) = rows.next().map_err(LedgerError::sqlite(path))? {
            let h = r
                .get_ref(0)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(LedgerError::sqlite(path))?;
            expected.push(h.try_into().unwrap_or([0; 32]));
        }
    }
    let (_, differing) = expected
        .compare(conn, 1)
        .map_err(LedgerError::sqlite(path))?;
    if differing > 0 {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(LedgerError::sqlite(path))?;
        let nodes = merkle::store::rebuild(&tx).map_err(LedgerError::sqlite(path))?;
        tx.commit().map_err(LedgerError::sqlite(path))?;
        tracing::info!(ledger = %path.display(), nodes, differing, "Merkle tree nodes computed from the chain");
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    fn page_size(c: &rusqlite::Connection) -> i64 {
        c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap()
    }

    /// New ledgers get 16 KiB pages; a ledger made with SQLite's default
    /// 4 KiB pages keeps them, is migrated, takes entries and verifies.
    #[test]
    fn new_ledgers_get_large_pages_and_old_ones_keep_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.db");
        assert_eq!(page_size(&super::open_writable(&new).unwrap()), 16384);

        let old = dir.path().join("old.db");
        {
            let c = rusqlite::Connection::open(&old).unwrap();
            c.execute_batch(
                "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t(x);",
            )
            .unwrap();
        }
        let c = super::open_writable(&old).unwrap();
        assert_eq!(page_size(&c), 4096);
        let report = super::verify::verify(&c, None).unwrap();
        assert!(report.first_break.is_none());
        assert!(report.entries >= 1, "the genesis entry is written");
    }

    /// Every lookup of an article's entries by URL uses the partial URL
    /// index (which leaves out compact entries): a full scan of the ledger
    /// would make `history` grow with the ledger, not with the article.
    #[test]
    fn url_lookups_use_the_partial_url_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let conn = super::open_writable(&path).unwrap();
        for query in [
            "SELECT seq FROM ledger WHERE url = ?1 ORDER BY seq",
            "SELECT url FROM ledger WHERE url = ?1 AND kind = 'revision'",
            "SELECT seq, payload FROM ledger WHERE url = ?1 AND kind = 'fetch' AND ref_seq IS NULL ORDER BY seq DESC LIMIT 1",
            "SELECT seq FROM ledger WHERE url = ?1 UNION ALL SELECT seq FROM ledger WHERE ref_seq IN
               (SELECT seq FROM ledger WHERE url = ?1 AND kind = 'fetch') ORDER BY seq",
            "SELECT 1 FROM ledger WHERE url = ?1 AND kind = 'revision' LIMIT 1",
            "SELECT DISTINCT url FROM ledger WHERE kind = 'revision' AND url IS NOT NULL",
        ] {
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap();
            let args: &[&str] = if query.contains("?2") {
                &["http://example.org/a", "http://example.org/z"]
            } else if query.contains("?1") {
                &["http://example.org/a"]
            } else {
                &[]
            };
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter()
                    .any(|p| ["ledger_url", "ledger_revisions", "ledger_revision_source"]
                        .iter()
                        .any(|i| p.contains(&format!("INDEX {i} ")))),
                "{query}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|p| p.starts_with("SCAN ledger") && !p.contains("INDEX")),
                "{query}: {plan:?}"
            );
            if query.contains("ORDER BY url, seq") {
                assert!(
                    !plan.iter().any(|p| p.contains("TEMP B-TREE")),
                    "{query}: {plan:?}"
                );
            }
        }
        let partial: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'ledger_url'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(partial.contains("WHERE url IS NOT NULL"), "{partial}");
    }

    /// A migration file that is not embedded would compile and never run.
    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        assert_eq!(files.len(), super::MIGRATIONS.len(), "{files:?}");
        for (i, (f, (v, sql))) in files.iter().zip(super::MIGRATIONS).enumerate() {
            assert_eq!(*v, i as i64 + 1);
            assert!(f.starts_with(&format!("{:04}_", v)), "{f}");
            assert_eq!(
                std::fs::read_to_string(format!("{dir}/{f}")).unwrap(),
                *sql,
                "{f}"
            );
        }
    }
}

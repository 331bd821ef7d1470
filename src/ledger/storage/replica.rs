//! A ledger kept in PostgreSQL, worked on through a replica: a SQLite
//! ledger on the process's own disk that is always a prefix of the
//! PostgreSQL log. Every part of newsledger that reads or writes SQLite
//! (the writer, the derived tables, the read commands, `serve`, `prove`)
//! works on the replica unchanged; the record itself is PostgreSQL's:
//!
//! - the writer pushes the entries of each transaction (and the blobs they
//!   name) through PostgreSQL's sequencer *before* the replica commits, so
//!   nothing is taken as recorded that the shared log does not hold, and
//!   an append another process made first is refused by the chain check
//!   (the replica pulls it, and the writer applies its fetches again);
//! - a reader pulls what it lacks before it reads. Each pulled entry passes
//!   the replica's checked append (its hash recomputed from its encoding,
//!   linked to the one before), the derived tables are folded from the
//!   chain again, and the entry both hold last is compared first: a shared
//!   log that was rewritten under a replica is refused, never followed.
//!
//! The derived tables are never copied from PostgreSQL: each replica folds
//! its own from entries it checked (facts come from the chain).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::migrate::copy_range;
use super::postgres::PgStorage;
use super::sqlite::SqliteTx;
use super::{Hash, Result, Storage, StorageError};

/// The PostgreSQL ledger a replica follows: connected when first used and
/// again after the connection is lost.
pub struct Upstream {
    url: String,
    at: String,
    /// Whose leases (holder, vantage) the writer's appends end.
    leases: Option<(String, String)>,
    /// The URLs whose leases the next push ends.
    ending: Vec<String>,
    /// Whether to make the schema in an empty database (the writer does; a
    /// reader never changes the database it reads).
    create: bool,
    pg: Option<PgStorage>,
    /// The server process of a connection lost after an error: ended
    /// before the next connection is used.
    lost: Option<i32>,
}

impl Upstream {
    pub fn new(url: &str, create: bool) -> Upstream {
        Upstream {
            url: url.to_string(),
            at: super::postgres::redact(url),
            leases: None,
            ending: Vec::new(),
            create,
            pg: None,
            lost: None,
        }
    }

    /// The writer of worker `holder` at `vantage` ends its leases with the
    /// appends that record their fetches.
    pub fn holding_leases(mut self, holder: &str, vantage: &str) -> Upstream {
        self.leases = Some((holder.to_string(), vantage.to_string()));
        self
    }

    /// The URLs whose leases the next push ends (a group's fetches).
    pub fn end_leases_with_next_push(&mut self, urls: Vec<String>) {
        self.ending = urls;
    }

    /// Where it is, without the password.
    pub fn describe(&self) -> &str {
        &self.at
    }

    /// The connection, made if there is none.
    pub fn storage(&mut self) -> Result<&mut PgStorage> {
        let pg = match self.pg.take() {
            Some(pg) => pg,
            None => {
                let mut pg = if self.create {
                    PgStorage::connect(&self.url)?
                } else {
                    PgStorage::open_existing(&self.url)?
                };
                if let Some(pid) = self.lost.take() {
                    pg.end_backend(pid);
                }
                pg
            }
        };
        Ok(self.pg.insert(pg))
    }

    /// Drops the connection after an error: the next use connects again
    /// (PostgreSQL may have restarted).
    pub fn reset(&mut self) {
        if let Some(pg) = self.pg.take() {
            self.lost = Some(pg.backend_pid());
        }
    }
}

/// More entries than this pulled at once are folded by folding the whole
/// chain again (streamed) rather than held and folded into their rows.
const FOLD_WHOLE_AFTER: i64 = 20_000;

/// What bringing a replica and its PostgreSQL ledger together did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Entries copied from PostgreSQL into the replica.
    pub pulled: i64,
    /// Entries copied from the replica to PostgreSQL (a replica that holds
    /// entries the shared log lost, or the genesis of a new ledger).
    pub pushed: i64,
    /// The head both hold now.
    pub head: i64,
}

/// Brings the replica (`conn`, in a write transaction the caller commits)
/// and PostgreSQL to the same head. The entry both hold last must be the
/// same; what PostgreSQL holds beyond it is pulled (and the derived tables
/// folded again); what the replica holds beyond it is pushed only when
/// `may_push` (the writer), else refused (a reader never writes the
/// shared log, and a shared log behind its replica lost entries).
pub fn reconcile(
    conn: &Transaction<'_>,
    at: &str,
    upstream: &mut Upstream,
    may_push: bool,
) -> Result<Reconciled> {
    let shared = upstream.describe().to_string();
    let pg = upstream.storage()?;
    let mut local = SqliteTx::new(conn, at);
    let mine = local.head()?;
    let theirs = pg.head()?;
    let (m, t) = (mine.map_or(0, |h| h.0), theirs.map_or(0, |h| h.0));
    // The ledger this replica follows, and the one the database holds.
    let id_file = PathBuf::from(format!("{at}.shared-id"));
    let followed = std::fs::read_to_string(&id_file)
        .ok()
        .map(|s| s.trim().to_string());
    let held = pg.ledger_id()?;
    if let (Some(f), Some(h)) = (&followed, &held)
        && f != h
    {
        return Err(StorageError::OtherLedger {
            replica: at.to_string(),
            shared,
        });
    }
    if followed.is_none() && t == 0 && m > 1 {
        // A replica with a history of its own, pointed at an empty
        // database: it is another ledger's copy, not this one's.
        return Err(StorageError::OtherLedger {
            replica: at.to_string(),
            shared,
        });
    }
    let common = m.min(t);
    if common > 0 {
        let a = entry_hash_at(&mut local, common)?;
        let b = entry_hash_at(pg, common)?;
        if a != b {
            return Err(StorageError::Fork {
                replica: at.to_string(),
                shared,
                seq: common,
            });
        }
    }
    let mut done = Reconciled {
        head: m.max(t),
        ..Reconciled::default()
    };
    if t > m {
        copy_range(pg, &mut local, m + 1, t, &mut HashSet::new(), |_| {})?;
        let got = local.head()?.map_or(0, |h| h.0);
        if got != t {
            return Err(StorageError::Differ {
                from: shared,
                to: at.to_string(),
                what: format!(
                    "PostgreSQL's sequencer names entry {t} as the head, but it returns entries only up to {got}"
                ),
            });
        }
        let sqlite = super::sqlite::sqlite(at);
        // A few entries are folded into the rows they touch; a new or far
        // behind replica folds the chain whole (streamed, not held).
        if m == 0 || t - m > FOLD_WHOLE_AFTER {
            crate::ledger::derive::store::rebuild(conn).map_err(sqlite)?;
        } else {
            let anomalies =
                crate::ledger::derive::appended::fold_appended(conn, m).map_err(sqlite)?;
            for (seq, reason) in anomalies {
                tracing::warn!(replica = %at, seq, %reason, "a pulled entry contradicts the ones before it; `newsledger verify` names it");
            }
        }
        done.pulled = t - m;
    } else if m > t {
        if !may_push {
            return Err(StorageError::SharedBehind {
                replica: at.to_string(),
                shared,
                replica_head: m,
                shared_head: t,
            });
        }
        copy_range(&mut local, pg, t + 1, m, &mut HashSet::new(), |_| {})?;
        done.pushed = m - t;
    }
    if let (None, Some(h)) = (followed, held) {
        std::fs::write(&id_file, format!("{h}\n")).map_err(|e| {
            StorageError::Usage(format!("{}: cannot be written: {e}", id_file.display()))
        })?;
    }
    Ok(done)
}

fn entry_hash_at(s: &mut dyn Storage, seq: i64) -> Result<Hash> {
    s.entries(seq, 1)?
        .into_iter()
        .find(|e| e.seq == seq)
        .map(|e| e.entry_hash)
        .ok_or_else(|| StorageError::Chain {
            at: s.describe(),
            seq,
            reason: "the storage names it as part of its log but does not return it".into(),
        })
}

/// Pushes the entries the replica's open transaction appended, after seq
/// `after` up to its head `upto` (and the blobs they name), to PostgreSQL.
/// Called before the replica commits: when this fails, the transaction is
/// rolled back and nothing of it is recorded anywhere.
pub fn push(
    conn: &Connection,
    at: &str,
    upstream: &mut Upstream,
    after: i64,
    upto: i64,
) -> Result<()> {
    let mut local = SqliteTx::new(conn, at);
    let ending = std::mem::take(&mut upstream.ending);
    let leases = upstream.leases.clone();
    let pg = upstream.storage()?;
    if let Some((holder, vantage)) = leases {
        pg.end_leases_on_next_append(super::postgres::EndLeases {
            urls: ending,
            vantage,
            holder,
        });
    }
    copy_range(&mut local, pg, after + 1, upto, &mut HashSet::new(), |_| {})?;
    Ok(())
}

/// Whether a failed push or pull is worth trying again: the connection
/// (PostgreSQL restarting, the network) rather than the record. A refused
/// append (another process appended first) is not: the replica must pull.
pub fn is_transient(e: &StorageError) -> bool {
    matches!(
        e,
        StorageError::Postgres {
            transient: true,
            ..
        }
    )
}

/// How long the writer keeps trying to reach PostgreSQL before it reports
/// the fetches it holds as not recorded: long enough for a restart or a
/// failover, short enough that a stop (`systemctl stop`) is not held up
/// past its timeout by a database that is gone.
pub const RETRY_FOR: Duration = Duration::from_secs(60);

/// Waits before the next try: 0.25 s doubling to 4 s. `false` when the
/// time to keep trying, from `since`, is over.
pub fn back_off(attempt: u32, since: Instant) -> bool {
    if since.elapsed() >= RETRY_FOR {
        return false;
    }
    let wait = Duration::from_millis(250u64 << attempt.min(4));
    std::thread::sleep(wait.min(RETRY_FOR.saturating_sub(since.elapsed())));
    true
}

/// Where a read command keeps its replica of the PostgreSQL ledger at
/// `url` when the configuration names none: the user's cache directory
/// (`$XDG_CACHE_HOME`, else `~/.cache`), one file per database (named by a
/// hash of the URL without its password).
pub fn default_path(url: &str) -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .ok_or_else(|| {
            StorageError::Usage(
                "no cache directory for the replica of a PostgreSQL ledger (set XDG_CACHE_HOME or HOME, or name the replica as `path` in [ledger])".into(),
            )
        })?;
    let name = crate::canonical::hash_hex(super::postgres::redact(url).as_bytes());
    Ok(base
        .join("newsledger")
        .join("replicas")
        .join(format!("{}.db", name.get(..16).unwrap_or(&name))))
}

/// Brings a reader's replica up to the PostgreSQL ledger at `url` (made,
/// without a genesis of its own, if it does not exist). `None` when a
/// newsledger writer holds the replica: that process keeps it at
/// PostgreSQL's head, and the reader reads it as it is.
pub fn follow(url: &str, path: &Path) -> Result<Option<Reconciled>> {
    let at = path.display().to_string();
    let ledger = |source| StorageError::Ledger {
        at: at.clone(),
        source,
    };
    let _lock = match crate::ledger::lock_writer(path) {
        Ok(l) => l,
        Err(crate::ledger::LedgerError::Locked { .. }) => return Ok(None),
        Err(e) => return Err(ledger(e)),
    };
    let mut upstream = Upstream::new(url, false);
    // Reach PostgreSQL before a new replica file is made.
    upstream.storage()?;
    let mut conn = crate::ledger::open_schema(path).map_err(ledger)?;
    let sqlite = super::sqlite::sqlite(&at);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    let done = reconcile(&tx, &at, &mut upstream, false)?;
    tx.commit().map_err(sqlite)?;
    Ok(Some(done))
}

/// What `verify` found comparing a PostgreSQL ledger with its replica.
#[derive(Debug, Clone)]
pub struct Audited {
    /// PostgreSQL's log up to the replica's head, read on its own bytes,
    /// every entry checked against the one before it: head, length, root.
    pub shared: super::Summary,
    /// Entries PostgreSQL holds beyond the replica's head (appended since
    /// the replica was brought up to it).
    pub beyond: i64,
    /// Blobs both hold, byte for byte the same.
    pub blobs_same: u64,
    /// Blobs PostgreSQL holds that the replica does not (not named by an
    /// entry: an append that failed after its blobs went up).
    pub blobs_extra: u64,
}

/// Reads the PostgreSQL ledger at `url` up to the replica's head: every
/// entry's hash recomputed and linked on PostgreSQL's own bytes (not the
/// replica's copy), the Merkle root compared with the replica's over the
/// same entries, the sequencer row against the last row, and the blobs of
/// both compared in both directions. A row rewritten or removed in
/// PostgreSQL after a replica pulled it shows here.
pub fn audit(url: &str, replica: &Path) -> Result<Audited> {
    let mut pg = PgStorage::open_existing(url)?;
    let mut local = super::sqlite::SqliteStorage::open_read_only(replica)?;
    let (from, to) = (pg.describe(), local.describe());
    let differ = |what: String| StorageError::Differ {
        from: from.clone(),
        to: to.clone(),
        what,
    };
    let upto = local.head()?.map_or(0, |h| h.0);
    let super::postgres::SequencerAndRows {
        head,
        rows,
        last: last_hash,
    } = pg.sequencer_and_rows()?;
    let head_seq = head.map_or(0, |h| h.0);
    if head_seq != rows || head.map(|h| h.1) != last_hash {
        return Err(differ(format!(
            "PostgreSQL's sequencer names entry {head_seq} as its head, but its ledger table holds {rows} entries ending in another hash: rows were added or removed around the sequencer"
        )));
    }
    if head_seq < upto {
        return Err(differ(format!(
            "PostgreSQL ends at entry {head_seq}, the replica at {upto}: entries were removed from the shared log (or it was restored from an older backup)"
        )));
    }
    let shared = super::summarize_upto(&mut pg, upto)?;
    let mine = super::summarize_upto(&mut local, upto)?;
    if mine != shared {
        return Err(differ(format!(
            "PostgreSQL's first {} entries have Merkle root {}, the replica's {}",
            shared.entries,
            hex::encode(shared.root),
            hex::encode(mine.root)
        )));
    }
    // Both blob lists in hash order, walked side by side.
    let (mut blobs_same, mut blobs_extra) = (0, 0);
    let (mut theirs, mut ours) = (Pages::default(), Pages::default());
    loop {
        let (t, o) = (theirs.peek(&mut pg)?, ours.peek(&mut local)?);
        let (next_theirs, next_ours) = match (t, o) {
            (None, None) => break,
            (Some(t), Some(o)) if t.hash == o.hash => {
                if t != o {
                    return Err(differ(format!(
                        "blob {} is not the same bytes",
                        hex::encode(t.hash)
                    )));
                }
                blobs_same += 1;
                (true, true)
            }
            (Some(t), o) if o.is_none_or(|o| t.hash < o.hash) => {
                blobs_extra += 1;
                (true, false)
            }
            (_, o) => {
                return Err(differ(format!(
                    "blob {} is in the replica but not in PostgreSQL",
                    o.map_or_else(String::new, |o| hex::encode(o.hash))
                )));
            }
        };
        if next_theirs {
            theirs.next();
        }
        if next_ours {
            ours.next();
        }
    }
    Ok(Audited {
        beyond: head_seq - upto,
        shared,
        blobs_same,
        blobs_extra,
    })
}

/// Blobs read a page at a time, in hash order.
#[derive(Default)]
struct Pages {
    page: std::collections::VecDeque<super::RawBlob>,
    after: Option<Hash>,
    done: bool,
}

impl Pages {
    fn peek(&mut self, s: &mut dyn Storage) -> Result<Option<&super::RawBlob>> {
        if self.page.is_empty() && !self.done {
            let page = s.blobs_after(self.after, 256)?;
            self.done = page.is_empty();
            self.after = page.last().map(|b| b.hash).or(self.after);
            self.page.extend(page);
        }
        Ok(self.page.front())
    }

    fn next(&mut self) {
        self.page.pop_front();
    }
}

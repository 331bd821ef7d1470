//! The ledger writer: the one owner of the writable connection.
//!
//! Other tasks send it complete records; each record is applied in one
//! transaction (a fetch, the revision or removal it implies, its blobs and
//! the derived tables), so a crash leaves all of it or none of it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::{Value, json};

mod apply;
mod handle;
mod notify;
pub mod prepare;

pub use handle::WriterHandle;

use super::{Kind, LedgerError, Result, append, blobs, timestamp};
use crate::config::{ExtractOverrides, KeepRaw, Webhook};
use crate::exchange::FetchResult;
use crate::extract::Article;
use apply::apply_in;
use notify::enqueue;

/// A fetch and what extraction made of it, ready to be recorded.
#[derive(Debug, Clone)]
pub struct FetchReport {
    pub source: String,
    pub keep_raw: KeepRaw,
    pub result: FetchResult,
    /// The extracted article, for a 2xx HTML response.
    pub article: Option<Article>,
    /// Why the response was not extracted (e.g. not HTML), if it was not.
    pub skipped: Option<String>,
    /// The source's extraction overrides (to re-extract an old capture).
    pub overrides: ExtractOverrides,
    /// Hashes, packed blobs and the diff, done before the writer
    /// ([`prepare::prepare`]); what is missing the writer does itself.
    pub prepared: prepare::Prepared,
}

/// The outcome of a fetch, as recorded in its `fetch` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    New,
    Unchanged,
    Changed,
    NotModified,
    Failed,
    Gone,
    Skipped,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::New,
        Outcome::Unchanged,
        Outcome::Changed,
        Outcome::NotModified,
        Outcome::Failed,
        Outcome::Gone,
        Outcome::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::New => "new",
            Outcome::Unchanged => "unchanged",
            Outcome::Changed => "changed",
            Outcome::NotModified => "not_modified",
            Outcome::Failed => "failed",
            Outcome::Gone => "gone",
            Outcome::Skipped => "skipped",
        }
    }
}

/// What kind of step a new revision (or removal) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// An article seen for the first time: an event, not an edit.
    New,
    /// The text changed: flagged.
    Changed,
    /// Only published/modified metadata changed: recorded, not an edit.
    Metadata,
    /// The text returned to an earlier revision's: recorded as a reversion.
    Reverted,
    /// The article answered 404/410 after being seen: flagged.
    Gone,
    /// A new extractor reads the old capture the same way: not an edit.
    Rebaseline,
    /// The article answers again after it was gone: flagged.
    Restored,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Changed => "changed",
            ChangeKind::Metadata => "metadata",
            ChangeKind::Reverted => "reverted",
            ChangeKind::Gone => "gone",
            ChangeKind::Rebaseline => "rebaseline",
            ChangeKind::Restored => "restored",
        }
    }
}

/// A recorded change, for the log line and the cycle report.
#[derive(Debug, Clone)]
pub struct Flag {
    pub kind: ChangeKind,
    pub url: String,
    pub from_revision: Option<i64>,
    pub to_revision: Option<i64>,
    pub fields: Vec<String>,
    pub words_added: u64,
    pub words_removed: u64,
    /// Words in the body before the change.
    pub words_before: u64,
    pub declared: bool,
    pub seq: i64,
    /// A few changed passages with context.
    pub excerpt: Vec<String>,
    /// The title before and after, when the title changed (or the new
    /// article's title).
    pub title_from: Option<String>,
    pub title_to: Option<String>,
    /// Headline, byline and dates that changed, as (field, before, after).
    pub metadata: Vec<(&'static str, String, String)>,
    /// How much an edit matters ([`crate::diff::significance`]).
    pub significance: Option<crate::diff::significance::Significance>,
}

/// What the writer did with one fetch report.
#[derive(Debug, Clone)]
pub struct Applied {
    pub outcome: Outcome,
    pub fetch_seq: i64,
    /// The URL fetched (a feed, a sitemap or an article).
    pub requested_url: String,
    pub article_url: Option<String>,
    pub revision: Option<i64>,
    /// What was recorded beside the fetch: a change, a reversion, a removal,
    /// a restoration (a restored page with a new text has two).
    pub flags: Vec<Flag>,
    pub error: Option<String>,
    /// Why the extracted text may not be the article (recorded in the
    /// fetch entry as `weak_extraction`).
    pub weak: Option<crate::extract::Weakness>,
}

/// Owns the writable connection.
pub struct Writer {
    conn: Connection,
    path: PathBuf,
    /// The one-writer lock; declared after `conn` so it is released last.
    _lock: std::fs::File,
    /// Webhooks that get a notification queued with each flagged change.
    webhooks: Vec<Webhook>,
}

/// A queued webhook notification that is due.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub webhook: String,
    pub body: String,
    pub attempts: i64,
}

/// After this many failed attempts a notification is given up (with its
/// last error kept): about four days of backoff.
pub const MAX_ATTEMPTS: i64 = 30;

/// Delay before attempt `attempts + 1`: 5 s doubling to at most an hour,
/// spread by ±20% (by id) so that a recovering receiver is not hit at once.
pub fn backoff(attempts: i64, id: i64) -> chrono::Duration {
    let base = 5i64.saturating_mul(1i64 << attempts.clamp(0, 20)).min(3600);
    let spread = (id.wrapping_mul(2_654_435_761) % 41 - 20) as f64 / 100.0;
    chrono::Duration::milliseconds((base as f64 * 1000.0 * (1.0 + spread)) as i64)
}

impl Writer {
    pub fn open(path: &Path) -> Result<Writer> {
        let lock = super::lock_writer(path)?;
        Ok(Writer {
            conn: super::open_writable(path)?,
            path: path.to_path_buf(),
            _lock: lock,
            webhooks: Vec::new(),
        })
    }

    pub fn set_webhooks(&mut self, webhooks: Vec<Webhook>) {
        self.webhooks = webhooks;
    }

    /// Notifications due at `now`, oldest first.
    pub fn due_notifications(&mut self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Pending>> {
        let path = self.path.clone();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, webhook, body, attempts FROM notifications
                 WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= ?1
                 ORDER BY id LIMIT ?2",
            )
            .map_err(LedgerError::sqlite(&path))?;
        let rows = stmt
            .query_map(params![timestamp(now), limit as i64], |r| {
                Ok(Pending {
                    id: r.get(0)?,
                    webhook: r.get(1)?,
                    body: r.get(2)?,
                    attempts: r.get(3)?,
                })
            })
            .map_err(LedgerError::sqlite(&path))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(LedgerError::sqlite(&path))?;
        drop(stmt);
        // The outbox is operational state: a body is sent only if the event
        // it reports is what the chain records (the same fold as
        // `changes`). One that is not is given up, never sent.
        let mut out = Vec::with_capacity(rows.len());
        for n in rows {
            let configured = self.webhooks.iter().any(|w| w.url.as_str() == n.webhook);
            let checked = if configured {
                super::read::check_notification(&self.conn, &n.body)
            } else {
                Err(format!("{} is not a configured webhook", n.webhook))
            };
            match checked {
                Ok(()) => out.push(n),
                Err(why) => {
                    tracing::error!(webhook = %n.webhook, id = n.id, "webhook notification not sent: {why}");
                    self.conn
                        .execute(
                            "UPDATE notifications SET gave_up_at = ?2, last_error = ?3 WHERE id = ?1",
                            params![n.id, timestamp(now), format!("not sent: {why}")],
                        )
                        .map_err(LedgerError::sqlite(&path))?;
                }
            }
        }
        Ok(out)
    }

    /// Adds discovered article URLs to a source's watch list, in order, until
    /// `limit` new ones were added; returns how many were new. The rest wait
    /// for a later cycle (their document lists them again).
    pub fn add_watch(
        &mut self,
        source: &str,
        found: &[(String, String, Option<String>)],
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let path = self.path.clone();
        let tx = self.begin()?;
        let mut added = 0;
        for (url, via, published) in found {
            if added >= limit {
                break;
            }
            added += tx
                .execute(
                    "INSERT OR IGNORE INTO watchlist (url, source, discovered_at, via, published) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![url, source, timestamp(now), via, published],
                )
                .map_err(LedgerError::sqlite(&path))?;
        }
        tx.commit().map_err(LedgerError::sqlite(&path))?;
        Ok(added)
    }

    /// Retires watch-list articles the revisit ladder will never fetch again
    /// (the rows stay, so rediscovery does not add them as new).
    pub fn retire_watched(&mut self, urls: &[String], now: DateTime<Utc>) -> Result<()> {
        let path = self.path.clone();
        let tx = self.begin()?;
        for url in urls {
            tx.execute(
                "UPDATE watchlist SET retired_at = ?2 WHERE url = ?1 AND retired_at IS NULL",
                params![url, timestamp(now)],
            )
            .map_err(LedgerError::sqlite(&path))?;
        }
        tx.commit().map_err(LedgerError::sqlite(&path))
    }

    /// Records one delivery attempt.
    pub fn notification_attempted(
        &mut self,
        id: i64,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let path = self.path.clone();
        let attempts = self
            .conn
            .query_row(
                "SELECT attempts FROM notifications WHERE id = ?1",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .map_err(LedgerError::sqlite(&path))?
            + 1;
        let at = timestamp(now);
        let result = match error {
            None => self.conn.execute(
                "UPDATE notifications SET attempts = ?2, delivered_at = ?3, last_error = NULL WHERE id = ?1",
                params![id, attempts, at],
            ),
            Some(e) if attempts >= MAX_ATTEMPTS => self.conn.execute(
                "UPDATE notifications SET attempts = ?2, gave_up_at = ?3, last_error = ?4 WHERE id = ?1",
                params![id, attempts, at, e],
            ),
            Some(e) => self.conn.execute(
                "UPDATE notifications SET attempts = ?2, next_attempt_at = ?3, last_error = ?4 WHERE id = ?1",
                params![id, attempts, timestamp(now + backoff(attempts - 1, id)), e],
            ),
        };
        result.map_err(LedgerError::sqlite(&path))?;
        Ok(())
    }

    /// Runs `f` in one immediate transaction and commits what it wrote.
    fn in_tx<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>) -> Result<T> {
        let path = self.path.clone();
        let tx = self.begin()?;
        let out = f(&tx).map_err(LedgerError::sqlite(&path))?;
        tx.commit().map_err(LedgerError::sqlite(&path))?;
        Ok(out)
    }

    fn begin(&mut self) -> Result<Transaction<'_>> {
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(LedgerError::sqlite(&path))
    }

    /// Records a source's configuration if it is new or changed. Returns the
    /// seq of the `source` entry written, if one was.
    /// Appends a signed checkpoint if entries were appended since the last.
    pub fn checkpoint(
        &mut self,
        signer: &crate::note::Signer,
        origin: &str,
        replaces: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::ledger::checkpoints::Made>> {
        use crate::ledger::checkpoints::{CheckpointError, make_checkpoint};
        let path = self.path.clone();
        let tx = self.begin()?;
        let made = match make_checkpoint(&tx, signer, origin, replaces, now) {
            Ok(m) => m,
            Err(CheckpointError::Sqlite(e)) => return Err(LedgerError::sqlite(&path)(e)),
            Err(e @ CheckpointError::OriginChanged { .. }) => {
                return Err(LedgerError::Declined {
                    path,
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                return Err(LedgerError::Refused {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        tx.commit().map_err(LedgerError::sqlite(&path))?;
        Ok(made)
    }

    /// Records a checked RFC 3161 reply for a checkpoint.
    pub fn record_timestamp(
        &mut self,
        checkpoint_seq: i64,
        tsa: &str,
        reply: &[u8],
        stamped: &crate::ledger::checkpoints::Stamped,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.in_tx(|tx| {
            crate::ledger::checkpoints::record_timestamp(
                tx,
                checkpoint_seq,
                tsa,
                reply,
                stamped,
                now,
            )
        })
    }

    /// Records a witness's cosignature lines for a checkpoint.
    pub fn record_cosignatures(
        &mut self,
        checkpoint_seq: i64,
        witness: &str,
        lines: &[String],
        verified: bool,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.in_tx(|tx| {
            crate::ledger::checkpoints::record_cosignatures(
                tx,
                checkpoint_seq,
                witness,
                lines,
                verified,
                now,
            )
        })
    }

    pub fn record_source(
        &mut self,
        name: &str,
        config: &Value,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let canonical = super::entry::canonical_json(config);
        let hash = blobs::hash_hex(canonical.as_bytes());
        let path = self.path.clone();
        let tx = self.begin()?;
        let known: Option<Option<String>> = tx
            .query_row(
                "SELECT config_hash FROM source_state WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(LedgerError::sqlite(&path))?;
        if known.flatten().as_deref() == Some(hash.as_str()) {
            return Ok(None);
        }
        let payload = json!({ "name": name, "config": config, "config_hash": hash });
        let seq =
            append(&tx, Kind::Source, None, &payload, now).map_err(LedgerError::sqlite(&path))?;
        tx.execute(
            "INSERT INTO source_state (name, config_hash) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET config_hash = excluded.config_hash",
            params![name, hash],
        )
        .map_err(LedgerError::sqlite(&path))?;
        tx.commit().map_err(LedgerError::sqlite(&path))?;
        Ok(Some(seq))
    }

    /// Notes that a source's cycle started (for resuming after a stop).
    pub fn cycle_started(&mut self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let path = self.path.clone();
        self.conn
            .execute(
                "INSERT INTO source_state (name, cycle_started_at) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET cycle_started_at = excluded.cycle_started_at",
                params![name, timestamp(at)],
            )
            .map_err(LedgerError::sqlite(&path))?;
        Ok(())
    }

    /// Notes that a source's cycle finished, with its counts and next run
    /// (and `failing_cycles`, [`with_failing_streak`]).
    pub fn cycle_finished(
        &mut self,
        name: &str,
        at: DateTime<Utc>,
        next_run: Option<DateTime<Utc>>,
        counts: &Value,
        last_error: Option<&str>,
    ) -> Result<()> {
        let path = self.path.clone();
        let counts = with_failing_streak(&self.conn, name, counts);
        self.conn
            .execute(
                "INSERT INTO source_state (name, last_cycle_at, next_run_at, counts_json, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(name) DO UPDATE SET last_cycle_at = excluded.last_cycle_at,
                   next_run_at = excluded.next_run_at, counts_json = excluded.counts_json,
                   last_error = excluded.last_error",
                params![name, timestamp(at), next_run.map(timestamp), counts.to_string(), last_error],
            )
            .map_err(LedgerError::sqlite(&path))?;
        Ok(())
    }

    /// Records several fetches in one transaction, so that they share one
    /// commit (one fsync): a group commit. A fetch that fails leaves
    /// nothing of itself and the others are still recorded; a failed commit
    /// records none of them (and every one gets the error). Results are
    /// only returned after the commit: nothing is reported recorded that is
    /// not durable.
    ///
    /// The group is applied without savepoints: when a fetch fails, the
    /// whole transaction is rolled back and the group applied again without
    /// it. Each fetch is thus applied, or fails, on the state that one
    /// transaction per fetch would have given it, and the common case (no
    /// failure) pays no savepoint (SQLite copies every page a savepoint
    /// first touches, 16 KiB each, into its undo journal). A failure that
    /// SQLite answers by rolling back the transaction itself (a full disk,
    /// `RAISE(ROLLBACK)`) is handled the same way, where a savepoint would
    /// have been gone with it.
    pub fn apply_group(&mut self, reports: &[&FetchReport]) -> Vec<Result<Applied>> {
        let path = self.path.clone();
        let webhooks = std::mem::take(&mut self.webhooks);
        // The error of each report that failed, in an attempt rolled back.
        let mut failed: Vec<Option<LedgerError>> = reports.iter().map(|_| None).collect();
        let mut applied = Vec::new().into_iter();
        while failed.iter().any(Option::is_none) {
            match self.attempt(reports, &failed, &webhooks) {
                Attempt::Committed(a) => {
                    applied = a.into_iter();
                    break;
                }
                Attempt::Failed(i, e) => {
                    if let Some(slot) = failed.get_mut(i) {
                        *slot = Some(LedgerError::sqlite(&path)(e));
                    }
                }
                Attempt::Refused(e) => {
                    for slot in failed.iter_mut().filter(|f| f.is_none()) {
                        *slot = Some(LedgerError::sqlite(&path)(copy_error(&e)));
                    }
                }
            }
        }
        self.webhooks = webhooks;
        // The committed attempt applied exactly the reports that did not fail.
        failed
            .into_iter()
            .map(|f| match f {
                Some(e) => Err(e),
                None => applied
                    .next()
                    .ok_or_else(|| LedgerError::sqlite(&path)(rusqlite::Error::InvalidQuery)),
            })
            .collect()
    }

    /// One transaction applying every report that has not failed, committed
    /// only if all of them applied.
    fn attempt(
        &mut self,
        reports: &[&FetchReport],
        failed: &[Option<LedgerError>],
        webhooks: &[Webhook],
    ) -> Attempt {
        let tx = match self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Ok(tx) => tx,
            Err(e) => return Attempt::Refused(e),
        };
        let mut applied = Vec::with_capacity(reports.len());
        for (i, (report, _)) in reports
            .iter()
            .zip(failed)
            .enumerate()
            .filter(|(_, (_, f))| f.is_none())
        {
            let now = Utc::now();
            let one = apply_in(&tx, report, now).and_then(|a| {
                for flag in &a.flags {
                    enqueue(&tx, webhooks, &report.source, flag, now)?;
                }
                Ok(a)
            });
            match one {
                Ok(a) => applied.push(a),
                // Dropping the transaction rolls it back (when SQLite has
                // not already).
                Err(e) => return Attempt::Failed(i, e),
            }
        }
        match tx.commit() {
            Ok(()) => Attempt::Committed(applied),
            Err(e) => Attempt::Refused(e),
        }
    }

    /// Applies a source's retention rule if it is due (at most once a day,
    /// or once per `max_age` when that is shorter): raw captures of fetches
    /// older than `max_age` are named in a `pruned` entry and removed.
    pub fn retain(
        &mut self,
        source: &str,
        max_age: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<super::prune::Pruned>> {
        let every = chrono::Duration::from_std(max_age.min(std::time::Duration::from_secs(86_400)))
            .unwrap_or(chrono::Duration::days(1));
        self.in_tx(|tx| {
            let last: Option<String> = tx
                .query_row(
                    "SELECT last_run_at FROM retention_state WHERE source = ?1",
                    [source],
                    |r| r.get(0),
                )
                .optional()?;
            if last.is_some_and(|l| l > timestamp(now - every)) {
                return Ok(None);
            }
            let pruned = super::prune::prune_raw(tx, source, max_age, now)?;
            tx.execute(
                "INSERT INTO retention_state (source, last_run_at) VALUES (?1, ?2)
                 ON CONFLICT(source) DO UPDATE SET last_run_at = excluded.last_run_at",
                params![source, timestamp(now)],
            )?;
            Ok(Some(pruned))
        })
    }

    /// Records one fetch and its consequences in one transaction.
    pub fn apply(&mut self, report: &FetchReport) -> Result<Applied> {
        self.apply_group(&[report]).pop().unwrap_or_else(|| {
            Err(LedgerError::sqlite(&self.path)(
                rusqlite::Error::InvalidQuery,
            ))
        })
    }
}

/// How one attempt at a group ended.
enum Attempt {
    /// Every report that had not failed applied (in their order), and the
    /// commit held.
    Committed(Vec<Applied>),
    /// This report failed; the transaction is rolled back.
    Failed(usize, rusqlite::Error),
    /// The transaction could not begin or commit: no report is recorded.
    Refused(rusqlite::Error),
}

/// A copy of a SQLite error, for every fetch of a group that shares it.
fn copy_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            rusqlite::Error::SqliteFailure(*code, msg.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

/// The cycle's counts with `failing_cycles`: how many cycles in a row,
/// this one included, failed every fetch they made (0 when this one did
/// not, or made none). `health` reports a source whose streak reaches its
/// threshold.
fn with_failing_streak(conn: &rusqlite::Connection, name: &str, counts: &Value) -> Value {
    let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let fetches: u64 = Outcome::ALL
        .iter()
        .map(|o| n(counts, o.as_str()))
        .sum::<u64>()
        + n(counts, "discovery");
    let failed = n(counts, "failed");
    let streak = if fetches > 0 && failed == fetches {
        let before: Option<String> = conn
            .query_row(
                "SELECT counts_json FROM source_state WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .ok()
            .flatten();
        let before = before
            .and_then(|c| serde_json::from_str::<Value>(&c).ok())
            .map_or(0, |v| n(&v, "failing_cycles"));
        before + 1
    } else {
        0
    };
    let mut counts = counts.clone();
    if let Some(m) = counts.as_object_mut() {
        m.insert("failing_cycles".into(), streak.into());
    }
    counts
}

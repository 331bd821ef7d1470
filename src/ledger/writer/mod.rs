//! The ledger writer: the one owner of the writable connection.
//!
//! Other tasks send it complete records; each record is applied in one
//! transaction (a fetch, the revision or removal it implies, its blobs and
//! the derived tables), so a crash leaves all of it or none of it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

mod apply;
mod handle;
mod notify;
pub mod prepare;
mod records;
mod upstream;

pub use handle::WriterHandle;

use super::{LedgerError, Result, timestamp};
use crate::config::{ExtractOverrides, KeepRaw, Webhook};
use crate::exchange::FetchResult;
use crate::extract::Article;
use apply::apply_in;
use notify::enqueue;
pub use notify::{MAX_ATTEMPTS, Pending, backoff};
use upstream::{Committed, Next, Pushed, Unsure, shared};

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
    /// The vantage point the fetch was made from (`[node] vantage`),
    /// recorded in the fetch entry when there is one.
    pub vantage: Option<String>,
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
    /// The PostgreSQL ledger this one is a replica of, if it is one.
    upstream: Option<crate::ledger::storage::replica::Upstream>,
    /// The replica holds less than PostgreSQL (a commit failed after its
    /// entries went up): it pulls them before the next write.
    behind: bool,
}

impl Writer {
    pub fn open(path: &Path) -> Result<Writer> {
        let lock = super::lock_writer(path)?;
        Ok(Writer {
            conn: super::open_writable(path)?,
            path: path.to_path_buf(),
            _lock: lock,
            webhooks: Vec::new(),
            upstream: None,
            behind: false,
        })
    }

    pub fn set_webhooks(&mut self, webhooks: Vec<Webhook>) {
        self.webhooks = webhooks;
    }

    /// Runs `f` in one immediate transaction and commits what it wrote.
    fn in_tx<T>(
        &mut self,
        mut f: impl FnMut(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        self.recording(|tx| f(tx).map_err(LedgerError::sqlite(&path)))
    }

    /// Runs `f` in one immediate transaction and commits what it wrote; run
    /// again from the start when PostgreSQL failed the commit (a lost
    /// connection, or an append another process made first). Every write
    /// that appends entries goes through here.
    fn recording<T>(&mut self, mut f: impl FnMut(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let path = self.path.clone();
        let (since, mut tries) = (std::time::Instant::now(), 0);
        // A push whose outcome is unknown (the connection was lost), and
        // what its transaction returned: looked for in PostgreSQL's log
        // before anything is applied again.
        let mut unsure: Unsure<T> = None;
        loop {
            let next = match self.before_attempt(&mut unsure, &mut tries, since) {
                Some(next) => next,
                None => {
                    let tx = self.begin()?;
                    let out = f(&tx)?;
                    match tx.commit_as() {
                        Committed::Done => return Ok(out),
                        Committed::Local(e) => return Err(LedgerError::sqlite(&path)(e)),
                        Committed::Upstream(e, sent) => {
                            let sent = sent.map(|p| (p, out));
                            self.after_failed_push(e, sent, &mut unsure, &mut tries, since)
                        }
                    }
                }
            };
            match next {
                Next::Landed(out) => return Ok(out),
                Next::Again => {}
                Next::GiveUp(e) => return Err(shared(&path, e)),
            }
        }
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
        let mut applied: Vec<Applied> = Vec::new();
        let (since, mut tries) = (std::time::Instant::now(), 0);
        // An attempt whose push has an unknown outcome: looked for in
        // PostgreSQL's log before the group is applied again.
        let mut unsure: Unsure<Vec<Applied>> = None;
        // The group's entries reached PostgreSQL from an attempt whose
        // transaction was rolled back: what it queued beside them is queued
        // again.
        let mut landed = false;
        while failed.iter().any(Option::is_none) {
            let next = match self.before_attempt(&mut unsure, &mut tries, since) {
                Some(next) => next,
                None => match self.attempt(reports, &failed, &webhooks) {
                    Attempt::Committed(a) => {
                        applied = a;
                        break;
                    }
                    Attempt::Failed(i, e) => {
                        if let Some(slot) = failed.get_mut(i) {
                            *slot = Some(LedgerError::sqlite(&path)(e));
                        }
                        continue;
                    }
                    Attempt::Refused(e) => {
                        for slot in failed.iter_mut().filter(|f| f.is_none()) {
                            *slot = Some(LedgerError::sqlite(&path)(copy_error(&e)));
                        }
                        continue;
                    }
                    Attempt::Upstream(e, sent) => {
                        self.after_failed_push(e, sent, &mut unsure, &mut tries, since)
                    }
                },
            };
            match next {
                Next::Landed(a) => {
                    landed = true;
                    applied = a;
                    break;
                }
                Next::Again => {}
                Next::GiveUp(e) => {
                    // Not recorded anywhere: each fetch says why.
                    for slot in failed.iter_mut().filter(|f| f.is_none()) {
                        *slot = Some(shared(
                            &path,
                            crate::ledger::storage::StorageError::Usage(e.to_string()),
                        ));
                    }
                }
            }
        }
        if landed {
            // The attempt applied exactly the reports that did not fail.
            let recorded = reports.iter().zip(&failed).filter(|(_, f)| f.is_none());
            let done: Vec<(&FetchReport, &Applied)> =
                recorded.map(|(r, _)| *r).zip(&applied).collect();
            if let Err(e) = self.queue_again(&done, &webhooks) {
                tracing::warn!(error = %e, "the notifications of a group recorded after a lost connection could not be queued");
            }
        }
        self.webhooks = webhooks;
        // The committed attempt applied exactly the reports that did not fail.
        let mut applied = applied.into_iter();
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

    /// Queues the notifications of fetches whose entries are recorded but
    /// whose transaction was rolled back (a push whose answer was lost).
    fn queue_again(
        &mut self,
        done: &[(&FetchReport, &Applied)],
        webhooks: &[Webhook],
    ) -> Result<()> {
        let path = self.path.clone();
        let tx = self.begin()?;
        let now = Utc::now();
        for (report, a) in done {
            for flag in &a.flags {
                enqueue(&tx, webhooks, &report.source, flag, now)
                    .map_err(LedgerError::sqlite(&path))?;
            }
        }
        tx.commit()
    }

    /// One transaction applying every report that has not failed, committed
    /// only if all of them applied.
    fn attempt(
        &mut self,
        reports: &[&FetchReport],
        failed: &[Option<LedgerError>],
        webhooks: &[Webhook],
    ) -> Attempt {
        let mut tx = match self.begin() {
            Ok(tx) => tx,
            Err(e) => return Attempt::Refused(unwrap_sqlite(e)),
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
        // The leases of these fetches end with the append that records them.
        if let Some(up) = tx.upstream() {
            up.end_leases_with_next_push(
                reports
                    .iter()
                    .zip(failed)
                    .filter(|(_, f)| f.is_none())
                    .map(|(r, _)| r.result.requested_url.clone())
                    .collect(),
            );
        }
        match tx.commit_as() {
            Committed::Done => Attempt::Committed(applied),
            Committed::Local(e) => Attempt::Refused(e),
            Committed::Upstream(e, sent) => Attempt::Upstream(e, sent.map(|p| (p, applied))),
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
    /// PostgreSQL did not take the group's entries: no report is recorded,
    /// unless the push's outcome is unknown (the last entry sent, and what
    /// the attempt applied).
    Upstream(
        crate::ledger::storage::StorageError,
        Option<(Pushed, Vec<Applied>)>,
    ),
}

/// The SQLite error inside a ledger error (from beginning a transaction).
fn unwrap_sqlite(e: LedgerError) -> rusqlite::Error {
    match e {
        LedgerError::Sqlite { source, .. } | LedgerError::NotWritable { source, .. } => source,
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
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

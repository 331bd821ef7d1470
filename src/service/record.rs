//! Recording what one cycle fetched: the context every cycle shares, the
//! cycle's summary and its counts, one fetch noted (its flags logged), the
//! preparation of a report on the CPU pool before the writer, and the
//! summary line and systemd status. Used by the cycle and by discovery
//! alike, so that neither reaches into the other for it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use tracing::{debug, info, warn};

use crate::fetch::Fetcher;
use crate::ledger::writer::prepare::{Hint, prepare};
use crate::ledger::writer::{Applied, ChangeKind, FetchReport, Outcome, WriterHandle};
use crate::ledger::{self};

/// What the service shares with every cycle.
#[derive(Clone)]
pub struct Context {
    pub metrics: super::metrics::Metrics,
    pub notifier: super::notify::Notifier,
    pub fetcher: Fetcher,
    pub writer: WriterHandle,
    pub ledger_path: std::path::PathBuf,
    /// Checkpoints, timestamps and witnesses, when configured.
    pub proofs: Option<Arc<super::proofs::ProofWork>>,
    /// Bounds concurrent fetches across all sources.
    pub permits: Arc<Semaphore>,
    /// Fetch tasks one cycle runs at once ([`in_flight`]).
    pub in_flight: usize,
    /// Becomes `true` when the service is asked to stop.
    pub shutdown: watch::Receiver<bool>,
    /// Leases and the hosts' pace shared with the other workers of a
    /// PostgreSQL ledger, when this is one of them.
    pub shared: Option<Arc<super::shared::Shared>>,
    /// Where this process fetches from (`[node] vantage`).
    pub vantage: Option<String>,
}

/// The result of one cycle, for the summary line and `status`.
#[derive(Debug, Clone, Default)]
pub struct CycleSummary {
    pub source: String,
    pub counts: BTreeMap<&'static str, u64>,
    /// Changes flagged this cycle, by kind (counted, not kept: a first
    /// ingest flags every article).
    pub flagged: BTreeMap<&'static str, u64>,
    /// Articles whose body lost more than half its words in one change.
    pub shrunk: u64,
    pub last_error: Option<String>,
    pub duration: Duration,
    /// True when shutdown cut the cycle short.
    pub interrupted: bool,
    /// Fetches the writer could not record (also counted as `failed`).
    pub unrecorded: u64,
    /// Pages whose extracted text may not be the article
    /// ([`crate::extract::Weakness`]; also counted by their outcome).
    pub weak: u64,
    /// URLs another worker recorded this cycle (a shared ledger).
    pub elsewhere: u64,
}

impl CycleSummary {
    fn count(&self, key: &str) -> u64 {
        self.counts.get(key).copied().unwrap_or(0)
    }

    /// Articles flagged `kind` this cycle.
    pub fn flagged(&self, kind: ChangeKind) -> u64 {
        self.flagged.get(kind.as_str()).copied().unwrap_or(0)
    }

    pub fn counts_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        for o in Outcome::ALL {
            m.insert(
                o.as_str().into(),
                json!(self.counts.get(o.as_str()).copied().unwrap_or(0)),
            );
        }
        m.insert("discovery".into(), json!(self.count("discovery")));
        m.insert("reverted".into(), json!(self.flagged(ChangeKind::Reverted)));
        m.insert("restored".into(), json!(self.flagged(ChangeKind::Restored)));
        m.insert("unrecorded".into(), json!(self.unrecorded));
        m.insert("weak".into(), json!(self.weak));
        m.insert(
            "duration_ms".into(),
            json!(self.duration.as_millis() as u64),
        );
        Value::Object(m)
    }
}

/// [`note`] for a discovery document (a feed, sitemap or listing): one
/// that `answered` was read for its links, not extracted, so it counts as
/// `discovery` rather than as a `skipped` (refused) request.
pub(super) fn note_document(
    summary: &mut CycleSummary,
    source: &str,
    applied: Applied,
    answered: bool,
) {
    if answered && applied.outcome == Outcome::Skipped {
        *summary.counts.entry("discovery").or_default() += 1;
        return;
    }
    note(summary, source, applied)
}

pub(super) fn note(summary: &mut CycleSummary, source: &str, applied: Applied) {
    *summary.counts.entry(applied.outcome.as_str()).or_default() += 1;
    let url = applied
        .article_url
        .as_deref()
        .unwrap_or(applied.requested_url.as_str());
    if let Some(w) = applied.weak {
        summary.weak += 1;
        info!(
            source,
            url,
            reason = w.as_str(),
            seq = applied.fetch_seq,
            "extraction doubtful: {} (set the source's content_selector if this is not the article)",
            w.describe()
        );
    }
    if let Some(err) = &applied.error {
        warn!(source, url, outcome = applied.outcome.as_str(), seq = applied.fetch_seq, error = %err, "fetch failed");
        summary.last_error = Some(err.clone());
    } else {
        debug!(
            source,
            url,
            outcome = applied.outcome.as_str(),
            seq = applied.fetch_seq,
            revision = applied.revision,
            "fetched"
        );
    }
    for flag in &applied.flags {
        let fields = flag.fields.join(",");
        match flag.kind {
            ChangeKind::Changed => warn!(
                source, url = %flag.url, from_revision = flag.from_revision, to_revision = flag.to_revision,
                fields = %fields, words_added = flag.words_added, words_removed = flag.words_removed,
                declared = flag.declared, seq = flag.seq,
                // No empty `diff=` for a byline or date change: absent instead.
                diff = (!flag.excerpt.is_empty())
                    .then(|| crate::present::safe(&flag.excerpt.join(" | ")).to_string())
                    .as_deref(),
                title_from = flag.title_from.as_deref().map(crate::present::safe).as_deref(),
                title_to = flag.title_to.as_deref().map(crate::present::safe).as_deref(),
                significance = flag.significance.as_ref().map(|s| s.level.as_str()),
                why = flag.significance.as_ref().map(|s| crate::present::safe(&s.reasons.join("; ")).to_string()).as_deref(),
                metadata = (!flag.metadata.is_empty()).then(|| metadata_line(&flag.metadata)).as_deref(),
                "article changed"
            ),
            ChangeKind::New => {
                info!(source, url = %flag.url, seq = flag.seq, title = flag.title_to.as_deref().map(crate::present::safe).as_deref(), "new article")
            }
            ChangeKind::Gone => {
                warn!(source, url = %flag.url, last_revision = flag.from_revision, seq = flag.seq, "article gone")
            }
            ChangeKind::Reverted => {
                warn!(source, url = %flag.url, to_revision = flag.to_revision, seq = flag.seq, "article reverted to an earlier text")
            }
            ChangeKind::Metadata => {
                info!(
                    source, url = %flag.url, fields = %fields, seq = flag.seq,
                    significance = flag.significance.as_ref().map(|s| s.level.as_str()),
                    metadata = (!flag.metadata.is_empty()).then(|| metadata_line(&flag.metadata)).as_deref(),
                    "article metadata changed"
                )
            }
            ChangeKind::Rebaseline => {
                info!(source, url = %flag.url, seq = flag.seq, "article re-baselined for a new extractor")
            }
            ChangeKind::Restored => {
                warn!(source, url = %flag.url, revision = flag.to_revision, seq = flag.seq, "article restored after it was gone")
            }
        }
        *summary.flagged.entry(flag.kind.as_str()).or_default() += 1;
        if shrank(flag) {
            summary.shrunk += 1;
        }
    }
}

/// Metadata changes for a log field: `byline: "A" → "B"; modified: … → …`.
fn metadata_line(changes: &[(&'static str, String, String)]) -> String {
    changes
        .iter()
        .map(|(field, before, after)| {
            format!(
                "{field}: “{}” → “{}”",
                crate::present::safe(before),
                crate::present::safe(after)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Hashes, compresses and diffs the report on the CPU pool (the
/// writer then only decides and inserts). A response without a body is
/// prepared in place. `None` only if the CPU pool is gone.
pub(super) async fn prepared(
    ledger: &std::path::Path,
    report: FetchReport,
    hint: Option<Hint>,
) -> Option<FetchReport> {
    let has_body = report
        .result
        .response
        .as_ref()
        .is_ok_and(|r| !r.body.is_empty());
    if !has_body {
        return Some(prepare_in_place(ledger, report, hint.as_ref()));
    }
    let path = ledger.to_path_buf();
    // Preparation catches its own panics and is bounded by the body's size.
    super::cpu::run(Duration::MAX, move || {
        prepare_in_place(&path, report, hint.as_ref())
    })
    .await
    .ok()
}

/// [`prepare`] on this thread. A panic there costs the preparation, not
/// the report: the writer does the work itself.
pub(super) fn prepare_in_place(
    ledger: &std::path::Path,
    mut report: FetchReport,
    hint: Option<&Hint>,
) -> FetchReport {
    report.prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        prepare(&report, hint, || ledger::open_read_only(ledger).ok())
    }))
    .unwrap_or_default();
    report
}

/// The STATUS= line systemd shows: "demo: last cycle 12:00: 40 fetched,
/// 2 changed, 0 failed; next 12:15".
pub fn status_line(s: &CycleSummary, next_run: Option<DateTime<Utc>>) -> String {
    let c = |k: &str| s.counts.get(k).copied().unwrap_or(0);
    let next = next_run.map_or_else(|| "never".to_string(), |t| t.format("%H:%M").to_string());
    format!(
        "{}: last cycle {}: {} fetched, {} changed, {} failed; next {next}",
        s.source,
        Utc::now().format("%H:%M"),
        s.counts.values().sum::<u64>(),
        c("changed") + c("gone"),
        c("failed"),
    )
}

/// Logs the one summary line of a cycle.
pub fn log_summary(s: &CycleSummary, next_run: Option<DateTime<Utc>>) {
    let c = |k: &str| s.counts.get(k).copied().unwrap_or(0);
    info!(
        source = %s.source,
        fetched = s.counts.values().sum::<u64>(),
        new = c("new"), changed = c("changed"), unchanged = c("unchanged"),
        not_modified = c("not_modified"), failed = c("failed"), gone = c("gone"), skipped = c("skipped"),
        discovery = c("discovery"), reverted = s.flagged(ChangeKind::Reverted),
        restored = s.flagged(ChangeKind::Restored),
        by_other_workers = s.elsewhere,
        duration_ms = s.duration.as_millis() as u64,
        interrupted = s.interrupted,
        next_run = next_run.map(|t| t.to_rfc3339()).unwrap_or_default(),
        "cycle finished"
    );
}

/// A change that took more than half of a body of 100 words or more.
fn shrank(flag: &crate::ledger::writer::Flag) -> bool {
    flag.kind == ChangeKind::Changed
        && flag.words_before >= 100
        && flag.words_removed > flag.words_added + flag.words_before / 2
}

//! One cycle of one source: fetch every URL, extract off the reactor, and
//! hand each complete report to the ledger writer.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rusqlite::params;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::config::Source;
use crate::extract;
use crate::fetch::Conditional;
use crate::fetch::guard::Guard;
use crate::ledger::writer::prepare::Hint;
use crate::ledger::writer::{Applied, ChangeKind, FetchReport, Outcome};
use crate::ledger::{self, LedgerError};

use super::discovery::{run_discovery, source_guard};
use super::frontier::{Frontier, Work};
pub use super::record::{Context, CycleSummary, log_summary, status_line};
use super::record::{note, prepare_in_place, prepared};
use super::shared::{Claim, LeaseGate};
use super::stopped;

/// How long an in-flight fetch may still finish after shutdown was asked.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Extraction taking longer than this is recorded as failed (the page is
/// hostile or broken; the daemon moves on).
pub const EXTRACT_TIMEOUT: Duration = Duration::from_secs(30);

/// The time an interrupted cycle of `source` started, if one was
/// interrupted: the next cycle resumes it (the URLs not fetched since).
pub fn interrupted_at(ctx: &Context, source: &Source) -> Option<String> {
    let conn = ledger::open_read_only(&ctx.ledger_path).ok()?;
    // An unfinished cycle: started after the last one finished.
    conn.query_row(
        "SELECT cycle_started_at FROM source_state WHERE name = ?1
         AND cycle_started_at IS NOT NULL AND (last_cycle_at IS NULL OR cycle_started_at > last_cycle_at)",
        params![source.name],
        |r| r.get(0),
    )
    .ok()
}

/// Fetch tasks of one cycle at once, for a `concurrency` of fetches: 256,
/// or four per permit when that is more, so that the window never caps
/// the concurrency asked for. The next URL starts as one ends. All of a
/// cycle's URLs spawned together (5,000 in the ingest bench) waited on
/// their hosts' locks at a cost: with this window the 304 re-fetch ran
/// 1.06x as fast in 42 instead of 77 MiB, the first ingest 1.10x.
pub fn in_flight(concurrency: usize) -> usize {
    concurrency.saturating_mul(4).max(256)
}

/// Runs one cycle: discovery, then the configured URLs and the discovered
/// articles that are due (`resume: None`), or only the URLs an interrupted
/// cycle that started at `resume` did not fetch (`Some`). The URLs are
/// taken from the [`Frontier`] a batch at a time, as fetch tasks end.
///
/// `tick` is when the cycle was due (the schedule's time, the same for
/// every worker on that schedule): with workers sharing a PostgreSQL ledger,
/// a URL another worker recorded since then is not fetched again.
pub async fn run(
    ctx: &Context,
    source: &Source,
    resume: Option<String>,
    tick: chrono::DateTime<Utc>,
) -> CycleSummary {
    let t0 = Instant::now();
    let mut summary = CycleSummary {
        source: source.name.clone(),
        ..Default::default()
    };
    if resume.is_none()
        && let Err(e) = ctx.writer.cycle_started(&source.name, Utc::now()).await
    {
        tracing::error!(source = %source.name, error = %e, "ledger unwritable");
        summary.last_error = Some(e.to_string());
        return summary;
    }
    let guard = Arc::new(source_guard(ctx, source));
    if resume.is_none() {
        run_discovery(ctx, source, &guard, &mut summary).await;
    }
    // Leases compare the tick with what PostgreSQL's clock recorded.
    let tick = match &ctx.shared {
        Some(s) => s.on_database_clock(tick).await,
        None => tick,
    };
    // One shared copy: a source with 10,000 URLs cloned into 10,000 tasks
    // took gigabytes.
    let shared = Arc::new(source.clone());
    let shrunk_before = summary.shrunk;
    let mut frontier = Some(Frontier::new(
        ctx.ledger_path.clone(),
        shared.clone(),
        Utc::now(),
        resume,
        ctx.in_flight,
    ));
    let mut queue: VecDeque<Work> = VecDeque::new();
    // URLs another worker held a lease on when their turn came: asked
    // again once the frontier is done (or when many wait), until recorded
    // by someone (theirs ran out when the holder died).
    let mut waiting: Vec<Work> = Vec::new();
    let mut held_again = HELD_AGAIN;
    let mut tasks = JoinSet::new();
    loop {
        // At most `in_flight` tasks at a time, the next URL started as one
        // ends: thousands of tasks queued on their hosts' locks cost more
        // than they wait.
        while tasks.len() < ctx.in_flight && !*ctx.shutdown.borrow() {
            if queue.is_empty() {
                if waiting.len() >= ctx.in_flight {
                    queue.extend(waiting.drain(..));
                } else {
                    queue.extend(next_batch(ctx, source, &mut frontier).await);
                }
            }
            let Some(work) = queue.pop_front() else { break };
            let ctx = ctx.clone();
            let source = shared.clone();
            // Watch-list URLs are guarded again when fetched, not only when
            // they were discovered (the configuration may have changed since).
            let guard = work.watched.then(|| guard.clone());
            tasks.spawn(async move {
                // A worker sharing a ledger leases the URL when its turn at
                // the host comes.
                let gate = ctx.shared.clone().map(|s| LeaseGate::new(s, tick));
                let retry = gate.is_some().then(|| work.clone());
                let fetched = fetch_one(
                    &ctx,
                    &source,
                    work.url,
                    work.conditional,
                    work.hint,
                    guard.as_deref(),
                    gate.as_ref(),
                )
                .await;
                let Some(gate) = gate else {
                    return Turn::Fetched(fetched);
                };
                match (gate.claim(), retry) {
                    (Some(Claim::Held), Some(work)) => Turn::Held(work),
                    (Some(Claim::Done), _) => Turn::Elsewhere,
                    (Some(Claim::Mine), Some(work)) => {
                        // Ended with the append when recorded; given back
                        // when not (another worker may take it at once).
                        gate.stop_renewing();
                        if !matches!(fetched, Some(Ok(_))) {
                            gate.shared().give_back(&work.url).await;
                        }
                        Turn::Fetched(fetched)
                    }
                    _ => Turn::Fetched(fetched),
                }
            });
        }
        let Some(joined) = tasks.join_next().await else {
            if waiting.is_empty() || *ctx.shutdown.borrow() {
                break;
            }
            let mut shutdown = ctx.shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(held_again) => {}
                _ = stopped(&mut shutdown) => {}
            }
            held_again = (held_again * 2).min(HELD_AGAIN_MAX);
            queue.extend(waiting.drain(..));
            continue;
        };
        match joined {
            Ok(Turn::Fetched(Some(Ok(applied)))) => note(&mut summary, &source.name, applied),
            Ok(Turn::Fetched(Some(Err((url, e))))) => {
                // Not recorded is failed: counted, logged with its cause,
                // and kept as the source's last error (health, `once`).
                tracing::error!(source = %source.name, url = %url, error = %e, "fetch not recorded: the ledger refused it");
                *summary.counts.entry(Outcome::Failed.as_str()).or_default() += 1;
                summary.unrecorded += 1;
                summary.last_error = Some(format!("{url}: not recorded: {e}"));
            }
            Ok(Turn::Fetched(None)) => summary.interrupted = true,
            Ok(Turn::Held(work)) => waiting.push(work),
            Ok(Turn::Elsewhere) => summary.elsewhere += 1,
            Err(e) => {
                // A panic in one fetch must not end the cycle or the daemon.
                tracing::error!(source = %source.name, error = %e, "fetch task failed");
                summary.last_error = Some(format!("internal error: {e}"));
            }
        }
    }
    if !waiting.is_empty() {
        summary.interrupted = true;
    }
    if !queue.is_empty() || frontier.as_ref().is_some_and(|f| !f.is_done()) {
        summary.interrupted = true;
    }
    let shrunk = summary.shrunk - shrunk_before;
    // Pages read from the page's bytes this cycle; when at least half of
    // them are doubtful, the source is being watched blind.
    let extracted: u64 = [Outcome::New, Outcome::Changed, Outcome::Unchanged]
        .iter()
        .map(|o| summary.counts.get(o.as_str()).copied().unwrap_or(0))
        .sum();
    if summary.weak > 0 && summary.weak * 2 >= extracted {
        warn!(source = %source.name, weak = summary.weak, extracted, "source extracts weakly: what was read from its pages may not be their articles (set content_selector; `newsledger health` reports it)");
    }
    if shrunk >= 3 {
        warn!(source = %source.name, articles = shrunk, "source looks broken: several articles lost more than half of their text in one cycle (a redesign the extractor does not follow?)");
    }
    summary.duration = t0.elapsed();
    summary
}

/// How long a cycle first waits before asking again for URLs other workers
/// held (most were in flight there and are recorded by then), doubling up
/// to [`HELD_AGAIN_MAX`] while some stay held (a dead worker's, until its
/// leases run out).
const HELD_AGAIN: Duration = Duration::from_millis(250);
const HELD_AGAIN_MAX: Duration = Duration::from_secs(5);

/// How one URL's task ended.
enum Turn {
    /// Fetched (and recorded, or why not); `None` when shutdown abandoned it.
    Fetched(Option<Result<Applied, (String, LedgerError)>>),
    /// Another worker holds its lease: asked again later.
    Held(Work),
    /// Another worker recorded it this cycle.
    Elsewhere,
}

/// The frontier's next batch, read off the reactor; the watched URLs the
/// ladder retires are retired on the way. A frontier that cannot read the
/// ledger goes on without it (the configured URLs, without validators); a
/// batch that cannot be read at all ends the cycle's work.
async fn next_batch(ctx: &Context, source: &Source, frontier: &mut Option<Frontier>) -> Vec<Work> {
    let Some(mut f) = frontier.take() else {
        return Vec::new();
    };
    let (f, batch) = match tokio::task::spawn_blocking(move || {
        let batch = f.next_batch();
        (f, batch)
    })
    .await
    {
        Ok((f, Ok(batch))) => (f, batch),
        Ok((mut f, Err(e))) => {
            warn!(source = %source.name, error = %e, "cannot read the fetch state or the watch list; fetching the configured URLs without validators");
            f.go_blind();
            let batch = f.next_batch().unwrap_or_default();
            (f, batch)
        }
        Err(e) => {
            tracing::error!(source = %source.name, error = %e, "reading the cycle's work failed");
            return Vec::new();
        }
    };
    *frontier = Some(f);
    if !batch.retire.is_empty() {
        let n = batch.retire.len();
        match ctx.writer.retire_watched(batch.retire).await {
            Ok(()) => {
                info!(source = %source.name, articles = n, "retired from the watch list: past the end of the revisit ladder")
            }
            Err(e) => warn!(source = %source.name, error = %e, "cannot retire watched articles"),
        }
    }
    batch.work
}

/// Fetches, extracts and records one URL. `None` when shutdown abandoned it.
async fn fetch_one(
    ctx: &Context,
    source: &Source,
    url: String,
    cond: Conditional,
    hint: Option<Hint>,
    guard: Option<&Guard>,
    gate: Option<&LeaseGate>,
) -> Option<Result<Applied, (String, LedgerError)>> {
    let mut shutdown = ctx.shutdown.clone();
    if *shutdown.borrow_and_update() {
        return None;
    }
    // The concurrency permit is taken when this URL's host is free and
    // kept until the fetch is recorded (bounding the responses in memory).
    let fetch = ctx.fetcher.fetch_in_turn(
        &url,
        &cond,
        guard,
        &ctx.permits,
        &ctx.shutdown,
        gate.map(|g| g as &dyn crate::fetch::Admission),
    );
    tokio::pin!(fetch);
    let (result, permit) = tokio::select! {
        r = &mut fetch => r,
        _ = stopped(&mut shutdown) => {
            // Stopping: give the exchange a short grace, then abandon it.
            tokio::time::timeout(SHUTDOWN_GRACE, &mut fetch).await.ok()?
        }
    };
    // Stopped before this host's turn: nothing was asked, nothing to record.
    if permit.is_none() && *shutdown.borrow() {
        return None;
    }
    // Another worker's URL: nothing was asked, nothing to record. (A URL
    // refused before its turn, by the guard or as invalid, was never
    // claimed: its refusal is recorded as without a shared ledger.)
    if gate.is_some_and(|g| matches!(g.claim(), Some(Claim::Held | Claim::Done))) {
        return None;
    }
    let seconds = (result.finished_at - result.started_at)
        .num_milliseconds()
        .max(0) as f64
        / 1000.0;
    let bytes = result.response.as_ref().map_or(0, |r| r.body.len() as u64);
    let report = |result, article, skipped| FetchReport {
        source: source.name.clone(),
        keep_raw: source.keep_raw,
        result,
        article,
        skipped,
        overrides: source.overrides.clone(),
        prepared: Default::default(),
        vantage: ctx.vantage.clone(),
    };
    // A report extracted and prepared, or why the response was not extracted.
    let done: Result<FetchReport, Option<String>> = match &result.response {
        Ok(resp) if (200..300).contains(&resp.status) && resp.is_html() && resp.looks_binary() => {
            Err(Some("binary body served as HTML: not parsed".to_string()))
        }
        Ok(resp) if (200..300).contains(&resp.status) && resp.is_html() => {
            // Extraction and preparation are one job: the page is still in
            // this core's cache when it is hashed and compressed, and the
            // job waits for one CPU permit instead of two. The job works on
            // a copy, so that a page whose extraction never ends is still
            // recorded (as skipped) from the original.
            let ct = resp.header("content-type").map(str::to_string);
            let mut job_report = report(result.clone(), None, None);
            let path = ctx.ledger_path.clone();
            let job_hint = hint.clone();
            let job = super::cpu::run(EXTRACT_TIMEOUT, move || {
                if let Ok(resp) = &job_report.result.response {
                    let html = extract::decode(&resp.body, ct.as_deref());
                    job_report.article = Some(extract::extract(
                        &html,
                        Some(&job_report.result.final_url),
                        &job_report.overrides,
                    ));
                }
                prepare_in_place(&path, job_report, job_hint.as_ref())
            });
            match job.await {
                Ok(done) => Ok(done),
                Err(super::cpu::Failed::Panicked(e)) => {
                    Err(Some(format!("extraction failed: {e}")))
                }
                Err(super::cpu::Failed::TimedOut(t)) => {
                    Err(Some(format!("extraction took longer than {t:?}")))
                }
            }
        }
        Ok(resp) if (200..300).contains(&resp.status) => Err(Some(format!(
            "not HTML: {}",
            resp.header("content-type").unwrap_or("?")
        ))),
        _ => Err(None),
    };
    let report = match done {
        Ok(report) => report,
        Err(skipped) => prepared(&ctx.ledger_path, report(result, None, skipped), hint).await?,
    };
    let requested = report.result.requested_url.clone();
    let applied = ctx.writer.record(report).await;
    match &applied {
        Ok(a) => {
            let revision = a.flags.iter().any(|f| {
                matches!(
                    f.kind,
                    ChangeKind::Changed | ChangeKind::Metadata | ChangeKind::Rebaseline
                )
            }) || a.outcome == Outcome::New;
            ctx.metrics
                .fetch(&source.name, a.outcome.as_str(), seconds, bytes, revision);
            for f in &a.flags {
                ctx.metrics.change(&source.name, f.kind.as_str());
            }
        }
        Err(_) => ctx.metrics.fetch(
            &source.name,
            Outcome::Failed.as_str(),
            seconds,
            bytes,
            false,
        ),
    }
    Some(applied.map_err(|e| (requested, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The window of fetch tasks never caps the concurrency setting:
        /// every permit can have a task, with three more waiting their
        /// host's turn (a window of exactly `concurrency` would leave
        /// permits idle behind hosts' politeness waits).
        #[test]
        fn the_window_holds_every_permit_and_more(concurrency in 1usize..100_000) {
            let w = in_flight(concurrency);
            proptest::prop_assert!(w >= 256);
            proptest::prop_assert!(w >= concurrency.saturating_mul(4));
        }
    }
}

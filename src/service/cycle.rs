//! One cycle of one source: fetch every URL, extract off the reactor, and
//! hand each complete report to the ledger writer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rusqlite::params;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::config::Source;
use crate::extract;
use crate::fetch::Conditional;
use crate::fetch::guard::Guard;
use crate::ledger::writer::prepare::Hint;
use crate::ledger::writer::{Applied, ChangeKind, FetchReport, Outcome};
use crate::ledger::{self, LedgerError};

use super::discovery::{Watched, due_watched, run_discovery, source_guard};
pub use super::record::{Context, CycleSummary, log_summary, status_line};
use super::record::{note, prepare_in_place, prepared};

/// How long an in-flight fetch may still finish after shutdown was asked.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Extraction taking longer than this is recorded as failed (the page is
/// hostile or broken; the daemon moves on).
pub const EXTRACT_TIMEOUT: Duration = Duration::from_secs(30);

/// Per-URL state read before a cycle: validators, the last fetch time, and
/// the article's current version (a hint for the preparation of its report).
struct UrlState {
    conditional: Conditional,
    last_fetch_at: Option<String>,
    hint: Option<Hint>,
}

fn load_state(
    path: &std::path::Path,
    source: &str,
) -> Result<(HashMap<String, UrlState>, Option<String>), LedgerError> {
    let conn = ledger::open_read_only(path)?;
    let sqlite = |source| LedgerError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut stmt = conn
        .prepare(
            "SELECT f.url, f.etag, f.last_modified, f.last_fetch_at,
                    a.content_hash, a.field_hashes, a.text_blob, a.raw_blob
             FROM fetch_state f LEFT JOIN articles a ON a.url = f.article_url
             WHERE f.source = ?1",
        )
        .map_err(sqlite)?;
    let rows = stmt
        .query_map(params![source], |r| {
            let content_hash: Option<String> = r.get(4)?;
            let field_hashes: Option<String> = r.get(5)?;
            let text_blob: Option<String> = r.get(6)?;
            let hint = match (content_hash, field_hashes, text_blob) {
                (Some(content_hash), Some(f), Some(text_blob)) => Some(Hint {
                    content_hash,
                    field_hashes: serde_json::from_str(&f).unwrap_or_default(),
                    text_blob,
                    raw_blob: r.get(7)?,
                }),
                _ => None,
            };
            Ok((
                r.get::<_, String>(0)?,
                UrlState {
                    conditional: Conditional {
                        etag: r.get(1)?,
                        last_modified: r.get(2)?,
                    },
                    last_fetch_at: r.get(3)?,
                    hint,
                },
            ))
        })
        .map_err(sqlite)?
        .collect::<Result<HashMap<_, _>, _>>()
        .map_err(sqlite)?;
    // An unfinished cycle: started after the last one finished.
    let unfinished: Option<String> = conn
        .query_row(
            "SELECT cycle_started_at FROM source_state WHERE name = ?1
             AND cycle_started_at IS NOT NULL AND (last_cycle_at IS NULL OR cycle_started_at > last_cycle_at)",
            params![source],
            |r| r.get(0),
        )
        .ok();
    Ok((rows, unfinished))
}

/// URLs of `source` that an interrupted cycle did not reach, if one was interrupted.
pub fn pending_after_interruption(ctx: &Context, source: &Source) -> Option<Vec<String>> {
    let (state, unfinished) = load_state(&ctx.ledger_path, &source.name).ok()?;
    let started = unfinished?;
    let watched = due_watched(&ctx.ledger_path, source, Utc::now())
        .map(|w| w.due)
        .unwrap_or_default();
    Some(
        source
            .urls
            .iter()
            .map(|u| u.to_string())
            .chain(watched)
            .filter(|u| {
                state
                    .get(u)
                    .and_then(|s| s.last_fetch_at.as_deref())
                    .is_none_or(|t| t < started.as_str())
            })
            .collect(),
    )
}

/// The URLs in turns of host: each host's first URL (hosts in the order
/// they first appear), then each one's second, and so on; each host keeps
/// its own order. A cycle runs [`in_flight`] fetch tasks at a time in this
/// order, and a host serves one request at a time (its politeness
/// interval): in the configured order, a source listing one host's URLs
/// before another's filled the window with tasks queued behind the first
/// host while the others waited.
fn by_turns_of_host(urls: Vec<String>) -> Vec<String> {
    let mut hosts: Vec<Vec<String>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for url in urls {
        let key = crate::fetch::host_key_of(&url);
        let i = *index.entry(key).or_insert_with(|| {
            hosts.push(Vec::new());
            hosts.len() - 1
        });
        if let Some(h) = hosts.get_mut(i) {
            h.push(url);
        }
    }
    let mut turns: Vec<std::vec::IntoIter<String>> =
        hosts.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        out.extend(turns.iter_mut().filter_map(Iterator::next));
        if out.len() == before {
            return out;
        }
    }
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

/// Articles whose body lost more than half its words in one change.
fn shrank(flag: &crate::ledger::writer::Flag) -> bool {
    flag.kind == ChangeKind::Changed
        && flag.words_before >= 100
        && flag.words_removed > flag.words_added + flag.words_before / 2
}

/// Runs one cycle: discovery, then the configured URLs and the discovered
/// articles that are due (`pending: None`), or only the URLs an interrupted
/// cycle left (`Some`).
pub async fn run(ctx: &Context, source: &Source, pending: Option<Vec<String>>) -> CycleSummary {
    let resume = pending.is_some();
    let t0 = Instant::now();
    let mut summary = CycleSummary {
        source: source.name.clone(),
        ..Default::default()
    };
    let state = match tokio::task::spawn_blocking({
        let path = ctx.ledger_path.clone();
        let name = source.name.clone();
        move || load_state(&path, &name)
    })
    .await
    {
        Ok(Ok((s, _))) => s,
        Ok(Err(e)) => {
            warn!(source = %source.name, error = %e, "cannot read fetch state; fetching without validators");
            HashMap::new()
        }
        Err(_) => HashMap::new(),
    };
    if !resume && let Err(e) = ctx.writer.cycle_started(&source.name, Utc::now()).await {
        tracing::error!(source = %source.name, error = %e, "ledger unwritable");
        summary.last_error = Some(e.to_string());
        return summary;
    }
    let guard = Arc::new(source_guard(ctx, source));
    let configured: HashSet<String> = source.urls.iter().map(|u| u.to_string()).collect();
    let urls = match pending {
        Some(p) => p,
        None => {
            run_discovery(ctx, source, &guard, &mut summary).await;
            let Watched {
                due: watched,
                retire,
            } = tokio::task::spawn_blocking({
                let (path, source, now) = (ctx.ledger_path.clone(), source.clone(), Utc::now());
                move || due_watched(&path, &source, now)
            })
            .await
            .ok()
            .and_then(|r| {
                r.map_err(
                    |e| warn!(source = %source.name, error = %e, "cannot read the watch list"),
                )
                .ok()
            })
            .unwrap_or_default();
            if !retire.is_empty() {
                let n = retire.len();
                match ctx.writer.retire_watched(retire).await {
                    Ok(()) => {
                        info!(source = %source.name, articles = n, "retired from the watch list: past the end of the revisit ladder")
                    }
                    Err(e) => {
                        warn!(source = %source.name, error = %e, "cannot retire watched articles")
                    }
                }
            }
            source
                .urls
                .iter()
                .map(|u| u.to_string())
                .chain(watched)
                .collect()
        }
    };
    let urls = by_turns_of_host(urls);
    let mut tasks = JoinSet::new();
    let mut seen = HashSet::new();
    // One shared copy: a source with 10,000 URLs cloned into 10,000 tasks
    // took gigabytes.
    let shared = Arc::new(source.clone());
    let flags_before = summary.flags.len();
    let mut urls = urls.into_iter();
    let mut spawn_next = |tasks: &mut JoinSet<_>| {
        for url in urls.by_ref() {
            if !seen.insert(url.clone()) {
                continue;
            }
            let (cond, hint) = state
                .get(&url)
                .map(|s| (s.conditional.clone(), s.hint.clone()))
                .unwrap_or_default();
            let ctx = ctx.clone();
            let source = shared.clone();
            // Watch-list URLs are guarded again when fetched, not only when
            // they were discovered (the configuration may have changed since).
            let guard = (!configured.contains(&url)).then(|| guard.clone());
            tasks.spawn(async move {
                fetch_one(&ctx, &source, url, cond, hint, guard.as_deref()).await
            });
            return;
        }
    };
    // At most `in_flight` tasks at a time, the next URL started as one ends:
    // thousands of tasks queued on their hosts' locks cost more than they
    // wait.
    for _ in 0..ctx.in_flight {
        spawn_next(&mut tasks);
    }
    while let Some(joined) = tasks.join_next().await {
        if !*ctx.shutdown.borrow() {
            spawn_next(&mut tasks);
        }
        match joined {
            Ok(Some(Ok(applied))) => note(&mut summary, &source.name, applied),
            Ok(Some(Err((url, e)))) => {
                // Not recorded is failed: counted, logged with its cause,
                // and kept as the source's last error (health, `once`).
                tracing::error!(source = %source.name, url = %url, error = %e, "fetch not recorded: the ledger refused it");
                *summary.counts.entry(Outcome::Failed.as_str()).or_default() += 1;
                summary.unrecorded += 1;
                summary.last_error = Some(format!("{url}: not recorded: {e}"));
            }
            Ok(None) => summary.interrupted = true,
            Err(e) => {
                // A panic in one fetch must not end the cycle or the daemon.
                tracing::error!(source = %source.name, error = %e, "fetch task failed");
                summary.last_error = Some(format!("internal error: {e}"));
            }
        }
    }
    if urls.len() > 0 {
        summary.interrupted = true;
    }
    let shrunk = summary
        .flags
        .iter()
        .skip(flags_before)
        .filter(|f| shrank(f))
        .count();
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

/// Completes when the service is asked to stop (or the sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Fetches, extracts and records one URL. `None` when shutdown abandoned it.
async fn fetch_one(
    ctx: &Context,
    source: &Source,
    url: String,
    cond: Conditional,
    hint: Option<Hint>,
    guard: Option<&Guard>,
) -> Option<Result<Applied, (String, LedgerError)>> {
    let mut shutdown = ctx.shutdown.clone();
    if *shutdown.borrow_and_update() {
        return None;
    }
    // The concurrency permit is taken when this URL's host is free and
    // kept until the fetch is recorded (bounding the responses in memory).
    let fetch = ctx
        .fetcher
        .fetch_in_turn(&url, &cond, guard, &ctx.permits, &ctx.shutdown);
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

        /// Every URL once; each host's URLs in their own order; no host's
        /// (k+1)-th URL before every host's k-th; hosts in order of first
        /// appearance within a turn.
        #[test]
        fn urls_go_in_turns_of_host(picks in proptest::collection::vec((0usize..5, 0usize..4), 0..40)) {
            let hosts = ["http://a.test", "http://b.test", "https://a.test", "http://a.test:8080", "not a url"];
            let urls: Vec<String> = picks
                .iter()
                .enumerate()
                .map(|(i, (h, p))| format!("{}/{p}/{i}", hosts[*h]))
                .collect();
            let out = by_turns_of_host(urls.clone());
            let mut sorted_in = urls.clone();
            let mut sorted_out = out.clone();
            sorted_in.sort();
            sorted_out.sort();
            proptest::prop_assert_eq!(sorted_in, sorted_out);
            let host = |u: &str| crate::fetch::host_key_of(u);
            let first_seen: Vec<String> = urls.iter().fold(Vec::new(), |mut v, u| {
                if !v.contains(&host(u)) {
                    v.push(host(u));
                }
                v
            });
            // (turn, host position) increases along the output.
            let mut last = (0usize, 0usize);
            let mut turn_of: HashMap<String, usize> = HashMap::new();
            for u in &out {
                let turn = turn_of.entry(host(u)).or_insert(0);
                let at = (*turn, first_seen.iter().position(|h| *h == host(u)).unwrap_or(0));
                *turn += 1;
                proptest::prop_assert!(at > last || out.first() == Some(u), "{u} after {last:?}: {out:?}");
                last = at;
            }
            for h in &first_seen {
                let mine_in: Vec<&String> = urls.iter().filter(|u| host(u) == *h).collect();
                let mine_out: Vec<&String> = out.iter().filter(|u| host(u) == *h).collect();
                proptest::prop_assert_eq!(mine_in, mine_out);
            }
        }
    }

    #[test]
    fn one_host_listed_before_another_alternates() {
        let urls = [
            "http://a.test/1",
            "http://a.test/2",
            "http://a.test/3",
            "http://b.test/1",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            by_turns_of_host(urls),
            [
                "http://a.test/1",
                "http://b.test/1",
                "http://a.test/2",
                "http://a.test/3"
            ]
        );
    }
}

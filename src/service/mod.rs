//! The daemon: every source on its schedule until shutdown, then a clean exit.
//!
//! Invariant: a source's cycles never overlap: each source has one task that
//! runs a cycle, then sleeps until the next firing after it ended.
//! Invariant: shutdown stops new work at once; in-flight fetches get
//! [`cycle::SHUTDOWN_GRACE`], complete records are committed, the rest is
//! abandoned (never half-written).

pub mod cpu;
pub mod cycle;
pub mod discovery;
pub mod frontier;
pub mod metrics;
pub mod notify;
pub mod proofs;
pub mod record;
pub mod shared;
pub mod webhooks;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::config::{Config, Source};
use crate::fetch::Fetcher;
use crate::ledger::LedgerError;
use crate::ledger::writer::WriterHandle;
pub use cycle::CycleSummary;

/// Errors that stop the service from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("cannot start the fetcher: {0}")]
    Fetcher(String),
    #[error("no source named `{0}` in the configuration")]
    UnknownSource(String),
    #[error("cannot serve metrics on {0}")]
    Metrics(String),
}

/// A started service: the shared context plus the writer thread to join.
struct Started {
    ctx: cycle::Context,
    shutdown_tx: watch::Sender<bool>,
    writer_thread: std::thread::JoinHandle<()>,
}

async fn start(config: &Config) -> Result<Started, ServiceError> {
    let notifier = notify::Notifier::from_env();
    // Opening migrates and, when the derived tables are behind the chain,
    // rebuilds them: minutes on a ledger of years, past systemd's start
    // timeout unless it is told the start is still going.
    let busy = notifier.extend_while_busy(Duration::from_secs(10), "opening the ledger");
    let upstream = config.ledger_url.as_deref().map(|url| {
        crate::ledger::storage::replica::Upstream::new(url, true).holding_leases(
            &config.node.name,
            config.node.vantage.as_deref().unwrap_or_default(),
        )
    });
    let (writer, writer_thread) = WriterHandle::spawn(&config.ledger_path, upstream)?;
    let mut fetcher =
        Fetcher::new(&config.fetch).map_err(|e| ServiceError::Fetcher(e.to_string()))?;
    // With a PostgreSQL ledger, the leases and the hosts' pace are shared
    // with every other worker recording into it.
    let shared = config
        .ledger_url
        .as_deref()
        .map(|url| shared::Shared::new(url, &config.node))
        .transpose()
        .map_err(|e| LedgerError::Shared {
            path: config.ledger_path.clone(),
            source: Box::new(e),
        })?;
    if let Some(s) = &shared {
        fetcher.share_pace(s.clone());
    }
    let (shutdown_tx, shutdown) = watch::channel(false);
    writer.set_webhooks(config.webhooks.clone()).await?;
    for s in &config.sources {
        if let Some(seq) = writer.record_source(&s.name, s.to_json()).await? {
            info!(source = %s.name, seq, "source configuration recorded");
        }
    }
    release_memory();
    drop(busy);
    Ok(Started {
        ctx: cycle::Context {
            metrics: metrics::Metrics::default(),
            notifier,
            fetcher,
            writer,
            ledger_path: config.ledger_path.clone(),
            // Signed by the node that holds the key and has the role.
            proofs: config
                .proofs
                .clone()
                .filter(|_| config.node.sequence)
                .map(|p| proofs::ProofWork::new(p, &config.fetch.user_agent, &config.ledger_path)),
            permits: Arc::new(Semaphore::new(config.fetch.concurrency)),
            in_flight: cycle::in_flight(config.fetch.concurrency),
            shutdown,
            shared,
            vantage: config.node.vantage.clone(),
        },
        shutdown_tx,
        writer_thread,
    })
}

/// Returns freed heap memory to the system (glibc keeps it otherwise): an
/// idle daemon should not hold what start-up or a busy cycle once needed.
pub(crate) fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code, reason = "one FFI call with no arguments to check")]
    // SAFETY: malloc_trim only releases free pages of glibc's own heap; it
    // reads no caller memory and is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn finish(started: Started) {
    let Started {
        ctx,
        shutdown_tx,
        writer_thread,
    } = started;
    drop(ctx);
    drop(shutdown_tx);
    // The writer stops once every handle is gone and its queue is drained.
    let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
}

/// Runs one cycle of every source (or of the one named), then returns.
pub async fn once(config: &Config, only: Option<&str>) -> Result<Vec<CycleSummary>, ServiceError> {
    if let Some(name) = only
        && !config.sources.iter().any(|s| s.name == name)
    {
        return Err(ServiceError::UnknownSource(name.to_string()));
    }
    let started = start(config).await?;
    let mut set = JoinSet::new();
    let tick = Utc::now();
    for s in config.sources.iter().filter(|s| {
        let here = s.fetched_from(config.node.vantage.as_deref());
        if !here {
            info!(source = %s.name, vantages = ?s.vantages, node_vantage = ?config.node.vantage, "source not fetched from this node's vantage point");
        }
        config.node.fetch && here && only.is_none_or(|n| n == s.name)
    }) {
        let ctx = started.ctx.clone();
        let s = s.clone();
        set.spawn(async move {
            let summary = cycle::run(&ctx, &s, None, tick).await;
            let next = s.schedule.next_after(Utc::now());
            record_end(&ctx, &s, &summary, next).await;
            summary
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(s) = r {
            out.push(s);
        }
    }
    out.sort_by(|a, b| a.source.cmp(&b.source));
    if !config.webhooks.is_empty() {
        // One delivery pass; what fails stays queued for the daemon.
        let client = webhooks::client(&config.fetch.user_agent);
        let _ = tokio::time::timeout(
            Duration::from_secs(30),
            webhooks::deliver_due(&started.ctx.writer, &client),
        )
        .await;
    }
    if let Some(p) = &started.ctx.proofs {
        // Bounded: a TSA or witness that hangs delays exit, never the record.
        let _ =
            tokio::time::timeout(Duration::from_secs(60), p.after_cycle(&started.ctx.writer)).await;
    }
    finish(started).await;
    Ok(out)
}

async fn record_end(
    ctx: &cycle::Context,
    s: &Source,
    summary: &CycleSummary,
    next: Option<chrono::DateTime<Utc>>,
) {
    cycle::log_summary(summary, next);
    if summary.last_error.is_none() && !summary.interrupted {
        ctx.metrics.cycle_succeeded(&s.name, Utc::now());
    }
    ctx.notifier.status(&cycle::status_line(summary, next));
    if summary.interrupted {
        // Leave cycle_started_at newer than last_cycle_at: the next start resumes.
        return;
    }
    if let Err(e) = ctx
        .writer
        .cycle_finished(
            &s.name,
            Utc::now(),
            next,
            summary.counts_json(),
            summary.last_error.clone(),
        )
        .await
    {
        error!(source = %s.name, error = %e, "ledger unwritable");
    }
    release_memory();
    if let Some(max_age) = s.raw_max_age {
        match ctx.writer.retain(&s.name, max_age).await {
            Ok(Some(p)) if p.blobs > 0 => info!(
                source = %s.name, captures = p.blobs, bytes = p.bytes, kept_as_base = p.kept_as_base,
                seq = p.seq, "retention: raw captures older than raw_max_age removed"
            ),
            Ok(_) => {}
            Err(e) => error!(source = %s.name, error = %e, "retention failed; the captures stay"),
        }
    }
}

/// Starts one task per source; they stop when `stop` turns true.
fn spawn_sources(
    ctx: &cycle::Context,
    stop: watch::Receiver<bool>,
    config: &Config,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    if !config.node.fetch {
        info!(node = %config.node.name, "roles: this node does not fetch ([node] roles)");
        return set;
    }
    for s in &config.sources {
        if !s.fetched_from(config.node.vantage.as_deref()) {
            info!(source = %s.name, vantages = ?s.vantages, node_vantage = ?config.node.vantage, "source not fetched from this node's vantage point");
            continue;
        }
        let mut ctx = ctx.clone();
        ctx.shutdown = stop.clone();
        let s = s.clone();
        set.spawn(async move { source_loop(ctx, s).await });
    }
    set
}

/// Waits for a set of tasks, abandoning them after the shutdown grace.
async fn drain(set: &mut JoinSet<()>) {
    let deadline = tokio::time::Instant::now() + cycle::SHUTDOWN_GRACE + Duration::from_secs(2);
    while !set.is_empty() {
        match tokio::time::timeout_at(deadline, set.join_next()).await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                warn!("abandoning tasks still running after the grace period");
                set.abort_all();
                while set.join_next().await.is_some() {}
                break;
            }
        }
    }
}

/// The daemon. Returns when `shutdown` completes and every task has stopped.
/// Each configuration received on `reloads` (already validated) replaces the
/// running one: sources stop after their in-flight fetches, the new
/// sources are recorded and started.
pub async fn run(
    config: &Config,
    shutdown: impl Future<Output = ()>,
    mut reloads: tokio::sync::mpsc::Receiver<Config>,
) -> Result<(), ServiceError> {
    let mut started = start(config).await?;
    let (mut generation, stop) = watch::channel(false);
    let mut sources = spawn_sources(&started.ctx, stop, config);
    let mut set: JoinSet<()> = JoinSet::new();
    info!(sources = config.sources.len(), ledger = %config.ledger_path.display(), "newsledger running");
    if let Some(addr) = config.metrics_listen {
        let listener = metrics::bind(addr)
            .await
            .map_err(|e| ServiceError::Metrics(format!("{addr}: {e}")))?;
        info!(addr = %listener.local_addr().map_or(addr, |a| a), "metrics at /metrics");
        let (m, ledger, mut stop, token) = (
            started.ctx.metrics.clone(),
            config.ledger_path.clone(),
            started.ctx.shutdown.clone(),
            config.metrics_token.clone(),
        );
        set.spawn(async move {
            tokio::select! {
                _ = metrics::serve(listener, m, ledger, token) => {}
                _ = stopped(&mut stop) => {}
            }
        });
    }
    if !config.webhooks.is_empty() {
        let client = webhooks::client(&config.fetch.user_agent);
        let (w, stop) = (started.ctx.writer.clone(), started.ctx.shutdown.clone());
        set.spawn(webhooks::run(w, client, stop));
    }
    let notifier = started.ctx.notifier.clone();
    notifier.ready();
    if let Some(every) = notifier.watchdog_interval() {
        let n = notifier.clone();
        let mut stop = started.ctx.shutdown.clone();
        set.spawn(async move {
            loop {
                n.send("WATCHDOG=1");
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped(&mut stop) => return,
                }
            }
        });
    }
    let mut current = config.clone();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(new) = reloads.recv() => {
                notifier.send("RELOADING=1");
                if new.ledger_path != current.ledger_path {
                    warn!(running = %current.ledger_path.display(), "ledger.path changed: that takes a restart; the running ledger is kept");
                }
                if new.metrics_listen != current.metrics_listen {
                    warn!("metrics.listen changed: that takes a restart");
                }
                if format!("{:?}", new.proofs) != format!("{:?}", current.proofs) {
                    warn!("[checkpoint], [timestamp] or [[witness]] changed: that takes a restart");
                }
                if new.webhooks != current.webhooks {
                    if let Err(e) = started.ctx.writer.set_webhooks(new.webhooks.clone()).await {
                        error!(error = %e, "ledger unwritable");
                    }
                    if current.webhooks.is_empty() {
                        let client = webhooks::client(&new.fetch.user_agent);
                        let (w, stop) = (started.ctx.writer.clone(), started.ctx.shutdown.clone());
                        set.spawn(webhooks::run(w, client, stop));
                    }
                }
                for s in &new.sources {
                    match started.ctx.writer.record_source(&s.name, s.to_json()).await {
                        Ok(Some(seq)) => info!(source = %s.name, seq, "source configuration recorded"),
                        Ok(None) => {}
                        Err(e) => error!(source = %s.name, error = %e, "ledger unwritable"),
                    }
                }
                let _ = generation.send(true);
                drain(&mut sources).await;
                match Fetcher::new(&new.fetch) {
                    Ok(f) => started.ctx.fetcher = f,
                    Err(e) => warn!(error = %e, "new fetch settings refused; keeping the running ones"),
                }
                let (tx, stop) = watch::channel(false);
                generation = tx;
                sources = spawn_sources(&started.ctx, stop, &new);
                info!(sources = new.sources.len(), "configuration reloaded");
                current = new;
                notifier.ready();
            }
        }
    }
    notifier.stopping();
    info!("shutdown requested: finishing in-flight fetches");
    let _ = generation.send(true);
    let _ = started.shutdown_tx.send(true);
    drain(&mut sources).await;
    drain(&mut set).await;
    if let Some(p) = &started.ctx.proofs {
        // The passes beside the cycles stopped where they were: one last
        // pass signs a checkpoint over everything recorded (its TSA and
        // witness calls get what is left of 5 seconds).
        let _ =
            tokio::time::timeout(Duration::from_secs(5), p.after_cycle(&started.ctx.writer)).await;
    }
    finish(started).await;
    info!("newsledger stopped");
    Ok(())
}

/// The proof pass after a cycle (checkpoint, timestamp, witnesses), beside
/// ingestion: the source's next cycle never waits for a TSA or a witness.
/// Bounded in time; a pass that finds one running is skipped.
fn proofs_beside(ctx: &cycle::Context) {
    if let Some(p) = ctx.proofs.clone() {
        let writer = ctx.writer.clone();
        let mut shutdown = ctx.shutdown.clone();
        tokio::spawn(async move {
            // Stopping ends the pass where it is (what it asked the writer
            // for is applied or not, whole), and lets go of the writer.
            tokio::select! {
                _ = tokio::time::timeout(Duration::from_secs(120), p.after_cycle(&writer)) => {}
                _ = stopped(&mut shutdown) => {}
            }
        });
    }
}

/// One source's loop: resume an interrupted cycle, then cycle on schedule.
async fn source_loop(ctx: cycle::Context, source: Arc<Source>) {
    let mut shutdown = ctx.shutdown.clone();
    if let Some(started) = cycle::interrupted_at(&ctx, &source) {
        let pending = tokio::task::spawn_blocking({
            let frontier = frontier::Frontier::new(
                ctx.ledger_path.clone(),
                source.clone(),
                Utc::now(),
                Some(started.clone()),
                ctx.in_flight,
            );
            move || frontier.count()
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0);
        info!(source = %source.name, started = %started, pending, "resuming an interrupted cycle: the URLs not fetched since it started");
        let tick = chrono::DateTime::parse_from_rfc3339(&started)
            .map_or_else(|_| Utc::now(), |t| t.with_timezone(&Utc));
        let summary = cycle::run(&ctx, &source, Some(started), tick).await;
        let next = source.schedule.next_after(Utc::now());
        record_end(&ctx, &source, &summary, next).await;
        proofs_beside(&ctx);
    }
    loop {
        let Some(next) = source.schedule.next_after(Utc::now()) else {
            warn!(source = %source.name, "the schedule never fires again");
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped(&mut shutdown) => return,
        }
        let summary = cycle::run(&ctx, &source, None, next).await;
        let next = source.schedule.next_after(Utc::now());
        record_end(&ctx, &source, &summary, next).await;
        proofs_beside(&ctx);
        if summary.interrupted || *shutdown.borrow() {
            return;
        }
    }
}

/// Completes when the service is asked to stop (or the sender is gone).
pub async fn stopped(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

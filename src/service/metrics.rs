//! Prometheus metrics, served on `[metrics] listen` when configured:
//! fetches by outcome, changes flagged, revisions, fetch latency, bytes
//! downloaded, last successful cycle per source, ledger entries and size.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

/// Upper bounds (seconds) of the fetch latency histogram.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
struct Inner {
    fetches: BTreeMap<(String, String), u64>,
    changes: BTreeMap<(String, String), u64>,
    revisions: BTreeMap<String, u64>,
    bytes: BTreeMap<String, u64>,
    /// Per source: bucket counts, sum and count of fetch durations.
    latency: BTreeMap<String, ([u64; BUCKETS.len()], f64, u64)>,
    last_success: BTreeMap<String, f64>,
}

/// The daemon's counters; cheap to clone and share.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Inner>>,
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A poisoned lock only means a panic elsewhere mid-update; counters stay usable.
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    pub fn fetch(&self, source: &str, outcome: &str, seconds: f64, bytes: u64, revision: bool) {
        self.with(|m| {
            *m.fetches
                .entry((source.into(), outcome.into()))
                .or_default() += 1;
            *m.bytes.entry(source.into()).or_default() += bytes;
            if revision {
                *m.revisions.entry(source.into()).or_default() += 1;
            }
            let h = m
                .latency
                .entry(source.into())
                .or_insert(([0; BUCKETS.len()], 0.0, 0));
            for (n, b) in h.0.iter_mut().zip(BUCKETS.iter()) {
                if seconds <= *b {
                    *n += 1;
                }
            }
            h.1 += seconds;
            h.2 += 1;
        });
    }

    pub fn change(&self, source: &str, kind: &str) {
        self.with(|m| *m.changes.entry((source.into(), kind.into())).or_default() += 1);
    }

    pub fn cycle_succeeded(&self, source: &str, at: chrono::DateTime<chrono::Utc>) {
        self.with(|m| {
            m.last_success
                .insert(source.into(), at.timestamp_millis() as f64 / 1000.0)
        });
    }

    /// The exposition text (Prometheus text format 0.0.4).
    pub fn render(&self, ledger: Option<(i64, u64)>) -> String {
        let esc = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        };
        self.with(|m| {
            let mut o = String::new();
            let _ = writeln!(o, "# HELP newsledger_fetches_total Fetches by source and outcome.\n# TYPE newsledger_fetches_total counter");
            for ((s, out), n) in &m.fetches {
                let _ = writeln!(o, "newsledger_fetches_total{{source=\"{}\",outcome=\"{}\"}} {n}", esc(s), esc(out));
            }
            let _ = writeln!(o, "# HELP newsledger_changes_flagged_total Changes and removals recorded, by kind.\n# TYPE newsledger_changes_flagged_total counter");
            for ((s, k), n) in &m.changes {
                let _ = writeln!(o, "newsledger_changes_flagged_total{{source=\"{}\",kind=\"{}\"}} {n}", esc(s), esc(k));
            }
            let _ = writeln!(o, "# HELP newsledger_revisions_total Revisions written.\n# TYPE newsledger_revisions_total counter");
            for (s, n) in &m.revisions {
                let _ = writeln!(o, "newsledger_revisions_total{{source=\"{}\"}} {n}", esc(s));
            }
            let _ = writeln!(o, "# HELP newsledger_downloaded_bytes_total Response body bytes downloaded (after decoding).\n# TYPE newsledger_downloaded_bytes_total counter");
            for (s, n) in &m.bytes {
                let _ = writeln!(o, "newsledger_downloaded_bytes_total{{source=\"{}\"}} {n}", esc(s));
            }
            let _ = writeln!(o, "# HELP newsledger_fetch_duration_seconds Time from request to complete body.\n# TYPE newsledger_fetch_duration_seconds histogram");
            for (s, (buckets, sum, count)) in &m.latency {
                for (b, n) in BUCKETS.iter().zip(buckets) {
                    let _ = writeln!(o, "newsledger_fetch_duration_seconds_bucket{{source=\"{}\",le=\"{b}\"}} {n}", esc(s));
                }
                let _ = writeln!(o, "newsledger_fetch_duration_seconds_bucket{{source=\"{}\",le=\"+Inf\"}} {count}", esc(s));
                let _ = writeln!(o, "newsledger_fetch_duration_seconds_sum{{source=\"{}\"}} {sum}", esc(s));
                let _ = writeln!(o, "newsledger_fetch_duration_seconds_count{{source=\"{}\"}} {count}", esc(s));
            }
            let _ = writeln!(o, "# HELP newsledger_last_successful_cycle_timestamp_seconds When each source last finished a cycle without failures.\n# TYPE newsledger_last_successful_cycle_timestamp_seconds gauge");
            for (s, t) in &m.last_success {
                let _ = writeln!(o, "newsledger_last_successful_cycle_timestamp_seconds{{source=\"{}\"}} {t}", esc(s));
            }
            let _ = writeln!(o, "# HELP newsledger_extraction_stuck_jobs Extractions still running after their fetch was recorded as skipped for taking too long; each holds a thread.\n# TYPE newsledger_extraction_stuck_jobs gauge\nnewsledger_extraction_stuck_jobs {}", super::cpu::stuck());
            if let Some((entries, bytes)) = ledger {
                let _ = writeln!(o, "# HELP newsledger_ledger_entries Entries in the ledger.\n# TYPE newsledger_ledger_entries gauge\nnewsledger_ledger_entries {entries}");
                let _ = writeln!(o, "# HELP newsledger_ledger_size_bytes Size of the ledger files.\n# TYPE newsledger_ledger_size_bytes gauge\nnewsledger_ledger_size_bytes {bytes}");
            }
            o
        })
    }
}

/// Connections served at once, at most (and at most 1/16 of the open-file
/// limit); more are closed at accept.
const MAX_CONNECTIONS: usize = 64;
/// A client must send its request headers within this time.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// No connection lives longer than this (idle keep-alive included).
const CONNECTION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves `GET /metrics` (any query string) with hyper until the task is
/// dropped. Bounded: at most [`MAX_CONNECTIONS`] connections, each with a
/// header timeout and a lifetime; an accept error (such as running out of
/// file descriptors) is logged and the loop goes on after a pause.
pub async fn serve(
    listener: TcpListener,
    metrics: Metrics,
    ledger: PathBuf,
    token: Option<String>,
) {
    let token: Option<Arc<str>> = token.map(Arc::from);
    // On loopback, only requests that name loopback (a web page that
    // rebinds its own name to 127.0.0.1 sends that name, and is refused).
    let on_loopback = listener.local_addr().map_or(true, |a| a.ip().is_loopback());
    let permits = Arc::new(tokio::sync::Semaphore::new(crate::limits::share(
        16,
        MAX_CONNECTIONS,
    )));
    let mut last_warning: Option<std::time::Instant> = None;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                if last_warning.is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(60)) {
                    tracing::warn!(error = %e, "metrics listener cannot accept a connection; retrying");
                    last_warning = Some(std::time::Instant::now());
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream); // over the limit: closed at once
            continue;
        };
        let (metrics, ledger, token) = (metrics.clone(), ledger.clone(), token.clone());
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (metrics, ledger) = (metrics.clone(), ledger.clone());
                    let host_ok = !on_loopback
                        || req
                            .headers()
                            .get(hyper::header::HOST)
                            .and_then(|h| h.to_str().ok())
                            .is_some_and(crate::web::is_loopback_host);
                    let allowed = token
                        .as_deref()
                        .is_none_or(|t| crate::web::bearer_is(req.headers(), t));
                    async move {
                        Ok::<_, std::convert::Infallible>(match (host_ok, allowed) {
                            (true, true) => respond(req.uri().path(), &metrics, ledger).await,
                            (false, _) => refused(
                                hyper::StatusCode::MISDIRECTED_REQUEST,
                                "this listener answers to loopback names only\n",
                            ),
                            (true, false) => unauthorized(),
                        })
                    }
                });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
            drop(permit);
        });
    }
}

fn refused(
    status: hyper::StatusCode,
    why: &'static str,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let mut resp = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(why)));
    *resp.status_mut() = status;
    resp
}

fn unauthorized() -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let mut resp = refused(
        hyper::StatusCode::UNAUTHORIZED,
        "a bearer token is needed ([metrics] token)\n",
    );
    resp.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        hyper::header::HeaderValue::from_static("Bearer"),
    );
    resp
}

async fn respond(
    path: &str,
    metrics: &Metrics,
    ledger: PathBuf,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let (status, body) = if path == "/metrics" {
        let stats = tokio::task::spawn_blocking(move || {
            let conn = crate::ledger::open_read_only(&ledger).ok()?;
            let head = crate::ledger::head(&conn).ok()??;
            Some((head.0, crate::ledger::size_on_disk(&ledger)))
        })
        .await
        .ok()
        .flatten();
        (200, metrics.render(stats))
    } else {
        (404, "not found; metrics are at /metrics\n".to_string())
    };
    let mut resp = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// Binds the metrics listener (a bad address is a configuration error).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

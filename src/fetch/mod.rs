//! The fetcher: one HTTP exchange per call, bounded in time and size.
//!
//! Invariant: `fetch` never panics and never returns early without a
//! [`FetchResult`]: every failure becomes a result the ledger records.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::FetchConfig;

pub mod guard;
mod hops;
pub mod robots;
pub mod wire;

use crate::exchange::encoding;
pub use crate::exchange::{Attempt, FetchError, FetchResult, Response};

/// The key fetches of one host share (politeness, robots.txt): scheme,
/// host and port.
fn host_key(url: &reqwest::Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// [`host_key`] of a URL string; "" when it does not parse.
pub fn host_key_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| host_key(&u))
        .unwrap_or_default()
}

/// Where [`Fetcher::fetch_in_turn`] takes its permit from, and where it
/// puts it.
type Turn<'a> = (
    &'a Arc<tokio::sync::Semaphore>,
    tokio::sync::watch::Receiver<bool>,
    &'a mut Option<tokio::sync::OwnedSemaphorePermit>,
    Option<&'a dyn Admission>,
);

/// Asked when a URL's turn at its host has come, before anything is sent:
/// whether this process is the one to fetch it (workers sharing a ledger
/// take a lease on each URL then, not while the URL waits its turn).
pub trait Admission: Send + Sync {
    fn admit<'a>(
        &'a self,
        url: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>>;
}

/// Validators from the last successful fetch, for a conditional request.
#[derive(Debug, Clone, Default)]
pub struct Conditional {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Per host: requests are serial, spaced by the interval.
#[derive(Default)]
struct HostState {
    /// Earliest start of the next request.
    next_start: Option<Instant>,
}

/// The HTTP client with the configured limits, robots.txt and a per-host pace.
#[derive(Clone)]
pub struct Fetcher {
    /// Every request goes through it; it records each exchange as it
    /// crossed the connection ([`wire`]).
    client: wire::Client,
    /// Where redirects and discovered links may connect ([`guard`]).
    policy: guard::AddressPolicy,
    user_agent: String,
    timeout: Duration,
    max_redirects: usize,
    max_body_bytes: u64,
    per_host_interval: Duration,
    respect_robots: bool,
    max_retries: u32,
    agent: String,
    hosts: Arc<Mutex<HashMap<String, Arc<Mutex<HostState>>>>>,
    robots: Arc<Mutex<HashMap<String, Arc<robots::Cached>>>>,
    /// The hosts' pace shared with other processes, when there are some.
    pace: Option<Arc<dyn SharedPace>>,
}

/// A pace shared with other processes (workers on several machines that
/// fetch the same sites): before each request the fetcher takes the host's
/// next slot from it and waits for that slot, beside keeping its own pace.
pub trait SharedPace: Send + Sync {
    /// Takes the host's next slot, `interval` after the one before; how
    /// long to wait for it.
    fn reserve<'a>(
        &'a self,
        host: &'a str,
        interval: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Duration> + Send + 'a>>;
}

/// Longest wait between two attempts; a longer Retry-After ends the retries.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// The wait before retry `n` (0-based): 1 s doubling, ±25% jitter, or the
/// server's Retry-After when it gives one.
pub fn retry_wait(n: u32, retry_after: Option<Duration>, jitter_seed: u64) -> Duration {
    if let Some(ra) = retry_after {
        return ra;
    }
    let base = Duration::from_secs(1u64 << n.min(6));
    let spread = (jitter_seed.wrapping_mul(6_364_136_223_846_793_005) >> 33) % 51;
    base.mul_f64(0.75 + spread as f64 / 100.0)
}

/// Retry-After as seconds or an HTTP date.
pub fn parse_retry_after(v: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v.trim())
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or_default())
}

fn retryable_status(status: u16) -> bool {
    status == 429 || status == 502 || status == 503 || status == 504 || status == 500
}

impl Fetcher {
    pub fn new(cfg: &FetchConfig) -> Result<Self, FetchError> {
        let policy = guard::AddressPolicy {
            allow_private: cfg.allow_private_networks,
            allow_loopback: false,
            allow: cfg.allow_networks.clone().into(),
        };
        Self::with_resolver(cfg, Arc::new(guard::SystemResolver), policy)
    }

    /// A fetcher whose guarded requests resolve names with `inner` and
    /// reach the addresses `policy` allows (tests: a table of names, and
    /// loopback allowed while link-local stays refused).
    pub fn with_resolver(
        cfg: &FetchConfig,
        inner: Arc<dyn reqwest::dns::Resolve>,
        policy: guard::AddressPolicy,
    ) -> Result<Self, FetchError> {
        let client = wire::Client::new(
            inner,
            cfg.ca_file.as_deref(),
            cfg.connect_timeout,
            cfg.stall_timeout,
        )
        .map_err(|message| FetchError {
            class: "request",
            message: format!("cannot build the HTTP client: {message}"),
        })?;
        Ok(Fetcher {
            client,
            policy,
            user_agent: cfg.user_agent.clone(),
            timeout: cfg.timeout,
            max_redirects: cfg.max_redirects,
            max_body_bytes: cfg.max_body_bytes,
            per_host_interval: cfg.per_host_interval,
            respect_robots: cfg.respect_robots_txt,
            max_retries: cfg.retries,
            agent: robots::agent_token(&cfg.user_agent),
            hosts: Arc::default(),
            robots: Arc::default(),
            pace: None,
        })
    }

    /// Waits for the host's next slot in the pace shared with other
    /// processes, when there is one (and an interval to keep).
    async fn shared_turn(&self, host: &str, interval: Duration) {
        if let Some(pace) = self.pace.as_ref().filter(|_| !interval.is_zero()) {
            let wait = pace.reserve(host, interval).await;
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// Keeps each host's pace with other processes too.
    pub fn share_pace(&mut self, pace: Arc<dyn SharedPace>) {
        self.pace = Some(pace);
    }

    /// The addresses guarded requests may reach.
    pub fn address_policy(&self) -> guard::AddressPolicy {
        self.policy.clone()
    }

    async fn host(&self, key: &str) -> Arc<Mutex<HostState>> {
        self.hosts
            .lock()
            .await
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// The robots.txt policy for `url`'s origin, fetched if not cached.
    /// Called with the host's lock held: the robots request is paced too.
    async fn robots_for(
        &self,
        url: &reqwest::Url,
        key: &str,
        guarded: bool,
    ) -> Arc<robots::Cached> {
        if let Some(c) = self
            .robots
            .lock()
            .await
            .get(key)
            .filter(|c| c.expires > Instant::now())
        {
            return c.clone();
        }
        let mut robots_url = url.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        robots_url.set_fragment(None);
        let policy = guarded.then_some(&self.policy);
        // A request to the host like any other.
        self.shared_turn(key, self.per_host_interval).await;
        let asked = tokio::time::timeout(
            self.timeout,
            self.client.get(
                &robots_url,
                &self.request_headers(&Conditional::default()),
                policy,
                robots::MAX_BYTES as u64 * 4,
            ),
        )
        .await
        .unwrap_or_else(|_| {
            Err(FetchError {
                class: "timeout",
                message: format!("{robots_url}: no answer within the timeout"),
            })
        });
        let (policy, fresh_for) = match asked {
            Ok(r) if (200..300).contains(&r.status) => {
                let ce = r
                    .head
                    .as_ref()
                    .and_then(|h| h.header("content-encoding").map(str::to_string));
                let body = encoding::decode(ce.as_deref(), &r.body, robots::MAX_BYTES as u64)
                    .ok()
                    .flatten()
                    .unwrap_or(r.body);
                (robots::Policy::parse(&self.agent, &body), robots::FRESH_FOR)
            }
            Ok(r) if (400..500).contains(&r.status) => {
                (robots::Policy::AllowAll, robots::FRESH_FOR)
            }
            Ok(r) => (
                robots::Policy::DisallowAll(format!("HTTP {}", r.status)),
                robots::RETRY_UNREACHABLE,
            ),
            // Too long a robots.txt is read as far as the cap, like a cut one.
            Err(e) if e.class == "body_too_large" => (robots::Policy::AllowAll, robots::FRESH_FOR),
            Err(e) => (robots::Policy::Unreachable(e), robots::RETRY_UNREACHABLE),
        };
        let cached = Arc::new(robots::Cached {
            policy,
            expires: Instant::now() + fresh_for,
        });
        self.robots
            .lock()
            .await
            .insert(key.to_string(), cached.clone());
        cached
    }

    /// Fetches `url`, conditionally when validators are given: robots.txt
    /// first, one request at a time per host with the interval between
    /// them, retries on transient failures.
    /// Fetches a URL the operator configured, as written.
    pub async fn fetch(&self, url: &str, cond: &Conditional) -> FetchResult {
        self.fetch_with(url, cond, None, None).await
    }

    /// Fetches `url` (through `guard` when given) taking one of `permits`
    /// only once this host's turn has come (its lock held and its interval
    /// waited), and returns the permit with the result: a task waiting for
    /// a busy host holds none, so one host's long queue cannot keep every
    /// other host (and every other source) waiting. `None` when the fetch
    /// ended before the exchange (invalid URL, refused by the guard).
    /// When `stop` turns true before the turn came, no exchange starts: the
    /// result is an `interrupted` error without a permit.
    pub async fn fetch_in_turn(
        &self,
        url: &str,
        cond: &Conditional,
        guard: Option<&guard::Guard>,
        permits: &Arc<tokio::sync::Semaphore>,
        stop: &tokio::sync::watch::Receiver<bool>,
        admission: Option<&dyn Admission>,
    ) -> (FetchResult, Option<tokio::sync::OwnedSemaphorePermit>) {
        let mut permit = None;
        let result = self
            .fetch_with(
                url,
                cond,
                guard,
                Some((permits, stop.clone(), &mut permit, admission)),
            )
            .await;
        (result, permit)
    }

    /// Fetches a discovered URL: it and every redirect hop must pass the
    /// guard, and names resolve to allowed addresses only. A refusal is a
    /// `refused` error (recorded as a skipped fetch with the reason).
    pub async fn fetch_guarded(
        &self,
        url: &str,
        cond: &Conditional,
        guard: &guard::Guard,
    ) -> FetchResult {
        self.fetch_with(url, cond, Some(guard), None).await
    }

    /// Every fetch; a request the guard refused (at the link, at a hop,
    /// at the address, at robots.txt) is logged at WARN here, once.
    async fn fetch_with(
        &self,
        url: &str,
        cond: &Conditional,
        guard: Option<&guard::Guard>,
        turn: Option<Turn<'_>>,
    ) -> FetchResult {
        let result = self.fetch_inner(url, cond, guard, turn).await;
        if let Err(e) = &result.response
            && e.class == "refused"
        {
            tracing::warn!(%url, reason = %e.message, "request refused by the guard");
        }
        result
    }

    async fn fetch_inner(
        &self,
        url: &str,
        cond: &Conditional,
        guard: Option<&guard::Guard>,
        mut turn: Option<Turn<'_>>,
    ) -> FetchResult {
        let started_at = Utc::now();
        let mut result = FetchResult {
            requested_url: url.to_string(),
            final_url: url.to_string(),
            started_at,
            finished_at: started_at,
            response: Err(FetchError {
                class: "invalid_url",
                message: url.to_string(),
            }),
            retries: Vec::new(),
        };
        let parsed = match reqwest::Url::parse(url) {
            Ok(u) => u,
            Err(e) => {
                result.response = Err(FetchError {
                    class: "invalid_url",
                    message: format!("{url}: {e}"),
                });
                return result;
            }
        };
        if let Some(Err(why)) = guard.map(|g| g.check(&parsed)) {
            result.response = Err(FetchError {
                class: "refused",
                message: why,
            });
            return result;
        }
        let key = host_key(&parsed);
        let host = self.host(&key).await;
        let mut state = host.lock().await;
        let mut interval = self.per_host_interval;
        let mut attempt = 0u32;
        loop {
            // The host's turn: once its interval has passed, and not while
            // queued for it, the fetch takes its share of the global
            // concurrency. Stopping ends the wait with nothing asked.
            if let Some((permits, mut stop, held, admission)) = turn.take() {
                let wait = async {
                    if let Some(t) = state.next_start {
                        tokio::time::sleep_until(t).await;
                    }
                    permits.clone().acquire_owned().await.ok()
                };
                *held = tokio::select! {
                    p = wait => p,
                    _ = stop.wait_for(|s| *s) => None,
                };
                if held.is_none() {
                    result.response = Err(FetchError {
                        class: "interrupted",
                        message: "stopping before the host's turn came".into(),
                    });
                    result.finished_at = Utc::now();
                    return result;
                }
                if let Some(a) = admission
                    && !a.admit(url).await
                {
                    *held = None;
                    result.response = Err(FetchError {
                        class: "not_admitted",
                        message: "another worker fetches this URL".into(),
                    });
                    result.finished_at = Utc::now();
                    return result;
                }
            } else if let Some(t) = state.next_start {
                tokio::time::sleep_until(t).await;
            }
            if self.respect_robots {
                let robots = self.robots_for(&parsed, &key, guard.is_some()).await;
                if let Some(d) = robots.policy.crawl_delay() {
                    interval = interval.max(d);
                }
                if let Some(why) = robots.policy.refusal(url) {
                    state.next_start = Some(Instant::now() + interval);
                    let class = match &robots.policy {
                        robots::Policy::Unreachable(e) => e.class,
                        _ => "robots",
                    };
                    result.response = Err(FetchError {
                        class,
                        message: why,
                    });
                    result.finished_at = Utc::now();
                    return result;
                }
            }
            self.shared_turn(&key, interval).await;
            let attempt_started = Utc::now();
            let outcome = self.exchange(&parsed, cond, guard).await;
            state.next_start = Some(Instant::now() + interval);
            let (retry, retry_after) = match &outcome {
                Err(e) => (e.is_transient(), None),
                Ok((_, r)) if retryable_status(r.status) => (
                    true,
                    r.header("retry-after")
                        .and_then(|v| parse_retry_after(v, Utc::now())),
                ),
                Ok(_) => (false, None),
            };
            let wait = retry_wait(
                attempt,
                retry_after,
                attempt_started.timestamp_subsec_nanos() as u64,
            );
            if !retry || attempt >= self.max_retries || wait > MAX_RETRY_WAIT {
                match outcome {
                    Ok((final_url, r)) => {
                        result.final_url = final_url;
                        result.response = Ok(r);
                    }
                    Err(e) => result.response = Err(e),
                }
                result.finished_at = Utc::now();
                return result;
            }
            result.retries.push(Attempt {
                started_at: crate::ledger::timestamp(attempt_started),
                status: outcome.as_ref().ok().map(|(_, r)| r.status),
                error: outcome.as_ref().err().map(|e| e.to_string()),
            });
            state.next_start = Some(Instant::now() + wait.max(interval));
            attempt += 1;
        }
    }

    /// The request's own header fields, in the order they are sent after
    /// Host.
    fn request_headers(&self, cond: &Conditional) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("user-agent", self.user_agent.clone()),
            (
                "accept",
                "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5".to_string(),
            ),
            ("accept-encoding", encoding::ACCEPT.to_string()),
        ];
        let valid = |v: &String| reqwest::header::HeaderValue::from_str(v).is_ok();
        if let Some(v) = cond.etag.as_ref().filter(|v| valid(v)) {
            headers.push(("if-none-match", v.clone()));
        }
        if let Some(v) = cond.last_modified.as_ref().filter(|v| valid(v)) {
            headers.push(("if-modified-since", v.clone()));
        }
        headers
    }
}

pub(crate) fn too_large(seen: u64, cap: u64) -> FetchError {
    FetchError {
        class: "body_too_large",
        message: format!("body of at least {seen} bytes exceeds max_body_bytes = {cap}"),
    }
}

/// A reqwest error as a class and its full chain of causes.
pub fn classify(e: reqwest::Error) -> FetchError {
    // The full chain of causes says what happened (e.g. "connection refused").
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    let class = if message.contains(guard::REFUSED) {
        "refused"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_redirect() {
        "redirects"
    } else if e.is_connect() {
        "connect"
    } else {
        "request"
    };
    FetchError { class, message }
}

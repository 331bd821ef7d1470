//! `newsledger serve`: a read-only web view of the ledger for journalists
//! and editors — the changes feed, articles, an article's timeline with word
//! diffs between any two revisions, a revision's text and its capture shown
//! sandboxed, search, sources, ledger status and an Atom feed.
//!
//! Invariant: every request opens its own read-only connection and reads
//! through the same functions as the CLI (the chain, or rows checked
//! against it). Nothing here can write the ledger.
//! Invariant: loopback only unless an access token is configured; every
//! page-derived string is escaped (maud); requests are GET only, with
//! bounded headers, URI, connections and time.

pub mod pages;
mod routes;

pub use pages::{CHANGES_PER_PAGE, ChangesFilter, SEARCH_PER_PAGE};
pub use routes::report_html;
use routes::route;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};
use tokio::net::TcpListener;

const MAX_CONNECTIONS: usize = 128;
/// Requests reading the ledger at once (each on a blocking thread); more
/// are answered 503 with Retry-After.
const MAX_BLOCKING: usize = 16;
static BLOCKING: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(MAX_BLOCKING)));
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
const MAX_URI: usize = 4096;
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The policy of every page we render: nothing but our inline style and
/// same-origin frames (the sandboxed capture).
const APP_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'";
/// The captured page: a sandbox (no script, no forms, unique origin) that
/// may load nothing at all.
const RAW_CSP: &str =
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'";

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub ledger: PathBuf,
    /// Required (Bearer header, cookie, or `?token=` once) when set.
    pub token: Option<String>,
    /// Names the view is reached by besides loopback names (`--public-name`:
    /// a host, host:port, or an origin such as `https://desk.example`).
    pub public_names: Vec<String>,
}

impl Settings {
    /// The `host[:port]` of each public name.
    fn public_hosts(&self) -> Vec<String> {
        self.public_names
            .iter()
            .map(|n| {
                let n = n.split_once("://").map_or(n.as_str(), |(_, rest)| rest);
                n.trim_end_matches('/').to_ascii_lowercase()
            })
            .collect()
    }

    /// The origin links in the Atom feed are made from: the first public
    /// name, else the address listened on (never a request's Host header).
    fn base_url(&self) -> String {
        match self.public_names.first() {
            Some(n) if n.contains("://") => n.trim_end_matches('/').to_string(),
            Some(n) => format!("http://{}", n.trim_end_matches('/')),
            None => format!("http://{}", self.listen),
        }
    }

    /// True when a request's Host header names this view: a loopback name
    /// (`localhost`, 127.0.0.0/8, `[::1]`, any port) or a public name. A
    /// page in a browser that rebinds its own name to 127.0.0.1 sends its
    /// own name, and is refused.
    fn host_allowed(&self, host: Option<&str>) -> bool {
        let Some(host) = host.map(str::to_ascii_lowercase) else {
            return false;
        };
        if self.public_hosts().contains(&host) {
            return true;
        }
        is_loopback_host(&host) || (!self.listen.ip().is_loopback() && self.public_names.is_empty())
    }
}

/// True for a Host header that names this machine's loopback: `localhost`,
/// an address in 127.0.0.0/8 or `[::1]`, with any port.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((n, port)) if !n.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => host.as_str(),
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why `serve` refuses to start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "--listen {0}: not a loopback address; set an access token (--token or NEWSLEDGER_SERVE_TOKEN) to serve beyond this machine"
    )]
    BeyondLoopbackWithoutToken(std::net::SocketAddr),
    #[error("the access token must be at least 16 characters")]
    ShortToken,
    #[error(
        "the access token must not hold spaces or control characters (make one with `openssl rand -hex 24`)"
    )]
    TokenWithSpaces,
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl ServeError {
    /// A setting the operator gave (exit 2), not a failure at run time.
    pub fn is_usage(&self) -> bool {
        !matches!(self, ServeError::Listen { .. })
    }
}

/// Refuses a listen address beyond loopback without a token, and a token
/// that is short or holds spaces.
pub fn check(settings: &Settings) -> Result<(), ServeError> {
    if !settings.listen.ip().is_loopback() && settings.token.is_none() {
        return Err(ServeError::BeyondLoopbackWithoutToken(settings.listen));
    }
    if let Some(t) = settings.token.as_deref() {
        if t.len() < 16 {
            return Err(ServeError::ShortToken);
        }
        if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ServeError::TokenWithSpaces);
        }
    }
    Ok(())
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, ctype: &'static str, csp: &'static str, body: Vec<u8>) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(ctype),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

fn html(status: StatusCode, m: maud::Markup) -> Reply {
    reply(
        status,
        "text/html; charset=utf-8",
        APP_CSP,
        m.into_string().into_bytes(),
    )
}

/// Serves until `shutdown` completes.
pub async fn serve(
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServeError> {
    check(&settings)?;
    let listen_error = |source| ServeError::Listen {
        addr: settings.listen,
        source,
    };
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(listen_error)?;
    let addr = listener.local_addr().map_err(listen_error)?;
    tracing::info!(%addr, ledger = %settings.ledger.display(), "web view at http://{addr}/");
    let settings = Arc::new(settings);
    let cap = crate::limits::share(8, MAX_CONNECTIONS);
    let live: Arc<std::sync::Mutex<Vec<Live>>> = Arc::default();
    let mut next_id = 0u64;
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
            },
        };
        // At the cap, the oldest connection that is not answering a request
        // (idle, or still sending its head) makes room: half-open
        // connections can never lock everyone out.
        {
            let mut held = live.lock().unwrap_or_else(|p| p.into_inner());
            if held.len() >= cap {
                match held
                    .iter()
                    .position(|c| !c.busy.load(std::sync::atomic::Ordering::Acquire))
                {
                    Some(i) => held.remove(i).abort.abort(),
                    None => continue, // every one is answering: this one waits its turn elsewhere
                }
            }
        }
        next_id += 1;
        let id = next_id;
        let busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (settings, flag, registry) = (settings.clone(), busy.clone(), live.clone());
        let task = tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (settings, flag) = (settings.clone(), flag.clone());
                    async move {
                        flag.store(true, std::sync::atomic::Ordering::Release);
                        let r = handle(req, &settings).await;
                        flag.store(false, std::sync::atomic::Ordering::Release);
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
            registry
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|c| c.id != id);
        });
        live.lock().unwrap_or_else(|p| p.into_inner()).push(Live {
            id,
            busy,
            abort: task.abort_handle(),
        });
    }
}

/// A connection being served: whether it is answering a request now, and
/// how to close it.
struct Live {
    id: u64,
    busy: Arc<std::sync::atomic::AtomicBool>,
    abort: tokio::task::AbortHandle,
}

fn query(q: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// `a == token` in time that does not depend on where they differ.
fn token_eq(a: &str, token: &str) -> bool {
    a.len() == token.len()
        && a.bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// True when `headers` carry `Authorization: Bearer TOKEN`, the scheme in
/// any case (RFC 9110 11.1). `serve` and the metrics listener both ask.
pub fn bearer_is(headers: &header::HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .is_some_and(|(_, t)| token_eq(t.trim(), token))
}

fn authorized(
    req: &hyper::Request<hyper::body::Incoming>,
    token: &str,
    q: &HashMap<String, String>,
) -> bool {
    let eq = |a: &str| token_eq(a, token);
    let bearer = bearer_is(req.headers(), token);
    let cookie = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix("newsledger_token="))
        .any(eq);
    bearer || cookie || q.get("token").is_some_and(|t| eq(t))
}

async fn handle(req: hyper::Request<hyper::body::Incoming>, settings: &Settings) -> Reply {
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return html(
            StatusCode::METHOD_NOT_ALLOWED,
            pages::message("Read-only", "This view only reads the ledger."),
        );
    }
    if req.uri().to_string().len() > MAX_URI {
        return html(
            StatusCode::URI_TOO_LONG,
            pages::message("Too long", "The address is too long."),
        );
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if !settings.host_allowed(host) {
        return html(
            StatusCode::MISDIRECTED_REQUEST,
            pages::message(
                "Unknown name",
                "This view answers to localhost and its --public-name values only.",
            ),
        );
    }
    let q = query(req.uri().query());
    if let Some(token) = &settings.token {
        if !authorized(&req, token, &q) {
            return html(
                StatusCode::UNAUTHORIZED,
                pages::message(
                    "Access token needed",
                    "Open this view with ?token=… once, or send Authorization: Bearer ….",
                ),
            );
        }
        if q.contains_key("token") {
            // Taken once: the token moves into a cookie and out of the
            // address bar, the history and any Referer.
            // Behind HTTPS: an https public name, or a proxy that says so
            // (`X-Forwarded-Proto: https[, …]`, `Forwarded: proto=https`).
            let header_text = |name: &str| {
                req.headers()
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(str::to_ascii_lowercase)
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let behind_https = settings.base_url().starts_with("https://")
                || header_text("x-forwarded-proto")
                    .split(',')
                    .next()
                    .is_some_and(|p| p.trim() == "https")
                || header_text("forwarded")
                    .split([',', ';'])
                    .any(|p| p.trim() == "proto=https");
            let rest: Vec<(String, String)> = q
                .iter()
                .filter(|(k, _)| k.as_str() != "token")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            // A path that a browser would read as another origin
            // (`//host/`, `/\host/`) redirects home instead.
            let path = req.uri().path();
            let mut location = if path.starts_with("//") || path.starts_with("/\\") {
                "/".to_string()
            } else {
                path.to_string()
            };
            if !rest.is_empty() {
                location.push('?');
                location.push_str(
                    &url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(rest)
                        .finish(),
                );
            }
            let mut r = html(
                StatusCode::SEE_OTHER,
                pages::message(
                    "Signed in",
                    "The view opens without the token in its address.",
                ),
            );
            let cookie = format!(
                "newsledger_token={token}; HttpOnly; SameSite=Strict; Path=/{}",
                if behind_https { "; Secure" } else { "" }
            );
            if let (Ok(c), Ok(l)) = (
                header::HeaderValue::from_str(&cookie),
                header::HeaderValue::from_str(&location),
            ) {
                r.headers_mut().insert(header::SET_COOKIE, c);
                r.headers_mut().insert(header::LOCATION, l);
            }
            return r;
        }
    }
    let path = req.uri().path().to_string();
    let base = settings.base_url();
    let ledger = settings.ledger.clone();
    // Blocking work is bounded: when every slot is busy the view says so
    // at once (503, Retry-After) instead of queueing without end.
    let Ok(slot) = BLOCKING.clone().try_acquire_owned() else {
        let mut r = html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message("Busy", "Every reader is busy; try again in a moment."),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
        return r;
    };
    let work = tokio::task::spawn_blocking(move || {
        let r = route(&path, &q, &ledger, &base);
        drop(slot);
        r
    });
    match tokio::time::timeout(REQUEST_TIMEOUT, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::message("Error", "The page failed; see the log."),
        ),
        Err(_) => html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message("Too slow", "The page took too long."),
        ),
    }
}

/// One page as `serve` answers it, without the server around it: its status
/// and body. For tests that hold every page to the chain.
#[doc(hidden)]
pub async fn render_page(path: &str, query: &[(&str, &str)], ledger: &Path) -> (u16, Vec<u8>) {
    use http_body_util::BodyExt;
    let q: HashMap<String, String> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let r = route(path, &q, ledger, "http://127.0.0.1");
    let status = r.status().as_u16();
    let body = r
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    (status, body)
}

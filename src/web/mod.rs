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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};
use tokio::net::TcpListener;

use crate::ledger::{self, LedgerError};

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

fn route(path: &str, q: &HashMap<String, String>, ledger_path: &Path, base: &str) -> Reply {
    let conn = match ledger::open_for_reading(ledger_path) {
        Ok(c) => c,
        Err(e @ LedgerError::Tampered { .. }) => {
            return html(
                StatusCode::CONFLICT,
                pages::message("Cannot show this", &e.to_string()),
            );
        }
        Err(e) => {
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::message("Ledger unavailable", &e.to_string()),
            );
        }
    };
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let result = match path {
        "/" => changes_page(
            &conn,
            ChangesFilter {
                source: get("source"),
                kind: get("kind"),
                since: get("since"),
                significance: get("significance"),
                page: get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
            },
        ),
        "/articles" => {
            let page: usize = get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
            let q = ledger::lists::ArticleQuery {
                source: get("source"),
                status: get("status"),
            };
            let offset = (page - 1).saturating_mul(pages::ARTICLES_PER_PAGE);
            ledger::lists::articles_page(&conn, q, offset, pages::ARTICLES_PER_PAGE)
                .map(|listed| html(StatusCode::OK, pages::articles(&listed, q, page)))
        }
        "/article" => article_page(
            &conn,
            get("url"),
            get("from"),
            get("to"),
            get("view"),
            get("tpage").and_then(|p| p.parse().ok()).unwrap_or(1),
        ),
        "/revision" => revision_page(&conn, get("url"), get("rev")),
        "/raw" => raw_page(&conn, get("url"), get("rev")),
        "/search" => match get("q") {
            None => Ok(html(StatusCode::OK, pages::search("", None, 1))),
            Some(text) => {
                let page: usize = get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
                ledger::search::search_page(
                    &conn,
                    ledger_path,
                    text,
                    (page - 1).saturating_mul(SEARCH_PER_PAGE),
                    SEARCH_PER_PAGE,
                )
                .map(|found| html(StatusCode::OK, pages::search(text, Some(&found), page)))
            }
        },
        "/sources" => ledger::lists::status(&conn, ledger_path).map(|st| {
            let mut problems =
                crate::present::overdue(&st, chrono::Utc::now(), Duration::from_secs(900));
            problems.extend(crate::present::failing(&st, 3));
            html(StatusCode::OK, pages::sources(&st, &problems))
        }),
        "/status" => ledger_page(&conn, ledger_path),
        "/feed.atom" => feed(&conn, base),
        _ => Ok(html(
            StatusCode::NOT_FOUND,
            pages::message("Not found", "No such page."),
        )),
    };
    result.unwrap_or_else(|e| {
        let status = match e {
            LedgerError::Untrusted { .. } | LedgerError::Tampered { .. } => StatusCode::CONFLICT,
            LedgerError::Missing(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        html(status, pages::message("Cannot show this", &e.to_string()))
    })
}

fn not_found(what: &str) -> Result<Reply, LedgerError> {
    Ok(html(
        StatusCode::NOT_FOUND,
        pages::message("Not found", what),
    ))
}

/// What the changes feed is asked for.
pub struct ChangesFilter<'a> {
    pub source: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub since: Option<&'a str>,
    pub significance: Option<&'a str>,
    /// 1-based, [`CHANGES_PER_PAGE`] rows each.
    pub page: usize,
}

/// Rows of one page of the changes feed.
pub const CHANGES_PER_PAGE: usize = 50;
/// Articles on one page of search results.
pub const SEARCH_PER_PAGE: usize = 20;

fn changes_page(conn: &rusqlite::Connection, f: ChangesFilter<'_>) -> Result<Reply, LedgerError> {
    // The sources the filter offers: those the configuration entries name
    // (the chain's count per source would cost a pass over every article).
    let sources: Vec<String> = ledger::read::source_names(conn)?;
    let kinds: Vec<&str> = f.kind.into_iter().collect();
    let page = f.page.max(1);
    let listed = ledger::lists::changes_page(
        conn,
        ledger::lists::ChangeQuery {
            since: f.since,
            kinds: &kinds,
            source: f.source,
            significance: f
                .significance
                .and_then(crate::diff::significance::Level::parse),
        },
        (page - 1).saturating_mul(CHANGES_PER_PAGE),
        CHANGES_PER_PAGE,
    )?;
    let (more, total) = (listed.more, listed.total);
    let views: Vec<_> = listed
        .rows
        .into_iter()
        .map(|v| {
            let src = v.source.clone();
            (v, src)
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        pages::changes(&views, &f, &sources, pages::Paging { page, more, total }),
    ))
}

/// The article a `url` parameter names (in any normalized form), replayed
/// from the chain.
fn article_of(
    conn: &rusqlite::Connection,
    url: Option<&str>,
) -> Result<Option<(String, ledger::read::ArticleRecord)>, LedgerError> {
    let Some(found) = url
        .map(|u| ledger::read::resolve_article(conn, u))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    let record = ledger::read::article(conn, &found)?;
    Ok(Some((found, record)))
}

fn article_page(
    conn: &rusqlite::Connection,
    url: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    view: Option<&str>,
    timeline_page: usize,
) -> Result<Reply, LedgerError> {
    let Some((url, record)) = article_of(conn, url)? else {
        return not_found("No such article in the ledger.");
    };
    let history = record.history();
    let revisions = record.revision_numbers();
    let last = record.last().unwrap_or(1);
    let (dfrom, dto) = record
        .latest_content_change()
        .unwrap_or(((last - 1).max(1), last));
    let num = |v: Option<&str>, d: i64| v.and_then(|v| v.parse().ok()).unwrap_or(d);
    let (from, to) = (num(from, dfrom), num(to, dto));
    let title = record
        .revision(conn, record.current())?
        .and_then(|(_, a)| a.title);
    let diff = if from != to || revisions.len() > 1 {
        match (
            record.revision(conn, Some(from))?,
            record.revision(conn, Some(to))?,
        ) {
            (Some((_, a)), Some((_, b))) => {
                let d = crate::diff::words::diff_ordered(&a.text, &b.text, from <= to);
                Some((d, crate::diff::metadata_changes(&a, &b)))
            }
            _ => return not_found("No such revision."),
        }
    } else {
        None
    };
    let page = pages::ArticlePage {
        url: &url,
        title: title.as_deref(),
        history: &history,
        revisions: &revisions,
        from,
        to,
        side: view == Some("side"),
        diff: diff.as_ref().map(|(d, f)| (d, f.clone())),
        timeline_page,
    };
    Ok(html(StatusCode::OK, pages::article(&page)))
}

fn revision_page(
    conn: &rusqlite::Connection,
    url: Option<&str>,
    rev: Option<&str>,
) -> Result<Reply, LedgerError> {
    let Some((url, record)) = article_of(conn, url)? else {
        return not_found("No such article in the ledger.");
    };
    let rev = rev.and_then(|r| r.parse().ok());
    let Some((row, a)) = record.revision(conn, rev)? else {
        return not_found("No such revision.");
    };
    let has_raw = record
        .revision_row(row.revision)
        .is_some_and(|r| r.raw_blob.is_some());
    Ok(html(
        StatusCode::OK,
        pages::revision(&url, &row, &a, has_raw),
    ))
}

/// The capture of a revision, decoded, under a sandboxing CSP.
fn raw_page(
    conn: &rusqlite::Connection,
    url: Option<&str>,
    rev: Option<&str>,
) -> Result<Reply, LedgerError> {
    let Some((_, record)) = article_of(conn, url)? else {
        return not_found("No such article in the ledger.");
    };
    let Some(raw) = rev
        .and_then(|r| r.parse().ok())
        .and_then(|n| record.revision_row(n))
        .and_then(|r| r.raw_blob.clone())
    else {
        return not_found("No capture kept for this revision.");
    };
    let bytes = ledger::blobs::get(conn, &raw)?;
    let Some((body, _)) = crate::fetch::response::capture_body(&bytes, 64 * 1024 * 1024) else {
        return not_found("The capture cannot be decoded.");
    };
    // Served as HTML in a sandbox whatever the page said it was.
    Ok(reply(
        StatusCode::OK,
        "text/html; charset=utf-8",
        RAW_CSP,
        body,
    ))
}

fn ledger_page(conn: &rusqlite::Connection, path: &Path) -> Result<Reply, LedgerError> {
    let status = ledger::lists::status(conn, path)?;
    let sqlite = |source| LedgerError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let checkpoint = match crate::proof::log::latest(conn).map_err(sqlite)? {
        None => None,
        Some(cp) => {
            let ts = crate::proof::log::timestamp_of(conn, cp.seq)
                .map_err(sqlite)?
                .and_then(|t| t.time);
            Some((cp.seq, cp.body.size, cp.note, ts))
        }
    };
    let last_verify = std::fs::read_to_string(format!("{}.verified", path.display()))
        .ok()
        .map(|s| s.trim().to_string());
    Ok(html(
        StatusCode::OK,
        pages::ledger(&pages::LedgerPage {
            status: &status,
            checkpoint,
            last_verify,
        }),
    ))
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// Atom 1.0 feed of flagged changes (changed, gone, restored, reverted),
/// newest first, at most 100.
fn feed(conn: &rusqlite::Connection, base: &str) -> Result<Reply, LedgerError> {
    let flagged = ledger::lists::change_rows(
        conn,
        ledger::lists::ChangeQuery {
            kinds: &["changed", "gone", "restored", "reverted"],
            ..Default::default()
        },
        100,
    )?;
    let genesis: String = conn
        .query_row(
            "SELECT lower(hex(entry_hash)) FROM ledger WHERE seq = 1",
            [],
            |r| r.get(0),
        )
        .unwrap_or_default();
    let base = xml(base);
    let updated = flagged
        .first()
        .map_or("1970-01-01T00:00:00Z".to_string(), |(c, _)| {
            c.detected_at.clone()
        });
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>newsledger: flagged changes</title>\n<id>urn:newsledger:{genesis}</id>\n<updated>{}</updated>\n<link rel=\"self\" href=\"{base}/feed.atom\"/>\n<link href=\"{base}/\"/>\n<generator>newsledger</generator>\n",
        xml(&updated)
    );
    for (c, title) in &flagged {
        let title = title.as_deref().unwrap_or(c.url.as_str());
        let revs = format!(
            "{} → {}",
            c.from_revision.map_or("–".into(), |r| r.to_string()),
            c.to_revision.map_or("removed".into(), |r| r.to_string())
        );
        let link = match (c.from_revision, c.to_revision) {
            (Some(f), Some(t)) => format!(
                "{base}{}&amp;from={f}&amp;to={t}",
                xml(&pages::article_link(&c.url))
            ),
            _ => format!("{base}{}", xml(&pages::article_link(&c.url))),
        };
        out.push_str(&format!(
            "<entry>\n<id>urn:newsledger:{genesis}:{}:{}</id>\n<title>{}: {}</title>\n<updated>{}</updated>\n<link href=\"{link}\"/>\n<author><name>newsledger</name></author>\n<summary>{} of {} (revision {revs}, fields {}, entry {})</summary>\n</entry>\n",
            c.seq,
            xml(&c.kind),
            xml(&c.kind),
            xml(title),
            xml(&c.detected_at),
            xml(&c.kind),
            xml(&c.url),
            xml(&c.fields.to_string()),
            c.seq
        ));
    }
    out.push_str("</feed>\n");
    Ok(reply(
        StatusCode::OK,
        "application/atom+xml; charset=utf-8",
        APP_CSP,
        out.into_bytes(),
    ))
}

/// The self-contained HTML report of one article (`newsledger report`).
pub fn report_html(conn: &rusqlite::Connection, url: &str) -> Result<String, LedgerError> {
    let record = ledger::read::article(conn, url)?;
    let history = record.history();
    let sqlite = |source| LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    };
    let mut changes = Vec::new();
    let mut previous: Option<i64> = None;
    for h in &history {
        let entry_hash: String = conn
            .query_row(
                "SELECT lower(hex(entry_hash)) FROM ledger WHERE seq = ?1",
                [h.seq],
                |r| r.get(0),
            )
            .map_err(sqlite)?;
        if h.kind != "new" {
            let pair = match (previous, h.kind.as_str()) {
                (Some(p), "changed" | "reverted" | "restored" | "metadata") if p != h.revision => {
                    match (
                        record.revision(conn, Some(p))?,
                        record.revision(conn, Some(h.revision))?,
                    ) {
                        (Some((_, a)), Some((_, b))) => Some((a, b)),
                        _ => None,
                    }
                }
                _ => None,
            };
            let mut change = pages::ReportChange {
                span: h.clone(),
                from: previous.filter(|_| h.kind != "gone"),
                diff: None,
                entry_hash,
                metadata: vec![],
                label: None,
                significance: None,
            };
            if let Some((a, b)) = pair {
                let d = crate::diff::words::diff_ordered(&a.text, &b.text, true);
                let (metadata, significance) = crate::diff::significance::between(&a, &b, &d);
                change.significance = Some(significance);
                if matches!(h.kind.as_str(), "changed" | "metadata") {
                    let declared = crate::diff::is_declared(
                        &crate::diff::fingerprint(&a),
                        &crate::diff::fingerprint(&b),
                    );
                    change.label = Some(if declared { "declared" } else { "stealth" });
                }
                change.metadata = metadata;
                change.diff = Some(d);
            }
            changes.push(change);
        }
        if h.kind != "gone" {
            previous = Some(h.revision);
        }
    }
    let last_seq = history.iter().map(|h| h.seq).max().unwrap_or(0);
    let checkpoint = crate::proof::log::covering(conn, last_seq)
        .map_err(sqlite)?
        .map(|(cp, ts)| (cp.seq, cp.body.size, cp.note, ts.and_then(|t| t.time)));
    let head = ledger::head(conn)
        .map_err(sqlite)?
        .map(|(s, h)| format!("{s}:{}", hex::encode(h)))
        .unwrap_or_default();
    let title = record
        .revision(conn, record.current())?
        .and_then(|(_, a)| a.title);
    Ok(pages::report(&pages::Report {
        url,
        title: title.as_deref(),
        history: &history,
        changes: &changes,
        head,
        checkpoint,
        generated: ledger::timestamp(chrono::Utc::now()),
    })
    .into_string())
}

//! The fetcher: one HTTP exchange per call, bounded in time and size.
//!
//! Invariant: `fetch` never panics and never returns early without a
//! [`FetchResult`]: every failure becomes a result the ledger records.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::FetchConfig;

/// What the server answered (any status, 304 and 404 included).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// The body after content decoding (gzip, brotli, deflate).
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for HTML and XHTML bodies, and for a body with no content type.
    pub fn is_html(&self) -> bool {
        match self.header("content-type") {
            None => true,
            Some(ct) => {
                let ct = ct.to_ascii_lowercase();
                ct.starts_with("text/html") || ct.starts_with("application/xhtml")
            }
        }
    }

    /// The exchange as received: status line, headers, blank line, body.
    ///
    /// The body is stored after content decoding, so the framing headers
    /// that described the wire form (`Content-Encoding`, `Transfer-Encoding`,
    /// `Content-Length`) are replaced by one `Content-Length` of the stored
    /// body: the capture then parses as the HTTP message it holds (WARC
    /// replay tools read it as is).
    pub fn raw(&self) -> Vec<u8> {
        let reason = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut out = format!("{} {} {reason}\r\n", self.version, self.status).into_bytes();
        for (k, v) in &self.headers {
            if ["content-encoding", "transfer-encoding", "content-length"]
                .iter()
                .any(|h| k.eq_ignore_ascii_case(h))
            {
                continue;
            }
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// Why a fetch produced no response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{class}: {message}")]
pub struct FetchError {
    /// A stable class for the ledger: `timeout`, `connect`, `redirects`,
    /// `body_too_large`, `invalid_url`, `request`, `aborted`.
    pub class: &'static str,
    pub message: String,
}

impl FetchError {
    /// True for errors that may go away by themselves (a later retry helps).
    pub fn is_transient(&self) -> bool {
        matches!(self.class, "timeout" | "connect" | "request" | "aborted")
    }
}

/// One fetch: what was asked, when, and what came back.
#[derive(Debug, Clone)]
pub struct FetchResult {
    pub requested_url: String,
    pub final_url: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub response: Result<Response, FetchError>,
}

/// Validators from the last successful fetch, for a conditional request.
#[derive(Debug, Clone, Default)]
pub struct Conditional {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The HTTP client with the configured limits and a per-host pace.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body_bytes: u64,
    per_host_interval: Duration,
    /// Per host: the earliest instant the next request may start.
    next_slot: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Fetcher {
    pub fn new(cfg: &FetchConfig) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::limited(cfg.max_redirects))
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError {
                class: "request",
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Fetcher {
            client,
            max_body_bytes: cfg.max_body_bytes,
            per_host_interval: cfg.per_host_interval,
            next_slot: Arc::default(),
        })
    }

    /// Waits until `url`'s host may be contacted again and reserves the slot.
    async fn pace(&self, url: &reqwest::Url) {
        if self.per_host_interval.is_zero() {
            return;
        }
        let host = url.host_str().unwrap_or_default().to_string();
        let wait_until = {
            let mut slots = self.next_slot.lock().await;
            let now = Instant::now();
            let start = slots
                .get(&host)
                .copied()
                .filter(|t| *t > now)
                .unwrap_or(now);
            slots.insert(host, start + self.per_host_interval);
            start
        };
        tokio::time::sleep_until(wait_until).await;
    }

    /// Fetches `url`, conditionally when validators are given.
    pub async fn fetch(&self, url: &str, cond: &Conditional) -> FetchResult {
        let started_at = Utc::now();
        let response = self.exchange(url, cond).await;
        let (final_url, response) = match response {
            Ok((final_url, r)) => (final_url, Ok(r)),
            Err(e) => (url.to_string(), Err(e)),
        };
        FetchResult {
            requested_url: url.to_string(),
            final_url,
            started_at,
            finished_at: Utc::now(),
            response,
        }
    }

    async fn exchange(
        &self,
        url: &str,
        cond: &Conditional,
    ) -> Result<(String, Response), FetchError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| FetchError {
            class: "invalid_url",
            message: format!("{url}: {e}"),
        })?;
        self.pace(&parsed).await;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"),
        );
        if let Some(v) = cond
            .etag
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_NONE_MATCH, v);
        }
        if let Some(v) = cond
            .last_modified
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_MODIFIED_SINCE, v);
        }
        let mut resp = self
            .client
            .get(parsed)
            .headers(headers)
            .send()
            .await
            .map_err(classify)?;
        let final_url = resp.url().to_string();
        let status = resp.status().as_u16();
        let version = format!("{:?}", resp.version());
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        if let Some(len) = resp.content_length().filter(|l| *l > self.max_body_bytes) {
            return Err(too_large(len, self.max_body_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if (body.len() + chunk.len()) as u64 > self.max_body_bytes {
                return Err(too_large(
                    (body.len() + chunk.len()) as u64,
                    self.max_body_bytes,
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((
            final_url,
            Response {
                status,
                version,
                headers,
                body,
            },
        ))
    }
}

fn too_large(seen: u64, cap: u64) -> FetchError {
    FetchError {
        class: "body_too_large",
        message: format!("body of at least {seen} bytes exceeds max_body_bytes = {cap}"),
    }
}

fn classify(e: reqwest::Error) -> FetchError {
    let class = if e.is_timeout() {
        "timeout"
    } else if e.is_redirect() {
        "redirects"
    } else if e.is_connect() {
        "connect"
    } else {
        "request"
    };
    // The full chain of causes says what happened (e.g. "connection refused").
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    FetchError { class, message }
}

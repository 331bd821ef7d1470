//! A small HTTP/1.1 server on 127.0.0.1 for the demo and the tests: pages
//! can be changed, removed or made to misbehave while it runs. It speaks
//! just enough HTTP for a real client: GET, `Content-Length`,
//! `If-None-Match` (304), and `Connection: close`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One page the server answers with.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// When set, `If-None-Match` with this value is answered with 304.
    pub etag: Option<String>,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering (for timeouts and shutdown tests).
    pub delay: Duration,
}

impl Page {
    /// A 200 HTML page with a strong ETag derived from its body.
    pub fn html(body: impl Into<String>) -> Page {
        let body = body.into().into_bytes();
        let etag = format!("\"{}\"", &crate::ledger::blobs::hash_hex(&body)[..16]);
        Page {
            status: 200,
            content_type: "text/html; charset=utf-8".into(),
            body,
            etag: Some(etag),
            headers: vec![],
            delay: Duration::ZERO,
        }
    }

    /// The same page, answered without an ETag (so never with 304).
    pub fn without_etag(mut self) -> Page {
        self.etag = None;
        self
    }

    pub fn with_delay(mut self, d: Duration) -> Page {
        self.delay = d;
        self
    }

    pub fn status(code: u16) -> Page {
        Page {
            status: code,
            content_type: "text/html; charset=utf-8".into(),
            body: format!("<html><body><h1>{code}</h1></body></html>").into_bytes(),
            etag: None,
            headers: vec![],
            delay: Duration::ZERO,
        }
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub path: String,
    /// The request body (for POSTs, read by `Content-Length`).
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub status: u16,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Pages = Arc<Mutex<HashMap<String, Page>>>;

/// The running server. Dropping it stops accepting connections.
pub struct Server {
    addr: SocketAddr,
    pages: Pages,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub async fn start() -> std::io::Result<Server> {
        Server::start_on("127.0.0.1").await
    }

    /// Binds a given loopback address (127.0.0.0/8: tests use 127.0.0.2…
    /// to stand for other hosts) on a free port and starts serving.
    pub async fn start_on(ip: &str) -> std::io::Result<Server> {
        let ip: std::net::Ipv4Addr = ip.parse().map_err(|_| std::io::Error::other(format!("{ip} is not an IPv4 address")))?;
        if !ip.is_loopback() {
            return Err(std::io::Error::other(format!("{ip} is not a loopback address: the test server only serves loopback")));
        }
        let listener = TcpListener::bind((ip, 0)).await?;
        let addr = listener.local_addr()?;
        let pages: Pages = Arc::default();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let (p, h) = (pages.clone(), hits.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (p, h) = (p.clone(), h.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, p, h).await;
                });
            }
        });
        Ok(Server {
            addr,
            pages,
            hits,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The absolute URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, path: &str, page: Page) {
        self.pages
            .lock()
            .expect("pages lock")
            .insert(path.to_string(), page);
    }

    pub fn remove(&self, path: &str) {
        self.pages.lock().expect("pages lock").remove(path);
    }

    /// Every request received so far, in order.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("hits lock").clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    pages: Pages,
    hits: Arc<Mutex<Vec<Hit>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 64 * 1024 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(buf.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or("GET").to_string();
    let path = words.next().unwrap_or("/").to_string();
    let headers: Vec<(String, String)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        .min(16 * 1024 * 1024);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let page = pages.lock().expect("pages lock").get(&path).cloned();
    let page = page.unwrap_or_else(|| Page::status(404));
    let inm = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("if-none-match"))
        .map(|(_, v)| v.clone());
    let not_modified = page.etag.is_some() && inm.is_some() && inm == page.etag;
    let status = if not_modified { 304 } else { page.status };
    // Recorded on arrival, so a test can act while a slow answer is pending.
    hits.lock().expect("hits lock").push(Hit {
        method,
        path,
        body,
        headers,
        status,
    });
    if !page.delay.is_zero() {
        tokio::time::sleep(page.delay).await;
    }
    let reason = match status {
        200 => "OK",
        304 => "Not Modified",
        404 => "Not Found",
        410 => "Gone",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n");
    if let Some(etag) = &page.etag {
        out.push_str(&format!("ETag: {etag}\r\n"));
    }
    for (k, v) in &page.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    let body: &[u8] = if not_modified { b"" } else { &page.body };
    if !not_modified {
        out.push_str(&format!("Content-Type: {}\r\n", page.content_type));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(out.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

//! The demo's news site: pages served over HTTP/1.1 on 127.0.0.1 by hyper,
//! changed or removed while it runs, with a strong ETag each and 304 for a
//! matching `If-None-Match` (the conditional requests newsledger makes).
//! The tests' server, which can also misbehave on purpose, is
//! tests/support/server.rs.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, header};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One page the site answers with.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
    /// `If-None-Match` with this value is answered with 304.
    pub etag: Option<String>,
}

impl Page {
    /// A 200 HTML page with a strong ETag derived from its body.
    pub fn html(body: impl Into<String>) -> Page {
        let body = Bytes::from(body.into());
        let hash = crate::ledger::blobs::hash_hex(&body);
        Page {
            status: 200,
            content_type: "text/html; charset=utf-8".into(),
            etag: Some(format!("\"{}\"", hash.get(..16).unwrap_or(&hash))),
            body,
        }
    }
}

type Pages = Arc<Mutex<HashMap<String, Page>>>;

/// The running site. Dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    pages: Pages,
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
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let pages: Pages = Arc::default();
        let served = pages.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let pages = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<_>| {
                        let reply = answer(&pages, &req);
                        async move { Ok::<_, Infallible>(reply) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Server { addr, pages, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The absolute URL of `path` on this site.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Serves `page` at `path` from now on.
    pub fn set(&self, path: &str, page: Page) {
        self.pages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_string(), page);
    }

    /// Answers 404 at `path` from now on.
    pub fn remove(&self, path: &str) {
        self.pages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(path);
    }
}

/// The page at the request's path (with its query), 304 when the client
/// holds it already, 404 when there is none.
fn answer<B>(pages: &Pages, req: &Request<B>) -> Response<Full<Bytes>> {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let page = pages
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&path)
        .cloned();
    let mut reply = Response::builder();
    let Some(page) = page else {
        return reply
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Full::new(Bytes::from_static(b"<h1>Not found</h1>")))
            .unwrap_or_default();
    };
    if let Some(etag) = &page.etag {
        reply = reply.header(header::ETAG, etag.as_str());
    }
    let held = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if page.etag.is_some() && held == page.etag.as_deref() {
        return reply
            .status(StatusCode::NOT_MODIFIED)
            .body(Full::new(Bytes::new()))
            .unwrap_or_default();
    }
    reply
        .status(StatusCode::from_u16(page.status).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, page.content_type.as_str())
        .body(Full::new(page.body))
        .unwrap_or_default()
}

//! The connection under every fetch: hyper's HTTP/1.1 client connection over
//! a stream that records each byte written and read, so that what the ledger
//! keeps as the request and the response is what crossed the connection,
//! from the first byte of the request line to the last byte of the body
//! (chunk framing, header order, case and bytes as the server sent them).
//!
//! Under the recorder: TCP, then TLS (rustls, the system's roots plus
//! `[fetch] ca_file`) for `https`. The TLS layer sits below the recorder, so
//! the recorded bytes are the HTTP message, and the connection's facts (the
//! peer's address and port; for TLS the protocol, cipher suite, SNI name and
//! the certificate chain as presented) are kept beside them.
//!
//! Only HTTP/1.1 is offered (ALPN `http/1.1`): an HTTP/2 exchange has no
//! byte form of the message to keep, and web archives store HTTP/1 messages.
//!
//! Every name resolves through one resolver and, when the caller gives an
//! [`AddressPolicy`], each address is checked before the connection is made:
//! the check sits where the address is used, so no path around it exists.
//!
//! One idle connection per origin and policy is kept for the next request
//! to that origin (fetches of one host are serial); a kept connection the
//! server closed in the meantime is replaced once, transparently.

mod recorder;

use recorder::{Io, Log, OVER_LIMIT, Recorder, lock};

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::rustls;
use url::Url;

use crate::exchange::{Captured, FetchError, Head, Tls, message_end, parse_head};

use super::guard::{AddressPolicy, REFUSED};

/// More bytes than this on one exchange (head, framing and body, as
/// received) end it: the body cap bounds the body, this bounds the rest.
const FRAMING_ALLOWANCE: u64 = 1 << 20;
/// Idle connections kept across all origins. A cycle takes its URLs in
/// turns of host, so every host of a cycle is idle between two of its
/// fetches: with fewer slots than hosts, each fetch would evict the
/// connection the next one needs (the ingest bench's 304 re-fetch of 100
/// hosts ran at 0.80 of the peer with 64). Far below the default limit of
/// 1,024 open files.
const MAX_IDLE: usize = 512;
/// An idle connection older than this is closed rather than reused.
const IDLE_FOR: Duration = Duration::from_secs(30);

/// A response read whole: its parsed head and body, and the capture.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The final head as read from the capture (`None`: it does not parse).
    pub head: Option<Head>,
    /// The body with the transfer coding undone (content coding kept).
    pub body: Vec<u8>,
    pub captured: Captured,
}

/// One open connection and its facts.
struct Connection {
    send: SendRequest<Empty<Bytes>>,
    /// False once the connection carried bytes no request asked for.
    reusable: bool,
    log: Arc<Mutex<Log>>,
    peer: SocketAddr,
    tls: Option<Arc<Tls>>,
}

struct Idle {
    origin: String,
    policy: Option<AddressPolicy>,
    since: Instant,
    conn: Connection,
}

/// The HTTP client every fetch goes through.
#[derive(Clone)]
pub struct Client {
    resolver: Arc<dyn reqwest::dns::Resolve>,
    tls: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
    stall_timeout: Duration,
    idle: Arc<Mutex<Vec<Idle>>>,
}

/// Trusted roots are configuration (`[fetch] ca_file`).
pub use crate::config::{ca_certificates, roots};

fn origin(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(0)
    )
}

fn connect_error(message: String) -> FetchError {
    FetchError {
        class: "connect",
        message,
    }
}

/// A hyper error as a fetch error: its class and its chain of causes.
fn hyper_error(e: &hyper::Error) -> FetchError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    let mut over = false;
    while let Some(s) = source {
        over |= s.to_string() == OVER_LIMIT;
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    let class = if over {
        "body_too_large"
    } else if e.is_timeout() {
        "timeout"
    } else {
        "request"
    };
    FetchError { class, message }
}

impl Client {
    pub fn new(
        resolver: Arc<dyn reqwest::dns::Resolve>,
        ca_file: Option<&Path>,
        connect_timeout: Duration,
        stall_timeout: Duration,
    ) -> Result<Client, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots(ca_file)?)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Client {
            resolver,
            tls: Arc::new(config),
            connect_timeout,
            stall_timeout,
            idle: Arc::default(),
        })
    }

    /// The addresses of `url`'s host, those `policy` refuses left out (an
    /// error when none is left).
    async fn addresses(
        &self,
        url: &Url,
        policy: Option<&AddressPolicy>,
    ) -> Result<Vec<SocketAddr>, FetchError> {
        let port = url.port_or_known_default().unwrap_or(80);
        let all: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(a)) => vec![SocketAddr::new(IpAddr::V4(a), port)],
            Some(url::Host::Ipv6(a)) => vec![SocketAddr::new(IpAddr::V6(a), port)],
            Some(url::Host::Domain(name)) => {
                let name: reqwest::dns::Name = name.parse().map_err(|_| FetchError {
                    class: "invalid_url",
                    message: format!("{url}: {name:?} is not a host name"),
                })?;
                let resolved =
                    tokio::time::timeout(self.connect_timeout, self.resolver.resolve(name))
                        .await
                        .map_err(|_| FetchError {
                            class: "timeout",
                            message: format!(
                                "resolving {}: no answer within the connect timeout",
                                url.host_str().unwrap_or_default()
                            ),
                        })?
                        .map_err(|e| {
                            connect_error(format!(
                                "resolving {}: {e}",
                                url.host_str().unwrap_or_default()
                            ))
                        })?;
                resolved.map(|a| SocketAddr::new(a.ip(), port)).collect()
            }
            None => {
                return Err(FetchError {
                    class: "invalid_url",
                    message: format!("{url}: no host"),
                });
            }
        };
        let Some(policy) = policy else {
            return Ok(all);
        };
        let (ok, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
            all.into_iter().partition(|a| policy.allows(a.ip()));
        if ok.is_empty() {
            let shown: Vec<String> = refused.iter().map(|a| a.ip().to_string()).collect();
            return Err(FetchError {
                class: "refused",
                message: format!(
                    "{REFUSED}: {} resolves to {} (a private address; set allow_private_networks = true to allow)",
                    url.host_str().unwrap_or_default(),
                    if shown.is_empty() {
                        "nothing".to_string()
                    } else {
                        shown.join(", ")
                    }
                ),
            });
        }
        Ok(ok)
    }

    async fn connect(
        &self,
        url: &Url,
        policy: Option<&AddressPolicy>,
    ) -> Result<Connection, FetchError> {
        let addresses = self.addresses(url, policy).await?;
        let deadline = Instant::now() + self.connect_timeout;
        let mut last = None;
        let mut tcp = None;
        for addr in addresses {
            match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    tcp = Some((s, addr));
                    break;
                }
                Ok(Err(e)) => last = Some(connect_error(format!("connecting to {addr}: {e}"))),
                Err(_) => {
                    last = Some(FetchError {
                        class: "timeout",
                        message: format!(
                            "connecting to {addr}: no answer within the connect timeout"
                        ),
                    });
                    break;
                }
            }
        }
        let Some((tcp, peer)) = tcp else {
            return Err(last.unwrap_or_else(|| connect_error(format!("{url}: no address"))));
        };
        let _ = tcp.set_nodelay(true);
        let (stream, tls): (Box<dyn Io>, Option<Arc<Tls>>) = match url.scheme() {
            "https" => {
                let host = url.host_str().unwrap_or_default();
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let name =
                    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
                        FetchError {
                            class: "invalid_url",
                            message: format!("{url}: {e}"),
                        }
                    })?;
                let sni = matches!(name, rustls::pki_types::ServerName::DnsName(_))
                    .then(|| host.to_string());
                let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
                let stream = tokio::time::timeout_at(deadline, connector.connect(name, tcp))
                    .await
                    .map_err(|_| FetchError {
                        class: "timeout",
                        message: format!(
                            "TLS handshake with {peer}: no answer within the connect timeout"
                        ),
                    })?
                    .map_err(|e| connect_error(format!("TLS handshake with {peer}: {e}")))?;
                let (_, session) = stream.get_ref();
                let facts = Tls {
                    protocol: session
                        .protocol_version()
                        .and_then(|v| v.as_str())
                        .unwrap_or("?")
                        .to_string(),
                    cipher: session
                        .negotiated_cipher_suite()
                        .and_then(|c| c.suite().as_str())
                        .unwrap_or("?")
                        .to_string(),
                    sni,
                    chain: session
                        .peer_certificates()
                        .unwrap_or_default()
                        .iter()
                        .map(|c| c.as_ref().to_vec())
                        .collect(),
                };
                (Box::new(stream), Some(Arc::new(facts)))
            }
            "http" => (Box::new(tcp), None),
            other => {
                return Err(FetchError {
                    class: "invalid_url",
                    message: format!("{url}: scheme {other} is not fetched"),
                });
            }
        };
        let log = Arc::new(Mutex::new(Log::default()));
        let io = TokioIo::new(Recorder {
            inner: stream,
            log: log.clone(),
        });
        let (send, conn) = http1::Builder::new()
            .max_headers(512)
            .writev(false)
            .allow_obsolete_multiline_headers_in_responses(true)
            .allow_spaces_after_header_name_in_responses(true)
            .ignore_invalid_headers_in_responses(true)
            .handshake(io)
            .await
            .map_err(|e| hyper_error(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection {
            send,
            reusable: true,
            log,
            peer,
            tls,
        })
    }

    /// An idle connection to `url`'s origin made under `policy`, if one is kept.
    fn take_idle(&self, url: &Url, policy: Option<&AddressPolicy>) -> Option<Connection> {
        let key = origin(url);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(|i| i.since.elapsed() < IDLE_FOR && !i.conn.send.is_closed());
        let at = idle
            .iter()
            .position(|i| i.origin == key && i.policy.as_ref() == policy)?;
        Some(idle.swap_remove(at).conn)
    }

    fn keep_idle(&self, url: &Url, policy: Option<&AddressPolicy>, conn: Connection) {
        if conn.send.is_closed() || !conn.reusable {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() >= crate::limits::share(4, MAX_IDLE) {
            idle.remove(0);
        }
        idle.push(Idle {
            origin: origin(url),
            policy: policy.cloned(),
            since: Instant::now(),
            conn,
        });
    }

    /// One GET of `url` with `headers`, reading the body up to `max_body`
    /// bytes. `policy`, when given, is checked on every address connected to.
    pub async fn get(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        policy: Option<&AddressPolicy>,
        max_body: u64,
    ) -> Result<Reply, FetchError> {
        if let Some(conn) = self.take_idle(url, policy) {
            match self.exchange(conn, url, headers, max_body).await {
                Ok((reply, conn)) => {
                    self.keep_idle(url, policy, conn);
                    return Ok(reply);
                }
                // The server closed the kept connection before answering:
                // the request is sent again on a new one.
                Err(Stale::Closed) => {}
                Err(Stale::Failed(e)) => return Err(e),
            }
        }
        let conn = self.connect(url, policy).await?;
        match self.exchange(conn, url, headers, max_body).await {
            Ok((reply, conn)) => {
                self.keep_idle(url, policy, conn);
                Ok(reply)
            }
            Err(Stale::Closed) => Err(FetchError {
                class: "request",
                message: format!("{url}: the connection closed before a response"),
            }),
            Err(Stale::Failed(e)) => Err(e),
        }
    }

    async fn exchange(
        &self,
        mut conn: Connection,
        url: &Url,
        headers: &[(&str, String)],
        max_body: u64,
    ) -> Result<(Reply, Connection), Stale> {
        {
            let mut log = lock(&conn.log);
            log.sent.clear();
            log.received.clear();
            log.limit = max_body.saturating_add(FRAMING_ALLOWANCE);
        }
        if conn.send.ready().await.is_err() {
            return Err(Stale::Closed);
        }
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => String::new(),
        };
        let mut request = hyper::Request::get(target.as_str()).header(hyper::header::HOST, host);
        for (k, v) in headers {
            request = request.header(*k, v.as_str());
        }
        let request = request.body(Empty::new()).map_err(|e| {
            Stale::Failed(FetchError {
                class: "invalid_url",
                message: format!("{url}: {e}"),
            })
        })?;
        let response = match conn.send.send_request(request).await {
            Ok(r) => r,
            Err(e)
                if lock(&conn.log).received.is_empty()
                    && (e.is_incomplete_message() || e.is_canceled() || e.is_closed()) =>
            {
                return Err(Stale::Closed);
            }
            Err(e) => return Err(Stale::Failed(hyper_error(&e))),
        };
        let status = response.status().as_u16();
        let announced = response
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(len) = announced.filter(|l| *l > max_body) {
            return Err(Stale::Failed(super::too_large(len, max_body)));
        }
        let mut body = response.into_body();
        let mut out = Vec::with_capacity(announced.unwrap_or(0).min(1 << 20) as usize);
        loop {
            let frame = match tokio::time::timeout(self.stall_timeout, body.frame()).await {
                Err(_) => {
                    return Err(Stale::Failed(FetchError {
                        class: "timeout",
                        message: format!(
                            "{url}: the body stalled (nothing for {})",
                            humantime::format_duration(self.stall_timeout)
                        ),
                    }));
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(Stale::Failed(hyper_error(&e))),
                Ok(Some(Ok(f))) => f,
            };
            if let Ok(data) = frame.into_data() {
                if (out.len() + data.len()) as u64 > max_body {
                    return Err(Stale::Failed(super::too_large(
                        (out.len() + data.len()) as u64,
                        max_body,
                    )));
                }
                out.extend_from_slice(&data);
            }
        }
        let (sent, received) = {
            let mut log = lock(&conn.log);
            (
                std::mem::take(&mut log.sent),
                std::mem::take(&mut log.received),
            )
        };
        let (interim, received, extra, head) = split_received(received);
        if extra > 0 {
            // Bytes after the response answer no request: they are not
            // part of this capture, and the connection is not reused.
            tracing::warn!(
                %url,
                "{extra} bytes after the end of the response were left out of the capture"
            );
            conn.reusable = false;
        }
        let captured = Captured {
            sent: sent.into(),
            received: received.into(),
            interim: interim.into(),
            peer: conn.peer,
            tls: conn.tls.clone(),
        };
        Ok((
            Reply {
                status,
                head,
                body: out,
                captured,
            },
            conn,
        ))
    }
}

enum Stale {
    /// A kept connection was closed before the request got an answer.
    Closed,
    Failed(FetchError),
}

/// Splits what a connection received during one exchange into the
/// informational (1xx) responses before the final one, the final response
/// as its framing delimits it, and whatever came after it (which belongs
/// to no request). Unparsable bytes are kept whole as the response.
/// Also returns the final head, its offsets in the response (read once per
/// exchange, for everything after: redirects, decoding, robots.txt).
fn split_received(mut received: Vec<u8>) -> (Vec<u8>, Vec<u8>, usize, Option<Head>) {
    let Some(mut head) = parse_head(&received) else {
        return (Vec::new(), received, 0, None);
    };
    let end = message_end(&received, &head).unwrap_or(received.len());
    let extra = received.len().saturating_sub(end);
    received.truncate(end);
    let response = received.split_off(head.start);
    head.body_at -= head.start;
    head.start = 0;
    (received, response, extra, Some(head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::entity_body;

    #[test]
    fn a_capture_is_split_into_interim_responses_the_response_and_what_followed() {
        let interim = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n".to_vec();
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc".to_vec();
        let all = [
            interim.clone(),
            response.clone(),
            b"HTTP/1.1 200 OK\r\n\r\nnot asked".to_vec(),
        ]
        .concat();
        let (i, r, extra, head) = split_received(all);
        assert_eq!((i, r.clone(), extra), (interim, response, 28));
        assert_eq!(parse_head(&r).unwrap().start, 0);
        assert_eq!(head, parse_head(&r), "the head, rebased to the response");
        // No body for 204 and 304, whatever the headers say.
        let no_body = b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello".to_vec();
        let (_, r, extra, _) = split_received(no_body);
        assert_eq!((r.len(), extra), (46, 5));
        assert_eq!(entity_body(&r, 100).unwrap(), b"");
        // Chunked with trailers: the message ends after the trailer section.
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\nEXTRA".to_vec();
        let (_, r, extra, _) = split_received(chunked);
        assert_eq!(extra, 5);
        assert!(r.ends_with(b"X-T: 1\r\n\r\n"));
        assert_eq!(entity_body(&r, 100).unwrap(), b"abc");
    }
}

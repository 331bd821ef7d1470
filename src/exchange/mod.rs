//! An HTTP exchange as received, and the reading of one back: the types a
//! fetch produces and the ledger records ([`FetchResult`], [`Response`],
//! the [`Captured`] bytes each way), and the bounded readers of a stored
//! capture (its head, framing and content coding).
//!
//! This sits at the ground so that every layer that reads evidence (the
//! ledger's writer, bundles, WARC export, the web view) reads it with one
//! reader, and none of them needs the fetcher to do so.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

pub mod encoding;
pub mod message;
mod response;

pub use message::{Head, dechunk, entity_body, entity_body_at, message_end, parse_head};
pub use response::{Response, capture_body};

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

/// One attempt of a fetch that was retried.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attempt {
    pub started_at: String,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// One fetch: what was asked, when, and what came back.
#[derive(Debug, Clone)]
pub struct FetchResult {
    pub requested_url: String,
    pub final_url: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub response: Result<Response, FetchError>,
    /// Earlier attempts, when the fetch was retried (empty otherwise).
    pub retries: Vec<Attempt>,
}

/// The TLS session a response came over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// `TLSv1_3`, `TLSv1_2`.
    pub protocol: String,
    /// The IANA-style name rustls gives, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher: String,
    /// The name sent as SNI (none for an IP-literal host).
    pub sni: Option<String>,
    /// The certificates the server presented, leaf first, DER.
    pub chain: Vec<Vec<u8>>,
}

impl Tls {
    /// The chain as one blob: the DER certificates one after another (each
    /// is self-delimiting), leaf first.
    pub fn chain_der(&self) -> Vec<u8> {
        self.chain.concat()
    }

    /// SHA-256 of the leaf certificate's DER, lower-case hex.
    pub fn leaf_sha256(&self) -> Option<String> {
        self.chain.first().map(|c| hex::encode(Sha256::digest(c)))
    }
}

/// The connection's side of one exchange: the bytes each way and who answered.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The request as written to the connection.
    pub sent: Bytes,
    /// The final response as read from the connection, from its status
    /// line to the end its framing gives.
    pub received: Bytes,
    /// Informational (1xx) responses read before it, as read (usually none).
    pub interim: Bytes,
    pub peer: SocketAddr,
    pub tls: Option<Arc<Tls>>,
}

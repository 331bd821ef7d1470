//! A response as the fetcher keeps it, and the raw capture made of it: the
//! exchange as received, which the ledger stores as evidence.

use super::{Captured, encoding, message};

/// What the server answered (any status, 304 and 404 included).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// The final head's header fields in order, as sent (read from the capture).
    pub headers: Vec<(String, String)>,
    /// The body after content decoding (gzip, brotli, deflate, zstd): what
    /// extraction reads and `body_sha256` covers. Shared, not copied, when
    /// the response is cloned (the extraction job works on a clone).
    pub body: bytes::Bytes,
    /// The body as the server sent it (transfer coding undone), when it had
    /// a Content-Encoding; `wire_sha256` covers it. `None` when the body was
    /// sent as is.
    pub wire: Option<Vec<u8>>,
    /// The exchange as it crossed the connection, and who answered.
    pub capture: Captured,
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

    /// True when the body is not text whatever its Content-Type says: NUL
    /// bytes or many control characters in its first 4 KiB.
    pub fn looks_binary(&self) -> bool {
        let head = self.body.get(..4096).unwrap_or(&self.body);
        let control = head
            .iter()
            .filter(|b| matches!(**b, 0..=8 | 14..=31 | 127))
            .count();
        head.contains(&0) || control * 20 > head.len()
    }

    /// The response exactly as received: from the first byte of the status
    /// line to the last byte of the body, transfer and content codings as
    /// sent. What the ledger stores as the raw capture.
    pub fn raw(&self) -> &bytes::Bytes {
        &self.capture.received
    }

    /// The request exactly as sent.
    pub fn request(&self) -> &bytes::Bytes {
        &self.capture.sent
    }

    /// The address and port that answered.
    pub fn peer(&self) -> std::net::SocketAddr {
        self.capture.peer
    }
}

/// Splits a stored capture (see [`Response::raw`]) into its decoded body
/// and Content-Type, undoing its Content-Encoding; `None` if it is not a
/// capture or does not decode.
pub fn capture_body(raw: &[u8], cap: u64) -> Option<(Vec<u8>, Option<String>)> {
    let head = message::parse_head(raw)?;
    // Older captures (rebuilt from the parsed response) never kept the
    // chunk framing; a recorded one keeps it as the server sent it.
    let body = message::entity_body(raw, cap)?;
    let decoded = encoding::decode(head.header("content-encoding"), &body, cap).ok()?;
    Some((
        decoded.unwrap_or(body),
        head.header("content-type").map(str::to_string),
    ))
}

//! A response as the fetcher keeps it, and the raw capture made of it: the
//! exchange as received, which the ledger stores as evidence.

use super::encoding;

/// What the server answered (any status, 304 and 404 included).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// The body after content decoding (gzip, brotli, deflate, zstd): what
    /// extraction reads and `body_sha256` covers. Shared, not copied, when
    /// the response is cloned (the extraction job works on a clone).
    pub body: bytes::Bytes,
    /// The body as the server sent it, when it had a Content-Encoding (the
    /// capture keeps these bytes; `wire_sha256` covers them). `None` when
    /// the body was sent as is.
    pub wire: Option<Vec<u8>>,
    /// The server's own reason phrase, when it differs from the standard one.
    pub reason: Option<String>,
    /// The address the response came from (provenance), when known.
    pub peer: Option<String>,
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

    /// The exchange as received: status line (with the server's reason
    /// phrase), headers as sent (names lower-cased by the HTTP library),
    /// blank line, and the body as sent, still content-encoded.
    ///
    /// Only the transfer framing is undone, as WARC does: `Transfer-Encoding`
    /// is dropped and `Content-Length` gives the length of the stored body,
    /// so the capture parses as the HTTP message it holds.
    pub fn raw(&self) -> Vec<u8> {
        let reason = self.reason.clone().unwrap_or_else(|| {
            reqwest::StatusCode::from_u16(self.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("")
                .to_string()
        });
        let body = self.wire.as_deref().unwrap_or(&self.body);
        let mut out = Vec::with_capacity(body.len() + 64 * self.headers.len() + 64);
        out.extend_from_slice(format!("{} {} {reason}\r\n", self.version, self.status).as_bytes());
        for (k, v) in &self.headers {
            if ["transfer-encoding", "content-length"]
                .iter()
                .any(|h| k.eq_ignore_ascii_case(h))
            {
                continue;
            }
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        out
    }
}

/// Splits a stored capture (see [`Response::raw`]) into its decoded body
/// and Content-Type, undoing its Content-Encoding; `None` if it is not a
/// capture or does not decode.
pub fn capture_body(raw: &[u8], cap: u64) -> Option<(Vec<u8>, Option<String>)> {
    let split = memchr::memmem::find(raw, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(raw.get(..split)?);
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        })
    };
    let body = raw.get(split + 4..)?;
    let decoded = encoding::decode(header("content-encoding").as_deref(), body, cap).ok()?;
    Some((
        decoded.unwrap_or_else(|| body.to_vec()),
        header("content-type"),
    ))
}

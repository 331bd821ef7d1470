//! An HTTP/1.1 message read back from the bytes captured: its head (status,
//! headers as received, Latin-1 kept), where it ends, and its body as sent
//! (chunked or not), each bounded by the cap.

/// Where the head that starts at `from` ends: the blank line's first byte,
/// and the first byte after it. Lines end in LF, optionally preceded by CR
/// (whichever blank line comes first ends the head).
pub(super) fn head_end(raw: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    loop {
        let nl = at + memchr::memchr(b'\n', raw.get(at..)?)?;
        let line = raw.get(at..nl)?;
        if (line.is_empty() || line == b"\r") && at > from {
            return Some((at, nl + 1));
        }
        at = nl + 1;
    }
}

/// The final response's head in a capture: the status line's version,
/// status and reason, and the header fields in order, each as sent (a
/// value's bytes read as Latin-1 when they are not UTF-8). Informational
/// (1xx) heads before it are skipped. `None` when no head parses.
pub fn parse_head(raw: &[u8]) -> Option<Head> {
    let mut start = 0;
    loop {
        let (end, body_at) = head_end(raw, start)?;
        let head = raw.get(start..end)?;
        let mut lines = head
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let status_line = latin1(lines.next()?);
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next()?.to_string();
        let status: u16 = parts.next()?.trim().parse().ok()?;
        let reason = parts.next().unwrap_or("").to_string();
        if (100..200).contains(&status) && status != 101 {
            start = body_at;
            continue;
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                // An obsolete folded line continues the previous value.
                if let Some((_, v)) = headers.last_mut() {
                    v.push(' ');
                    v.push_str(latin1(line).trim());
                }
                continue;
            }
            let text = latin1(line);
            if let Some((k, v)) = text.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        return Some(Head {
            version,
            status,
            reason,
            headers,
            start,
            body_at,
        });
    }
}

/// A value's bytes as text: UTF-8 when they are, else Latin-1 (each byte
/// its code point), so that no byte becomes a replacement character.
pub(super) fn latin1(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|b| *b as char).collect(),
    }
}

/// A response head read from a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    /// Where the final response's status line starts (after any 1xx).
    pub start: usize,
    /// Where the body starts in the capture.
    pub body_at: usize,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when the body is sent in chunks (`Transfer-Encoding: chunked`).
    pub fn chunked(&self) -> bool {
        self.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
        })
    }

    /// True for a status that never has a body, whatever the headers say
    /// (RFC 9112 6.3: 1xx, 204, 304).
    pub fn bodiless(&self) -> bool {
        self.status < 200 || self.status == 204 || self.status == 304
    }

    fn content_length(&self) -> Option<usize> {
        self.header("content-length")
            .and_then(|v| v.trim().parse::<usize>().ok())
    }
}

/// Where the final response ends in a capture, as its framing says: after
/// the head for a status without a body, after the last chunk and its
/// trailers, after Content-Length bytes, or at the end (a body delimited
/// by the connection closing).
pub fn message_end(raw: &[u8], head: &Head) -> Option<usize> {
    if head.bodiless() {
        return Some(head.body_at);
    }
    if head.chunked() {
        let (_, used) = chunks(raw.get(head.body_at..)?, u64::MAX)?;
        return Some(head.body_at + used);
    }
    match head.content_length() {
        Some(len) => head.body_at.checked_add(len).filter(|e| *e <= raw.len()),
        None => Some(raw.len()),
    }
}

/// The body of the final response in a capture, its transfer framing
/// undone (chunks joined; a Content-Length honoured; none for a status
/// that has no body): at most `cap` bytes, `None` when the framing does not
/// parse.
pub fn entity_body(raw: &[u8], cap: u64) -> Option<Vec<u8>> {
    entity_body_at(raw, &parse_head(raw)?, cap)
}

/// [`entity_body`] with the head already read.
pub fn entity_body_at(raw: &[u8], head: &Head, cap: u64) -> Option<Vec<u8>> {
    let end = message_end(raw, head)?;
    let sent = raw.get(head.body_at..end)?;
    let body = if head.chunked() && !head.bodiless() {
        chunks(sent, cap)?.0
    } else {
        sent.to_vec()
    };
    (body.len() as u64 <= cap).then_some(body)
}

/// Undoes chunked framing: the chunks' data, or `None` when the framing
/// is broken. At most `cap` bytes of data.
pub fn dechunk(raw: &[u8], cap: u64) -> Option<Vec<u8>> {
    chunks(raw, cap).map(|(data, _)| data)
}

/// The chunks' data and how many bytes the chunked body took, through the
/// last chunk and its trailer section (to the end when the server closed
/// before the final blank line).
pub(super) fn chunks(mut raw: &[u8], cap: u64) -> Option<(Vec<u8>, usize)> {
    let total = raw.len();
    let mut out = Vec::new();
    loop {
        let line_end = memchr::memchr(b'\n', raw)?;
        let line = raw.get(..line_end)?;
        let size_text = latin1(line);
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        raw = raw.get(line_end + 1..)?;
        if size == 0 {
            // Trailer fields, then a blank line.
            loop {
                let Some(nl) = memchr::memchr(b'\n', raw) else {
                    return Some((out, total));
                };
                let line = raw.get(..nl)?;
                raw = raw.get(nl + 1..)?;
                if line.is_empty() || line == b"\r" {
                    return Some((out, total - raw.len()));
                }
            }
        }
        if (out.len() + size) as u64 > cap {
            return None;
        }
        out.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size..)?;
        raw = raw
            .strip_prefix(b"\r\n")
            .or_else(|| raw.strip_prefix(b"\n"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_keep_order_case_and_bytes() {
        let raw = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 Fine Thanks\r\nSet-Cookie: a\r\nX-First: 1\r\nset-COOKIE: b\r\nX-Latin: caf\xe9\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n0\r\n\r\n";
        let head = parse_head(raw).unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.reason, "Fine Thanks");
        assert_eq!(head.version, "HTTP/1.1");
        let names: Vec<&str> = head.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "Set-Cookie",
                "X-First",
                "set-COOKIE",
                "X-Latin",
                "Transfer-Encoding"
            ]
        );
        assert_eq!(head.header("x-latin"), Some("caf\u{e9}"));
        assert!(head.chunked());
        assert_eq!(dechunk(&raw[head.body_at..], 100).unwrap(), b"abcd");
        assert_eq!(dechunk(&raw[head.body_at..], 3), None, "the cap holds");
        assert_eq!(dechunk(b"zz\r\n", 100), None);
        assert_eq!(
            dechunk(b"5\r\nab", 100),
            None,
            "a cut chunk is broken framing"
        );
        assert_eq!(entity_body(raw, 100).unwrap(), b"abcd");
        let extra = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcGARBAGE";
        assert_eq!(
            entity_body(extra, 100).unwrap(),
            b"abc",
            "Content-Length bounds the body"
        );
        assert_eq!(
            entity_body(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 100),
            None
        );
        assert_eq!(
            entity_body(b"HTTP/1.0 200 OK\r\n\r\nto the end", 100).unwrap(),
            b"to the end"
        );
        assert_eq!(
            entity_body(b"HTTP/1.0 200 OK\r\n\r\nto the end", 3),
            None,
            "the cap holds"
        );
    }

    #[test]
    fn the_first_blank_line_ends_the_head_whatever_its_line_ends() {
        // A head in bare LFs whose body holds a CRLF blank line.
        let raw = b"HTTP/1.0 200 OK\nContent-Type: text/html\n\n<p>a</p>\r\n\r\nContent-Encoding: gzip\r\n";
        let head = parse_head(raw).unwrap();
        assert_eq!(head.header("content-encoding"), None);
        assert_eq!(&raw[head.body_at..head.body_at + 8], b"<p>a</p>");
        assert_eq!(entity_body(raw, 1000).unwrap(), &raw[head.body_at..]);
    }
}

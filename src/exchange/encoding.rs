//! Content-Encoding, decoded by us rather than by the HTTP client, so that
//! the capture keeps the body exactly as the server sent it (compressed)
//! while extraction reads the decoded bytes. Decoding is bounded: a
//! compression bomb stops at the cap.

use std::io::Read;

/// What we ask servers for.
pub const ACCEPT: &str = "gzip, deflate, br, zstd";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the decoded body is larger than {cap} bytes")]
    TooLarge { cap: u64 },
    #[error("the body does not decode as {encoding}: {reason}")]
    Invalid { encoding: String, reason: String },
    #[error("unknown Content-Encoding {0}")]
    Unknown(String),
}

/// Decodes `body` by its `Content-Encoding` (a list is undone from the
/// last coding to the first), producing at most `cap` bytes. `None` when
/// there is nothing to undo (no header, or only `identity`).
pub fn decode(
    content_encoding: Option<&str>,
    body: &[u8],
    cap: u64,
) -> Result<Option<Vec<u8>>, DecodeError> {
    let codings: Vec<String> = content_encoding
        .unwrap_or("")
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    if codings.is_empty() {
        return Ok(None);
    }
    let mut data = body.to_vec();
    for coding in codings.iter().rev() {
        data = decode_one(coding, &data, cap)?;
    }
    Ok(Some(data))
}

fn decode_one(coding: &str, body: &[u8], cap: u64) -> Result<Vec<u8>, DecodeError> {
    let invalid = |e: std::io::Error| DecodeError::Invalid {
        encoding: coding.to_string(),
        reason: e.to_string(),
    };
    let out = match coding {
        "gzip" | "x-gzip" => {
            read_capped(flate2::read::MultiGzDecoder::new(body), cap).map_err(invalid)?
        }
        // RFC 9110 says zlib; some servers send raw deflate.
        "deflate" => match read_capped(flate2::read::ZlibDecoder::new(body), cap) {
            Ok(v) => v,
            Err(_) => read_capped(flate2::read::DeflateDecoder::new(body), cap).map_err(invalid)?,
        },
        "br" => read_capped(brotli_decompressor::Decompressor::new(body, 64 * 1024), cap)
            .map_err(invalid)?,
        "zstd" => read_capped(
            zstd::stream::read::Decoder::new(body).map_err(invalid)?,
            cap,
        )
        .map_err(invalid)?,
        other => return Err(DecodeError::Unknown(other.to_string())),
    };
    if out.len() as u64 > cap {
        return Err(DecodeError::TooLarge { cap });
    }
    Ok(out)
}

/// Reads at most `cap + 1` bytes: one more than allowed tells "too large".
fn read_capped(r: impl Read, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(cap.saturating_add(1)).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn every_coding_we_ask_for_decodes() {
        let text = b"<p>The council approved the plan.</p>".repeat(50);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&text).unwrap();
        let zlib = z.finish().unwrap();
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&text).unwrap();
        let raw = raw.finish().unwrap();
        let zst = zstd::bulk::compress(&text, 3).unwrap();
        for (enc, body) in [
            ("gzip", gzip(&text)),
            ("deflate", zlib),
            ("deflate", raw),
            ("zstd", zst),
        ] {
            assert_eq!(
                decode(Some(enc), &body, 1 << 20).unwrap().unwrap(),
                text,
                "{enc}"
            );
        }
        assert_eq!(decode(None, &text, 10).unwrap(), None);
        assert_eq!(decode(Some("identity"), &text, 10).unwrap(), None);
        // A list is undone last coding first.
        let twice = zstd::bulk::compress(&gzip(&text), 3).unwrap();
        assert_eq!(
            decode(Some("gzip, zstd"), &twice, 1 << 20)
                .unwrap()
                .unwrap(),
            text
        );
    }

    #[test]
    fn a_bomb_stops_at_the_cap_and_garbage_is_an_error() {
        let bomb = gzip(&vec![b' '; 10 << 20]);
        assert_eq!(
            decode(Some("gzip"), &bomb, 1 << 20),
            Err(DecodeError::TooLarge { cap: 1 << 20 })
        );
        assert!(matches!(
            decode(Some("gzip"), b"not gzip", 100),
            Err(DecodeError::Invalid { .. })
        ));
        assert!(matches!(
            decode(Some("compress"), b"x", 100),
            Err(DecodeError::Unknown(_))
        ));
    }
}

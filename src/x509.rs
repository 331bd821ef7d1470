//! A small, bounded reader of X.509 certificates: split a concatenated DER
//! chain, summarise a certificate (subject, issuer, validity, SHA-256) and
//! re-encode it as PEM. It checks signatures of nothing; it only names what
//! a certificate says so a person can compare it with what they expect.
//!
//! A Python twin of this module must produce identical strings, so every
//! rendering rule is spelled out here rather than left to a library:
//! - a Name is its RDNs in certificate order joined with ", ", the
//!   attributes of a multi-valued RDN joined with "+", each `KEY=value`
//!   with KEY one of CN, O, OU, C, L, ST, serialNumber, emailAddress or else
//!   the dotted OID; nothing is escaped;
//! - UTF8String, PrintableString and IA5String are decoded as UTF-8 with
//!   U+FFFD per invalid sequence (`String::from_utf8_lossy`, Python's
//!   `decode("utf-8", "replace")`); TeletexString as Latin-1; BMPString as
//!   UTF-16BE and UniversalString as UTF-32BE, with U+FFFD for each unpaired
//!   surrogate, invalid code point or odd trailing bytes; any other tag as
//!   "#" and the hex of its content bytes;
//! - a time is `YYYY-MM-DDTHH:MM:SSZ` when it is a DER UTCTime
//!   (`YYMMDDHHMMSSZ`, YY < 50 is 20YY) or GeneralizedTime
//!   (`YYYYMMDDHHMMSSZ`) naming a real calendar date, else its raw bytes
//!   decoded as UTF-8 like a string.

use base64::Engine;
use sha2::{Digest, Sha256};

/// The most certificates `split_chain` accepts.
pub const MAX_CERTS: usize = 16;
/// The most attributes (hence RDNs) one Name may hold.
pub const MAX_NAME_ATTRS: usize = 64;

/// What a certificate says about itself, rendered as described in the
/// module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The subject Name.
    pub subject: String,
    /// The issuer Name.
    pub issuer: String,
    /// Start of validity, RFC 3339 UTC (or the raw time if it won't parse).
    pub not_before: String,
    /// End of validity, RFC 3339 UTC (or the raw time if it won't parse).
    pub not_after: String,
    /// Lower-case hex SHA-256 of the whole certificate DER.
    pub sha256: String,
}

/// Why bytes are not the certificates this reader accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("more than {MAX_CERTS} certificates")]
    TooMany,
    #[error("certificate {index} has tag 0x{tag:02x}, not SEQUENCE")]
    NotSequence { index: usize, tag: u8 },
    #[error("truncated: {0}")]
    Truncated(&'static str),
    #[error("multi-byte tag 0x{0:02x} not supported")]
    MultiByteTag(u8),
    #[error("indefinite length")]
    IndefiniteLength,
    #[error("length of {0} bytes")]
    LongLength(u8),
    #[error("length overflows")]
    LengthOverflow,
    #[error("{what}: tag 0x{got:02x}, expected 0x{expected:02x}")]
    Tag {
        what: &'static str,
        got: u8,
        expected: u8,
    },
    #[error("trailing data after {0}")]
    Trailing(&'static str),
    #[error("empty RelativeDistinguishedName")]
    EmptyRdn,
    #[error("Name has more than {MAX_NAME_ATTRS} attributes")]
    TooManyAttributes,
    #[error("OID {0}")]
    Oid(&'static str),
    #[error("validity time has tag 0x{0:02x}")]
    TimeTag(u8),
}

/// Splits DER certificates concatenated back to back into each one's full
/// TLV slice. Empty input gives an empty list; truncation, a tag other than
/// SEQUENCE, an indefinite length or more than `MAX_CERTS` are errors.
pub fn split_chain(concat: &[u8]) -> Result<Vec<&[u8]>, CertError> {
    let mut der = Der(concat);
    let mut certs = Vec::new();
    while !der.is_empty() {
        if certs.len() == MAX_CERTS {
            return Err(CertError::TooMany);
        }
        let (tag, _, whole) = der.next()?;
        if tag != 0x30 {
            return Err(CertError::NotSequence {
                index: certs.len() + 1,
                tag,
            });
        }
        certs.push(whole);
    }
    Ok(certs)
}

/// Reads subject, issuer and validity of one DER certificate (exactly one
/// TLV, nothing after it) and hashes it.
pub fn summary(der: &[u8]) -> Result<Summary, CertError> {
    let mut top = Der(der);
    let mut cert = Der(top.expect(0x30, "Certificate")?);
    top.end("certificate")?;
    let mut tbs = Der(cert.expect(0x30, "tbsCertificate")?);
    if tbs.0.first() == Some(&0xA0) {
        tbs.next()?; // [0] EXPLICIT version
    }
    tbs.expect(0x02, "serialNumber")?;
    tbs.expect(0x30, "signature AlgorithmIdentifier")?;
    let issuer = name(tbs.expect(0x30, "issuer")?)?;
    let mut validity = Der(tbs.expect(0x30, "validity")?);
    let not_before = time(validity.next()?)?;
    let not_after = time(validity.next()?)?;
    validity.end("validity")?;
    let subject = name(tbs.expect(0x30, "subject")?)?;
    Ok(Summary {
        subject,
        issuer,
        not_before,
        not_after,
        sha256: hex::encode(Sha256::digest(der)),
    })
}

/// PEM of a DER certificate: standard base64 in 64-character lines between
/// the BEGIN/END CERTIFICATE lines, ending with a newline.
pub fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// A cursor over DER TLVs (single-byte tags, definite lengths of at most
/// four length bytes).
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The next TLV as (tag, content, whole TLV).
    fn next(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), CertError> {
        let tag = *self.0.first().ok_or(CertError::Truncated("missing tag"))?;
        if tag & 0x1f == 0x1f {
            return Err(CertError::MultiByteTag(tag));
        }
        let first = *self
            .0
            .get(1)
            .ok_or(CertError::Truncated("missing length"))?;
        let (header, len) = match first {
            0..=0x7f => (2, usize::from(first)),
            0x80 => return Err(CertError::IndefiniteLength),
            0x81..=0x84 => {
                let n = usize::from(first & 0x7f);
                let bytes = self.0.get(2..2 + n).ok_or(CertError::Truncated("length"))?;
                (2 + n, bytes.iter().fold(0, |a, b| a << 8 | usize::from(*b)))
            }
            _ => return Err(CertError::LongLength(first & 0x7f)),
        };
        let end = header.checked_add(len).ok_or(CertError::LengthOverflow)?;
        let whole = self.0.get(..end).ok_or(CertError::Truncated("content"))?;
        let content = whole.get(header..).ok_or(CertError::Truncated("content"))?;
        self.0 = self.0.get(end..).unwrap_or_default();
        Ok((tag, content, whole))
    }

    /// The content of the next TLV, which must have `tag`.
    fn expect(&mut self, tag: u8, what: &'static str) -> Result<&'a [u8], CertError> {
        let (got, content, _) = self.next()?;
        if got != tag {
            return Err(CertError::Tag {
                what,
                got,
                expected: tag,
            });
        }
        Ok(content)
    }

    fn end(&self, what: &'static str) -> Result<(), CertError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(CertError::Trailing(what))
        }
    }
}

/// Renders a Name's content (a SEQUENCE OF RDN SETs).
fn name(content: &[u8]) -> Result<String, CertError> {
    let mut rdns = Der(content);
    let mut out = Vec::new();
    let mut count = 0;
    while !rdns.is_empty() {
        let mut set = Der(rdns.expect(0x31, "RelativeDistinguishedName")?);
        if set.is_empty() {
            return Err(CertError::EmptyRdn);
        }
        let mut attrs = Vec::new();
        while !set.is_empty() {
            count += 1;
            if count > MAX_NAME_ATTRS {
                return Err(CertError::TooManyAttributes);
            }
            let mut ava = Der(set.expect(0x30, "AttributeTypeAndValue")?);
            let oid = oid(ava.expect(0x06, "attribute type")?)?;
            let (tag, value, _) = ava.next()?;
            ava.end("attribute value")?;
            attrs.push(format!("{}={}", key(&oid), value_string(tag, value)));
        }
        out.push(attrs.join("+"));
    }
    Ok(out.join(", "))
}

/// The short name of a well-known attribute type, else its dotted OID.
fn key(oid: &str) -> &str {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.5" => "serialNumber",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => oid,
    }
}

/// Dotted form of an OBJECT IDENTIFIER's content; each arc must be
/// minimally encoded in at most 9 bytes (63 bits).
fn oid(content: &[u8]) -> Result<String, CertError> {
    let mut arcs: Vec<u64> = Vec::new();
    let (mut arc, mut len) = (0u64, 0);
    for &b in content {
        if len == 0 && b == 0x80 {
            return Err(CertError::Oid("arc not minimally encoded"));
        }
        len += 1;
        if len > 9 {
            return Err(CertError::Oid("arc too large"));
        }
        arc = arc << 7 | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(arc);
            (arc, len) = (0, 0);
        }
    }
    let (&first, rest) = match arcs.split_first() {
        Some(split) if len == 0 => split,
        _ => return Err(CertError::Oid("truncated or empty")),
    };
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut out = format!("{a}.{b}");
    for arc in rest {
        out.push_str(&format!(".{arc}"));
    }
    Ok(out)
}

/// Renders an attribute value by its string type.
fn value_string(tag: u8, v: &[u8]) -> String {
    const BAD: char = char::REPLACEMENT_CHARACTER;
    match tag {
        0x0C | 0x13 | 0x16 => String::from_utf8_lossy(v).into_owned(),
        0x14 => v.iter().map(|&b| char::from(b)).collect(),
        0x1E => {
            let units = v.chunks_exact(2);
            let odd = !units.remainder().is_empty();
            let units = units.map(|u| u.iter().fold(0u16, |a, &b| a << 8 | u16::from(b)));
            let mut s: String = char::decode_utf16(units)
                .map(|c| c.unwrap_or(BAD))
                .collect();
            if odd {
                s.push(BAD);
            }
            s
        }
        0x1C => {
            let units = v.chunks_exact(4);
            let odd = !units.remainder().is_empty();
            let mut s: String = units
                .map(|u| u.iter().fold(0u32, |a, &b| a << 8 | u32::from(b)))
                .map(|u| char::from_u32(u).unwrap_or(BAD))
                .collect();
            if odd {
                s.push(BAD);
            }
            s
        }
        _ => format!("#{}", hex::encode(v)),
    }
}

/// Renders a validity time (tag, content, whole) as RFC 3339 UTC, or its
/// raw text if it is not a valid DER time; a tag other than UTCTime or
/// GeneralizedTime is an error.
fn time((tag, v, _): (u8, &[u8], &[u8])) -> Result<String, CertError> {
    if tag != 0x17 && tag != 0x18 {
        return Err(CertError::TimeTag(tag));
    }
    Ok(rfc3339(tag == 0x17, v).unwrap_or_else(|| String::from_utf8_lossy(v).into_owned()))
}

fn rfc3339(utc_time: bool, v: &[u8]) -> Option<String> {
    let digits = v.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) || digits.len() != if utc_time { 12 } else { 14 } {
        return None;
    }
    let num = |at: usize, n: usize| {
        let d = digits.get(at..at + n).unwrap_or_default();
        d.iter().fold(0u32, |a, &b| a * 10 + u32::from(b - b'0'))
    };
    let (year, at) = if utc_time {
        let yy = num(0, 2);
        (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
    } else {
        (num(0, 4), 4)
    };
    let [mo, d, h, mi, s] = [0, 2, 4, 6, 8].map(|i| num(at + i, 2));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let valid = (1..=12).contains(&mo) && (1..=days).contains(&d) && h < 24 && mi < 60 && s < 60;
    valid.then(|| format!("{year:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
    /// -nodes -subj "/C=NL/O=Test Org/CN=news.example" -days 3650`
    const PEM_A: &str = "-----BEGIN CERTIFICATE-----
MIIBxDCCAWmgAwIBAgIUVOFidte53iplOqTkIsvMistOW14wCgYIKoZIzj0EAwIw
NzELMAkGA1UEBhMCTkwxETAPBgNVBAoMCFRlc3QgT3JnMRUwEwYDVQQDDAxuZXdz
LmV4YW1wbGUwHhcNMjYxMjA3MDMwNDI4WhcNMzYxMjA0MDMwNDI4WjA3MQswCQYD
VQQGEwJOTDERMA8GA1UECgwIVGVzdCBPcmcxFTATBgNVBAMMDG5ld3MuZXhhbXBs
ZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABIBT0nCRNyaMNNDGTBakZB0pRi3B
acTj7pn36f/Bp1MUQ47/AnNXBNfEvfNzfcsfkXgrw8D5Xr+m/c8U8fdVYESjUzBR
MB0GA1UdDgQWBBTHihPX6cTuc9/KjvaJAbBgIsuGOjAfBgNVHSMEGDAWgBTHihPX
6cTuc9/KjvaJAbBgIsuGOjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kA
MEYCIQCd1RzndvOd3WNrCDF2nARSRdQl83foL0T/xnHVty5btgIhAK4yrfKE2lE6
DsHexi3urqOd7U2l1eqEh121A/AnmzYW
-----END CERTIFICATE-----
";

    /// As `PEM_A` with `-utf8 -subj "/C=CH/O=Café Zürich AG/CN=Café Zürich"`.
    const PEM_B: &str = "-----BEGIN CERTIFICATE-----
MIIB1jCCAXugAwIBAgIUARTN1te82DLpcLcViwR4VWg0xH8wCgYIKoZIzj0EAwIw
QDELMAkGA1UEBhMCQ0gxGTAXBgNVBAoMEENhZsOpIFrDvHJpY2ggQUcxFjAUBgNV
BAMMDUNhZsOpIFrDvHJpY2gwHhcNMjYxMjA3MDMwNDI4WhcNMzYxMjA0MDMwNDI4
WjBAMQswCQYDVQQGEwJDSDEZMBcGA1UECgwQQ2Fmw6kgWsO8cmljaCBBRzEWMBQG
A1UEAwwNQ2Fmw6kgWsO8cmljaDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABAGP
DbmzCM9bmB+CRj0Ruowk1rkRZv75Wz/BX5hqYonofk0udjWTq/fIanq72w9t9erX
wiVVJnOMZOw+sBC1b1yjUzBRMB0GA1UdDgQWBBSBGcekVxWrk0ATZE1BQROi05oa
IzAfBgNVHSMEGDAWgBSBGcekVxWrk0ATZE1BQROi05oaIzAPBgNVHRMBAf8EBTAD
AQH/MAoGCCqGSM49BAMCA0kAMEYCIQDpTZ0h9Lu7/+2QP5juhSOJZecb4QcjNWuC
3ModLDTv4wIhAK5K4URGRvZ9JgxSowtk4k+kuZu8Nv6Sm59HzBUgc+Ao
-----END CERTIFICATE-----
";

    fn der(pem: &str) -> Vec<u8> {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }

    // Expected values are from `openssl x509 -noout -subject -issuer -dates
    // -fingerprint -sha256 -nameopt RFC2253,-esc_msb` (whose RDN order is
    // reversed): notBefore=Dec  7 03:04:28 2026 GMT, notAfter=Dec  4
    // 03:04:28 2036 GMT.
    #[test]
    fn summary_matches_openssl() {
        let a = summary(&der(PEM_A)).unwrap();
        assert_eq!(a.subject, "C=NL, O=Test Org, CN=news.example");
        assert_eq!(a.issuer, a.subject);
        assert_eq!(a.not_before, "2026-12-07T03:04:28Z");
        assert_eq!(a.not_after, "2036-12-04T03:04:28Z");
        assert_eq!(
            a.sha256,
            "5767963bbf9615db2bb3dccd1fedc5202629c42a1801c5acfed263838602d98d"
        );
        let b = summary(&der(PEM_B)).unwrap();
        assert_eq!(b.subject, "C=CH, O=Café Zürich AG, CN=Café Zürich");
        assert_eq!(b.issuer, b.subject);
        assert_eq!(
            b.sha256,
            "f71d5110e2f3d948c3c973fdca5c56eed77c794f5ecc3b5c7c6925c968fbf083"
        );
    }

    #[test]
    fn pem_round_trips() {
        assert_eq!(pem(&der(PEM_A)), PEM_A);
        assert_eq!(pem(&der(PEM_B)), PEM_B);
    }

    #[test]
    fn every_truncation_and_corruption_is_handled() {
        let cert = der(PEM_A);
        for n in 0..cert.len() {
            let prefix = cert.get(..n).unwrap();
            assert!(summary(prefix).is_err(), "prefix of {n} bytes");
            assert!(
                split_chain(prefix).is_err() || n == 0,
                "prefix of {n} bytes"
            );
        }
        let mut trailing = cert.clone();
        trailing.push(0);
        assert!(summary(&trailing).is_err());
        for i in 0..cert.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut bad = cert.clone();
                *bad.get_mut(i).unwrap() ^= x;
                let _ = summary(&bad); // must not panic
                let _ = split_chain(&bad);
            }
        }
        for garbage in [&[0x30, 0x80][..], &[0x30, 0x85, 1, 1, 1, 1, 1], &[0xff; 9]] {
            assert!(summary(garbage).is_err());
            assert!(split_chain(garbage).is_err());
        }
    }

    #[test]
    fn split_chain_of_two() {
        let (a, b) = (der(PEM_A), der(PEM_B));
        let chain = [a.clone(), b.clone()].concat();
        assert_eq!(split_chain(&chain).unwrap(), vec![&a[..], &b[..]]);
        assert_eq!(split_chain(&[]).unwrap().len(), 0);
        assert!(split_chain(&a.repeat(MAX_CERTS)).is_ok());
        assert!(split_chain(&a.repeat(MAX_CERTS + 1)).is_err());
    }

    #[test]
    fn times_and_values() {
        let t = |tag, s: &str| time((tag, s.as_bytes(), &[])).unwrap();
        assert_eq!(t(0x17, "491231235959Z"), "2049-12-31T23:59:59Z");
        assert_eq!(t(0x17, "500101000000Z"), "1950-01-01T00:00:00Z");
        assert_eq!(t(0x18, "21360613030430Z"), "2136-06-13T03:04:30Z");
        assert_eq!(t(0x18, "20240229000000Z"), "2024-02-29T00:00:00Z");
        assert_eq!(t(0x18, "21000229000000Z"), "21000229000000Z");
        assert_eq!(t(0x17, "2612070304Z"), "2612070304Z");
        assert_eq!(t(0x18, "20261207030428.5Z"), "20261207030428.5Z");
        assert!(time((0x02, b"", &[])).is_err());
        assert_eq!(value_string(0x0C, b"a\xffb"), "a\u{fffd}b");
        assert_eq!(value_string(0x14, b"caf\xe9"), "café");
        assert_eq!(
            value_string(0x1E, b"\x00C\xd8\x3d\xde\x00\xd8\x00x"),
            "C😀\u{fffd}\u{fffd}"
        );
        assert_eq!(
            value_string(0x1C, b"\x00\x01\xf6\x00\x00\x00\xd8\x00"),
            "😀\u{fffd}"
        );
        assert_eq!(value_string(0x04, b"\x01\xab"), "#01ab");
        assert_eq!(
            oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]).unwrap(),
            "1.2.840.113549.1.9.1"
        );
        assert!(oid(&[0x55, 0x80, 0x01]).is_err());
        assert!(oid(&[0x55, 0x84]).is_err());
    }
}

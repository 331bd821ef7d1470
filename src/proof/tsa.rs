//! RFC 3161 trusted timestamps: the request we send, and the checks we make
//! on the reply before storing it (status granted, the imprint is the
//! SHA-256 of what we asked to be stamped, the nonce is ours). The token's
//! CMS signature and the TSA's certificate chain are checked with
//! `openssl ts -verify` against the TSA's CA, by whoever relies on it
//! (`verify-bundle --tsa-ca`, README).

use sha2::{Digest, Sha256};

pub use crate::ledger::checkpoints::Stamped;

/// id-sha256 (2.16.840.1.101.3.4.2.1), DER.
const SHA256_OID: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
/// id-signedData (1.2.840.113549.1.7.2).
const SIGNED_DATA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
/// id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4).
const TST_INFO_OID: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let len = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | len.len() as u8);
        out.extend_from_slice(len);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER holding a non-negative number given as big-endian bytes.
fn integer(be: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
    let mut v = Vec::new();
    if trimmed.first().is_none_or(|b| *b >= 0x80) {
        v.push(0);
    }
    v.extend(trimmed);
    tlv(0x02, &v)
}

/// A TimeStampReq for the SHA-256 of `data`, asking for the TSA's
/// certificate in the reply.
pub fn request(data: &[u8], nonce: &[u8; 8]) -> Vec<u8> {
    let alg = tlv(0x30, &[tlv(0x06, SHA256_OID), vec![0x05, 0x00]].concat());
    let imprint = tlv(
        0x30,
        &[alg, tlv(0x04, Sha256::digest(data).as_slice())].concat(),
    );
    tlv(
        0x30,
        &[
            integer(&[1]),
            imprint,
            integer(nonce),
            vec![0x01, 0x01, 0xff],
        ]
        .concat(),
    )
}

/// Why a timestamp reply is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("the reply is not valid DER")]
    NotDer,
    #[error("the reply is not a TimeStampResp")]
    NotResponse,
    #[error("the timestamp reply has no {0}")]
    Missing(&'static str),
    #[error("the TSA refused the request (PKIStatus {0})")]
    Refused(u64),
    #[error("the token is not CMS SignedData")]
    NotSignedData,
    #[error("the token does not hold a TSTInfo")]
    NoTstInfo,
    #[error("the token's imprint is not SHA-256")]
    NotSha256,
    #[error("the token stamps another document (its imprint is not our hash)")]
    OtherDocument,
    #[error("the token's time is not text")]
    TimeNotText,
    #[error("the token has no nonce")]
    NoNonce,
    #[error("the token's nonce is not ours (a replayed reply)")]
    OtherNonce,
}

/// A DER element: tag and content.
#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
}

/// Reads the next element of `input`, returning it and the rest.
fn next(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), ReplyError> {
    let bad = || ReplyError::NotDer;
    let (&tag, rest) = input.split_first().ok_or_else(bad)?;
    let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(bad());
        }
        let (len, r) = rest.split_at_checked(n).ok_or_else(bad)?;
        rest = r;
        len.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize)
    };
    let (content, rest) = rest.split_at_checked(len).ok_or_else(bad)?;
    Ok((Tlv { tag, content }, rest))
}

/// The elements inside a constructed element.
fn children(content: &[u8]) -> Result<Vec<Tlv<'_>>, ReplyError> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (t, r) = next(rest)?;
        out.push(t);
        rest = r;
    }
    Ok(out)
}

fn expect<'a>(
    items: &[Tlv<'a>],
    i: usize,
    tag: u8,
    what: &'static str,
) -> Result<Tlv<'a>, ReplyError> {
    items
        .get(i)
        .copied()
        .filter(|t| t.tag == tag)
        .ok_or(ReplyError::Missing(what))
}

/// Checks a TimeStampResp for `data`: status granted, a SignedData token
/// whose TSTInfo stamps SHA-256(`data`) with our nonce (when given).
pub fn check_reply(
    reply: &[u8],
    data: &[u8],
    nonce: Option<&[u8; 8]>,
) -> Result<Stamped, ReplyError> {
    let (resp, trailing) = next(reply)?;
    if resp.tag != 0x30 || !trailing.is_empty() {
        return Err(ReplyError::NotResponse);
    }
    let items = children(resp.content)?;
    let status = children(expect(&items, 0, 0x30, "status")?.content)?;
    let code = expect(&status, 0, 0x02, "status code")?.content;
    if code != [0] && code != [1] {
        return Err(ReplyError::Refused(
            code.iter().fold(0u64, |a, b| (a << 8) | *b as u64),
        ));
    }
    let token = children(expect(&items, 1, 0x30, "token")?.content)?;
    if expect(&token, 0, 0x06, "content type")?.content != SIGNED_DATA_OID {
        return Err(ReplyError::NotSignedData);
    }
    let explicit = children(expect(&token, 1, 0xa0, "signed data")?.content)?;
    let signed = children(expect(&explicit, 0, 0x30, "signed data")?.content)?;
    let encap = children(expect(&signed, 2, 0x30, "encapsulated content")?.content)?;
    if expect(&encap, 0, 0x06, "content type")?.content != TST_INFO_OID {
        return Err(ReplyError::NoTstInfo);
    }
    let octets = children(expect(&encap, 1, 0xa0, "TSTInfo")?.content)?;
    let tst_der = expect(&octets, 0, 0x04, "TSTInfo")?.content;
    let (tst, _) = next(tst_der)?;
    let tst = children(tst.content)?;
    let imprint = children(expect(&tst, 2, 0x30, "message imprint")?.content)?;
    let alg = children(expect(&imprint, 0, 0x30, "hash algorithm")?.content)?;
    if expect(&alg, 0, 0x06, "hash algorithm")?.content != SHA256_OID {
        return Err(ReplyError::NotSha256);
    }
    if expect(&imprint, 1, 0x04, "imprint")?.content != Sha256::digest(data).as_slice() {
        return Err(ReplyError::OtherDocument);
    }
    let serial = hex::encode(expect(&tst, 3, 0x02, "serial number")?.content);
    let certificate = signed.get(3).filter(|t| t.tag == 0xa0).and_then(|set| {
        let (_, rest) = next(set.content).ok()?;
        set.content
            .get(..set.content.len() - rest.len())
            .map(<[u8]>::to_vec)
    });
    let generalized = expect(&tst, 4, 0x18, "time")?.content;
    let gen_time = String::from_utf8(generalized.to_vec()).map_err(|_| ReplyError::TimeNotText)?;
    if let Some(ours) = nonce {
        let theirs = tst
            .iter()
            .skip(5)
            .find(|t| t.tag == 0x02)
            .ok_or(ReplyError::NoNonce)?;
        let strip = |b: &[u8]| {
            b.iter()
                .copied()
                .skip_while(|x| *x == 0)
                .collect::<Vec<_>>()
        };
        if strip(theirs.content) != strip(ours) {
            return Err(ReplyError::OtherNonce);
        }
    }
    let time = chrono::NaiveDateTime::parse_from_str(
        gen_time.trim_end_matches('Z'),
        if gen_time.contains('.') {
            "%Y%m%d%H%M%S%.f"
        } else {
            "%Y%m%d%H%M%S"
        },
    )
    .ok()
    .map(|t| {
        t.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    });
    Ok(Stamped {
        gen_time,
        time,
        serial,
        certificate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_der_openssl_would_parse() {
        let r = request(b"hello", &[0x80, 1, 2, 3, 4, 5, 6, 7]);
        let (top, rest) = next(&r).unwrap();
        assert!(rest.is_empty());
        let items = children(top.content).unwrap();
        assert_eq!(items.len(), 4);
        // A nonce with its high bit set gets a leading zero (positive).
        assert_eq!(items[2].content.first(), Some(&0));
        assert_eq!(items[2].content.len(), 9);
    }

    #[test]
    fn garbage_replies_are_refused_without_panicking() {
        for g in [
            &b""[..],
            b"hello",
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x03, 0x30, 0x01, 0x02],
        ] {
            assert!(check_reply(g, b"x", None).is_err());
        }
    }
}

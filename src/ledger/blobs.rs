//! Content-addressed blob storage: key = SHA-256 of the uncompressed bytes,
//! value compressed with zstd. Identical content is stored once.
//!
//! A revision's capture and text may be stored as a delta: codec
//! `zstd-delta` with `base` naming another blob, compressed with that blob's
//! full bytes referenced as a zstd prefix (zstd's "patch-from": the window
//! covers base and new bytes, long-distance matching on). The key
//! is still the hash of the full bytes, and reading a blob always rebuilds
//! and checks them, so every reader and `verify` prove full contents.
//!
//! Packing (hashing and compressing) is pure and runs before the writer, in
//! parallel ([`pack`], [`pack_delta`]); the writer only inserts the result
//! ([`put_packed`]).

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{LedgerError, Result};

/// zstd level, chosen by measurement (`cargo bench --bench blobs`,
/// BENCHMARKS.md): level 1 compresses captures about 1.3× as fast as level 3
/// (about 5× level 9) and stores a whole capture about 5 % larger; revisions are
/// stored as deltas, which are as small at level 1 and made twice as fast.
/// Negative levels gain little speed for a much worse ratio.
pub const ZSTD_LEVEL: i32 = 1;

/// Longest chain of deltas a new delta may extend; past it a blob is stored
/// whole, so that reading one never decompresses more than this many bases.
pub const MAX_DELTA_DEPTH: u32 = 16;

/// Largest blob we will decompress (guards `verify` against a hostile file).
const MAX_BLOB_BYTES: usize = 512 * 1024 * 1024;

pub use crate::canonical::hash_hex;

/// A blob ready to insert: its key and its stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub hash: [u8; 32],
    /// Length of the full (uncompressed) bytes.
    pub size: usize,
    /// `zstd` or `zstd-delta`.
    pub codec: &'static str,
    pub data: Vec<u8>,
    /// For a delta: the blob whose full bytes are its dictionary.
    pub base: Option<[u8; 32]>,
}

impl Packed {
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

/// Largest window a delta may need (base and new bytes together): 128 MiB.
/// Larger pairs are stored whole.
const MAX_DELTA_WINDOW_LOG: u32 = 27;

fn zstd_error(code: usize) -> std::io::Error {
    std::io::Error::other(zstd::zstd_safe::get_error_name(code))
}

/// The window a delta of `len` bytes against `base_len` bytes needs.
fn delta_window_log(base_len: usize, len: usize) -> Option<u32> {
    let need = (base_len + len).max(1 << 10).next_power_of_two();
    let log = need.trailing_zeros();
    (log <= MAX_DELTA_WINDOW_LOG).then_some(log)
}

/// zstd "patch-from": `base` referenced as a prefix the new bytes may copy
/// from, with a window that reaches all of it and long-distance matching.
fn compress_delta(bytes: &[u8], base: &[u8], window_log: u32) -> std::io::Result<Vec<u8>> {
    use zstd::zstd_safe::{CCtx, CParameter};
    let mut cctx = CCtx::create();
    cctx.set_parameter(CParameter::CompressionLevel(ZSTD_LEVEL))
        .map_err(zstd_error)?;
    cctx.set_parameter(CParameter::WindowLog(window_log))
        .map_err(zstd_error)?;
    cctx.set_parameter(CParameter::EnableLongDistanceMatching(true))
        .map_err(zstd_error)?;
    cctx.ref_prefix(base).map_err(zstd_error)?;
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(bytes.len()));
    cctx.compress2(&mut out, bytes).map_err(zstd_error)?;
    Ok(out)
}

fn decompress_delta(data: &[u8], base: &[u8], cap: usize) -> std::io::Result<Vec<u8>> {
    use zstd::zstd_safe::{DCtx, DParameter};
    let mut dctx = DCtx::create();
    dctx.set_parameter(DParameter::WindowLogMax(MAX_DELTA_WINDOW_LOG))
        .map_err(zstd_error)?;
    dctx.ref_prefix(base).map_err(zstd_error)?;
    let mut out = Vec::with_capacity(cap);
    dctx.decompress(&mut out, data).map_err(zstd_error)?;
    Ok(out)
}

/// zstd at [`ZSTD_LEVEL`] with one context per thread (creating a context
/// costs about as much as compressing a small page).
fn compress_whole(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static CCTX: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    CCTX.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
        }
        match c.as_mut() {
            Some(cctx) => cctx.compress(bytes),
            None => zstd::bulk::compress(bytes, ZSTD_LEVEL),
        }
    })
}

/// Hashes and compresses `bytes` on their own.
pub fn pack(bytes: &[u8]) -> std::io::Result<Packed> {
    Ok(Packed {
        hash: Sha256::digest(bytes).into(),
        size: bytes.len(),
        codec: "zstd",
        data: compress_whole(bytes)?,
        base: None,
    })
}

/// Hashes `bytes` and compresses them against `base` (the full bytes of the
/// blob `base_hash`): a delta when that is smaller, else the whole blob.
pub fn pack_delta(bytes: &[u8], base_hash: [u8; 32], base: &[u8]) -> std::io::Result<Packed> {
    let mut whole = pack(bytes)?;
    let Some(window_log) = delta_window_log(base.len(), bytes.len()) else {
        return Ok(whole);
    };
    if base.is_empty() || base_hash == whole.hash {
        return Ok(whole);
    }
    let delta = compress_delta(bytes, base, window_log)?;
    if delta.len() < whole.data.len() {
        whole.codec = "zstd-delta";
        whole.data = delta;
        whole.base = Some(base_hash);
    }
    Ok(whole)
}

/// Whether a packed blob can be stored: whole, or a delta whose base is.
pub fn base_stored(conn: &Connection, p: &Packed) -> rusqlite::Result<bool> {
    match p.base {
        None => Ok(true),
        Some(base) => conn
            .prepare_cached("SELECT COUNT(*) > 0 FROM blobs WHERE hash = ?1")?
            .query_row([base.to_vec()], |r| r.get(0)),
    }
}

/// Inserts a packed blob (once) and returns its hex hash. A delta whose
/// base is not stored is refused: it could never be read.
pub fn put_packed(conn: &Connection, p: &Packed) -> rusqlite::Result<String> {
    if let Some(base) = p.base
        && !base_stored(conn, p)?
    {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "delta blob {} names a base {} that is not stored",
            p.hash_hex(),
            hex::encode(base)
        )));
    }
    conn.prepare_cached(
        "INSERT OR IGNORE INTO blobs (hash, codec, size, data, base) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        p.hash.to_vec(),
        p.codec,
        p.size as i64,
        p.data,
        p.base.map(|b| b.to_vec())
    ])?;
    Ok(p.hash_hex())
}

/// Stores `bytes` (once, compressed on their own) and returns its hex hash.
pub fn put(conn: &Connection, bytes: &[u8]) -> rusqlite::Result<String> {
    let p = pack(bytes).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    put_packed(conn, &p)
}

/// How many deltas deep the stored blob `hash` is (0: stored whole), or
/// `None` when it is not stored.
pub fn delta_depth(conn: &Connection, hash: &[u8; 32]) -> rusqlite::Result<Option<u32>> {
    let mut stmt = conn.prepare_cached("SELECT base FROM blobs WHERE hash = ?1")?;
    let mut key = hash.to_vec();
    for depth in 0..=MAX_DELTA_DEPTH + 1 {
        let base: Option<Option<Vec<u8>>> = stmt.query_row([&key], |r| r.get(0)).optional()?;
        match base {
            None => return Ok(None),
            Some(None) => return Ok(Some(depth)),
            Some(Some(b)) => key = b,
        }
    }
    Ok(Some(MAX_DELTA_DEPTH + 1))
}

/// Loads a blob, rebuilding a delta from its bases, and checks that the
/// bytes have its hash.
pub fn get(conn: &Connection, hash_hex: &str) -> Result<Vec<u8>> {
    get_at(conn, hash_hex, 0)
}

fn get_at(conn: &Connection, hash_hex: &str, depth: u32) -> Result<Vec<u8>> {
    let corrupt = |reason: String| LedgerError::CorruptBlob {
        hash: hash_hex.to_string(),
        reason,
    };
    let key = hex::decode(hash_hex).map_err(|_| corrupt("the key is not hexadecimal".into()))?;
    type Row = (String, i64, Vec<u8>, Option<Vec<u8>>);
    // A ledger read before its migration to schema 7 has no `base` column
    // (and no deltas).
    let stmt = conn
        .prepare_cached("SELECT codec, size, data, base FROM blobs WHERE hash = ?1")
        .or_else(|_| {
            conn.prepare_cached("SELECT codec, size, data, NULL FROM blobs WHERE hash = ?1")
        });
    let row: Option<Row> = stmt
        .and_then(|mut s| {
            s.query_row(params![key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })
        .map_err(|source| LedgerError::Sqlite {
            path: "blobs".into(),
            source,
        })?;
    let Some((codec, size, data, base)) = row else {
        // Gone on purpose, or missing?
        let pruned: Option<i64> = conn
            .query_row(
                "SELECT seq FROM ledger WHERE kind = 'pruned' AND instr(payload, ?1) > 0 ORDER BY seq LIMIT 1",
                [format!("\"{hash_hex}\"")],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten();
        return Err(match pruned {
            Some(seq) => LedgerError::PrunedBlob {
                hash: hash_hex.to_string(),
                seq,
            },
            None => LedgerError::MissingBlob(hash_hex.to_string()),
        });
    };
    let cap = usize::try_from(size).unwrap_or(0).min(MAX_BLOB_BYTES);
    let bytes = match (codec.as_str(), base) {
        ("identity", _) => data,
        ("zstd", _) => {
            zstd::bulk::decompress(&data, cap).map_err(|e| corrupt(format!("zstd: {e}")))?
        }
        ("zstd-delta", Some(base)) => {
            if depth >= MAX_DELTA_DEPTH {
                return Err(corrupt(format!(
                    "its chain of deltas is longer than {MAX_DELTA_DEPTH}"
                )));
            }
            let dict = get_at(conn, &hex::encode(&base), depth + 1).map_err(|e| {
                corrupt(format!(
                    "its delta base {} cannot be read: {e}",
                    hex::encode(&base)
                ))
            })?;
            decompress_delta(&data, &dict, cap).map_err(|e| corrupt(format!("zstd delta: {e}")))?
        }
        ("zstd-delta", None) => return Err(corrupt("a delta without a base".into())),
        (other, _) => return Err(corrupt(format!("unknown codec {other}"))),
    };
    if self::hash_hex(&bytes) != hash_hex {
        return Err(corrupt("its content does not match its hash".into()));
    }
    Ok(bytes)
}

/// Blob hashes an entry's payload refers to (keys ending in `_blob`, at any depth).
/// Most entries (unchanged fetches) refer to none: a substring test skips
/// the JSON parse for them.
pub fn referenced_blobs(payload: &str) -> Vec<String> {
    if memchr::memmem::find(payload.as_bytes(), b"_blob\"").is_none() {
        return vec![];
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(payload)
    else {
        return vec![];
    };
    let mut out = Vec::new();
    named_blobs(&map, &mut out);
    out
}

/// Every string under a key ending in `_blob`, at any depth (a fetch
/// entry's `tls.chain_blob` too).
fn named_blobs(map: &serde_json::Map<String, serde_json::Value>, out: &mut Vec<String>) {
    for (k, v) in map {
        match v {
            serde_json::Value::String(h) if k.ends_with("_blob") => out.push(h.clone()),
            serde_json::Value::Object(inner) => named_blobs(inner, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::ledger::open_writable(&dir.path().join("l.db")).unwrap();
        std::mem::forget(dir);
        conn
    }

    fn page(edit: &str) -> Vec<u8> {
        let mut s = String::new();
        for i in 0..3000 {
            s.push_str(&format!(
                "<p class=\"x{}\">Paragraph {i} of the article, {}.</p>\n",
                i % 7,
                i * 31 % 97
            ));
            if i == 1500 {
                s.push_str(edit);
            }
        }
        s.into_bytes()
    }

    #[test]
    fn a_delta_is_small_and_reads_back_whole() {
        let conn = db();
        let v1 = page("");
        let v2 = page("<p>One sentence the editors added later, quietly.</p>");
        let base = put(&conn, &v1).unwrap();
        let base_key: [u8; 32] = hex::decode(&base).unwrap().try_into().unwrap();
        let d = pack_delta(&v2, base_key, &v1).unwrap();
        assert_eq!(d.codec, "zstd-delta");
        assert!(
            d.data.len() < 200,
            "delta of a one-sentence edit: {} bytes",
            d.data.len()
        );
        let h = put_packed(&conn, &d).unwrap();
        assert_eq!(get(&conn, &h).unwrap(), v2);
        assert_eq!(delta_depth(&conn, &d.hash).unwrap(), Some(1));
        assert_eq!(delta_depth(&conn, &base_key).unwrap(), Some(0));
        assert_eq!(delta_depth(&conn, &[7; 32]).unwrap(), None);
    }

    #[test]
    fn a_delta_on_a_missing_base_is_refused() {
        let conn = db();
        let v1 = page("");
        let d = pack_delta(&page("<p>x</p>"), [9; 32], &v1).unwrap();
        assert!(put_packed(&conn, &d).is_err());
    }

    #[test]
    fn a_delta_is_never_larger_than_the_whole_blob() {
        let v1 = page("");
        let other: Vec<u8> = (0..20_000u32)
            .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
            .collect();
        let whole = pack(&other).unwrap();
        let p = pack_delta(&other, [1; 32], &v1).unwrap();
        assert!(p.data.len() <= whole.data.len());
        assert_eq!(p.base.is_some(), p.codec == "zstd-delta");
        // Identical content is never a delta of itself.
        let same = pack_delta(&v1, Sha256::digest(&v1).into(), &v1).unwrap();
        assert_eq!((same.codec, same.base), ("zstd", None));
    }
}

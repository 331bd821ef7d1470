//! Content-addressed blob storage: key = SHA-256 of the uncompressed bytes,
//! value compressed with zstd. Identical content is stored once.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{LedgerError, Result};

/// zstd level: a good ratio on HTML and text at a few ms per page.
const ZSTD_LEVEL: i32 = 9;

/// Largest blob we will decompress (guards `verify` against a hostile file).
const MAX_BLOB_BYTES: usize = 512 * 1024 * 1024;

/// Hex SHA-256 of some bytes: the key blobs are stored under.
pub fn hash_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Stores `bytes` (once) and returns its hex hash.
pub fn put(conn: &Connection, bytes: &[u8]) -> rusqlite::Result<String> {
    let hash = Sha256::digest(bytes);
    let compressed = zstd::bulk::compress(bytes, ZSTD_LEVEL)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.execute(
        "INSERT OR IGNORE INTO blobs (hash, codec, size, data) VALUES (?1, 'zstd', ?2, ?3)",
        params![hash.to_vec(), bytes.len() as i64, compressed],
    )?;
    Ok(hex::encode(hash))
}

/// Loads a blob and checks that it decompresses to bytes with its hash.
pub fn get(conn: &Connection, hash_hex: &str) -> Result<Vec<u8>> {
    let key = hex::decode(hash_hex).map_err(|_| LedgerError::CorruptBlob {
        hash: hash_hex.to_string(),
        reason: "the key is not hexadecimal".into(),
    })?;
    let row: Option<(String, i64, Vec<u8>)> = conn
        .query_row(
            "SELECT codec, size, data FROM blobs WHERE hash = ?1",
            params![key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(|source| LedgerError::Sqlite {
            path: "blobs".into(),
            source,
        })?;
    let (codec, size, data) = row.ok_or_else(|| LedgerError::MissingBlob(hash_hex.to_string()))?;
    let corrupt = |reason: String| LedgerError::CorruptBlob {
        hash: hash_hex.to_string(),
        reason,
    };
    let bytes = match codec.as_str() {
        "identity" => data,
        "zstd" => {
            let cap = usize::try_from(size).unwrap_or(0).min(MAX_BLOB_BYTES);
            zstd::bulk::decompress(&data, cap).map_err(|e| corrupt(format!("zstd: {e}")))?
        }
        other => return Err(corrupt(format!("unknown codec {other}"))),
    };
    if self::hash_hex(&bytes) != hash_hex {
        return Err(corrupt("its content does not match its hash".into()));
    }
    Ok(bytes)
}

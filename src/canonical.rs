//! The encodings several stages share, at the ground so that none of them
//! reaches up into the ledger for them: canonical JSON (what entry and
//! content hashes are computed over) and hex SHA-256 (the key of a blob, a
//! content hash).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Canonical JSON: object keys sorted, no insignificant whitespace.
///
/// `serde_json::Map` is a `BTreeMap` in this build (the `preserve_order`
/// feature is off), so serializing a `Value` already sorts keys; this
/// function exists so that every payload goes through one place.
#[allow(
    clippy::expect_used,
    reason = "SQLite limits a value to 1 GB, so a field never reaches 4 GiB; serializing a Value cannot fail"
)]
pub fn canonical_json(value: &Value) -> String {
    serde_json::to_string(value).expect("a serde_json::Value always serializes")
}

/// Hex SHA-256 of some bytes: the key blobs are stored under.
pub fn hash_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

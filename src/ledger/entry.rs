//! Ledger entries and the hash that chains them.
//!
//! `entry_hash` is the RFC 6962 leaf hash of a versioned, length-prefixed
//! encoding of every column (never of JSON text), so that Merkle checkpoints
//! and inclusion proofs can later be built over the same entries:
//!
//! ```text
//! entry_hash = SHA-256( 0x00
//!     || lp("newsledger-entry-v1")
//!     || u64be(seq)
//!     || lp(recorded_at) || lp(kind)
//!     || (0x00 if url is NULL, else 0x01 || lp(url))
//!     || lp(payload)
//!     || lp(prev_hash) )
//! lp(x) = u32be(byte length of x) || x        (strings as UTF-8)
//! ```

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Tag that versions the encoding; a future encoding gets a new tag.
pub const ENCODING_TAG: &str = "newsledger-entry-v1";

/// The `prev_hash` of the genesis entry.
pub const ZERO_HASH: [u8; 32] = [0u8; 32];

/// The kinds of entry the ledger holds (DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Genesis,
    Fetch,
    Revision,
    Gone,
    Source,
    /// A signed checkpoint of the Merkle tree over the entries before it.
    Checkpoint,
    /// An RFC 3161 token over a checkpoint.
    Timestamp,
    /// Witness cosignatures of a checkpoint.
    Cosignature,
    /// Raw captures removed by a retention rule, named so that `verify`
    /// knows they are gone on purpose.
    Pruned,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Genesis => "genesis",
            Kind::Fetch => "fetch",
            Kind::Revision => "revision",
            Kind::Gone => "gone",
            Kind::Source => "source",
            Kind::Checkpoint => "checkpoint",
            Kind::Timestamp => "timestamp",
            Kind::Cosignature => "cosignature",
            Kind::Pruned => "pruned",
        }
    }
}

/// One row of `ledger`, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: i64,
    pub recorded_at: String,
    pub kind: String,
    pub url: Option<String>,
    pub payload: String,
    pub prev_hash: Vec<u8>,
    pub entry_hash: Vec<u8>,
}

fn put_lp(h: &mut Sha256, bytes: &[u8]) {
    // Entries are far below 4 GiB; a longer field would be a bug upstream.
    #[allow(
        clippy::expect_used,
        reason = "SQLite limits a value to 1 GB, so a field never reaches 4 GiB; serializing a Value cannot fail"
    )]
    let len = u32::try_from(bytes.len()).expect("ledger field longer than 4 GiB");
    h.update(len.to_be_bytes());
    h.update(bytes);
}

/// Computes the entry hash of the given columns (see the module docs).
/// Streams the encoding into the hasher: no buffer, no copy.
pub fn entry_hash(
    seq: i64,
    recorded_at: &str,
    kind: &str,
    url: Option<&str>,
    payload: &str,
    prev_hash: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x00]);
    put_lp(&mut h, ENCODING_TAG.as_bytes());
    h.update((seq as u64).to_be_bytes());
    put_lp(&mut h, recorded_at.as_bytes());
    put_lp(&mut h, kind.as_bytes());
    match url {
        None => h.update([0x00]),
        Some(u) => {
            h.update([0x01]);
            put_lp(&mut h, u.as_bytes());
        }
    }
    put_lp(&mut h, payload.as_bytes());
    put_lp(&mut h, prev_hash);
    h.finalize().into()
}

impl Entry {
    /// The columns every reader selects, in [`Entry::from_row`]'s order.
    pub const COLUMNS: &'static str = "seq, recorded_at, kind, url, payload, prev_hash, entry_hash";

    /// Reads an entry from a row selected with [`Entry::COLUMNS`].
    pub fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
        Ok(Entry {
            seq: r.get(0)?,
            recorded_at: r.get(1)?,
            kind: r.get(2)?,
            url: r.get(3)?,
            payload: r.get(4)?,
            prev_hash: r.get(5)?,
            entry_hash: r.get(6)?,
        })
    }

    /// The hash this entry should carry, recomputed from its columns.
    pub fn computed_hash(&self) -> [u8; 32] {
        entry_hash(
            self.seq,
            &self.recorded_at,
            &self.kind,
            self.url.as_deref(),
            &self.payload,
            &self.prev_hash,
        )
    }

    /// Why this entry does not verify after an entry whose `entry_hash` is
    /// `prev` (`None`: that entry is missing), if it does not.
    pub fn fault(&self, prev: Option<&[u8]>) -> Option<&'static str> {
        if prev.is_none() {
            return Some("the entry before it is missing");
        }
        if prev != Some(self.prev_hash.as_slice()) {
            return Some("prev_hash does not match the entry_hash of the entry before it");
        }
        if self.computed_hash().as_slice() != self.entry_hash {
            return Some("entry_hash does not match the entry's contents (the entry was altered)");
        }
        None
    }

    /// [`Entry::fault`] for an entry read on its own: the hash of the entry
    /// before it is looked up (the zero hash before the genesis entry).
    pub fn fault_in(&self, conn: &rusqlite::Connection) -> rusqlite::Result<Option<&'static str>> {
        use rusqlite::OptionalExtension;
        let prev: Option<Vec<u8>> = if self.seq == 1 {
            Some(ZERO_HASH.to_vec())
        } else {
            conn.prepare_cached("SELECT entry_hash FROM ledger WHERE seq = ?1")?
                .query_row([self.seq - 1], |r| r.get(0))
                .optional()?
        };
        Ok(self.fault(prev.as_deref()))
    }
}

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

/// A checkpoint: the head as `SEQ:HEXHASH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: [u8; 32],
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, hex::encode(self.hash))
    }
}

impl std::str::FromStr for Checkpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (seq, hash) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("checkpoint `{s}` is not of the form SEQ:HEXHASH"))?;
        let seq: i64 = seq
            .parse()
            .map_err(|_| format!("checkpoint `{s}`: `{seq}` is not a sequence number"))?;
        let bytes = hex::decode(hash)
            .map_err(|_| format!("checkpoint `{s}`: the hash is not hexadecimal"))?;
        let hash: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("checkpoint `{s}`: the hash must be 64 hex digits (SHA-256)"))?;
        if seq < 1 {
            return Err(format!("checkpoint `{s}`: seq starts at 1"));
        }
        Ok(Checkpoint { seq, hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_every_column() {
        let base = entry_hash(1, "t", "fetch", Some("u"), "{}", &ZERO_HASH);
        assert_ne!(
            base,
            entry_hash(2, "t", "fetch", Some("u"), "{}", &ZERO_HASH)
        );
        assert_ne!(
            base,
            entry_hash(1, "t2", "fetch", Some("u"), "{}", &ZERO_HASH)
        );
        assert_ne!(
            base,
            entry_hash(1, "t", "gone", Some("u"), "{}", &ZERO_HASH)
        );
        assert_ne!(base, entry_hash(1, "t", "fetch", None, "{}", &ZERO_HASH));
        assert_ne!(
            base,
            entry_hash(1, "t", "fetch", Some(""), "{}", &ZERO_HASH)
        );
        assert_ne!(
            base,
            entry_hash(1, "t", "fetch", Some("u"), "{ }", &ZERO_HASH)
        );
        assert_ne!(
            base,
            entry_hash(1, "t", "fetch", Some("u"), "{}", &[1u8; 32])
        );
    }

    #[test]
    fn length_prefixes_make_field_boundaries_unambiguous() {
        // "ab" + "c" and "a" + "bc" must not collide.
        let a = entry_hash(1, "ab", "c", None, "", &ZERO_HASH);
        let b = entry_hash(1, "a", "bc", None, "", &ZERO_HASH);
        assert_ne!(a, b);
    }

    #[test]
    fn known_vector() {
        // Pinned so that the documented encoding (README, audit script) cannot drift.
        let h = entry_hash(1, "2026-01-01T00:00:00Z", "genesis", None, "{}", &ZERO_HASH);
        assert_eq!(
            hex::encode(h),
            "5185c168ba9249f75da1b8e4e4d04c24257c80b391615e633dcb60981c7c6482"
        );
    }

    #[test]
    fn checkpoint_round_trips_and_rejects_garbage() {
        let c = Checkpoint {
            seq: 42,
            hash: [0xab; 32],
        };
        assert_eq!(c.to_string().parse::<Checkpoint>().unwrap(), c);
        assert!("42".parse::<Checkpoint>().is_err());
        assert!("x:00".parse::<Checkpoint>().is_err());
        assert!("1:abcd".parse::<Checkpoint>().is_err());
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let v: Value = serde_json::from_str(r#"{"b": 1, "a": {"d": 2, "c": [3, 4]}}"#).unwrap();
        assert_eq!(canonical_json(&v), r#"{"a":{"c":[3,4],"d":2},"b":1}"#);
    }
}

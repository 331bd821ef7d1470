//! Proof that travels: signed checkpoints of the Merkle tree over the
//! ledger, RFC 3161 timestamps and witness cosignatures of them, and
//! per-article evidence bundles that anyone can verify without newsledger.

pub mod bundle;
pub mod tsa;
pub mod zip;

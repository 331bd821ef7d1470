-- The Merkle tree over the ledger (RFC 9162 §2.1): stored complete
-- subtrees at levels 4, 8, 12, ... (level 0 is ledger.entry_hash).
-- Derived data: `rebuild` recomputes it from the chain, `verify` checks it.
CREATE TABLE merkle_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- Proof entries are few: partial indexes find them without scanning.
CREATE INDEX ledger_checkpoints ON ledger(seq) WHERE kind = 'checkpoint';
CREATE INDEX ledger_timestamps ON ledger(seq) WHERE kind = 'timestamp';
CREATE INDEX ledger_cosignatures ON ledger(seq) WHERE kind = 'cosignature';

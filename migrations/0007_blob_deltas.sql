-- Revisions stored as deltas: a blob with codec 'zstd-delta' is compressed
-- with the full bytes of the blob `base` as its dictionary. The key is still
-- the SHA-256 of the full bytes (blobs.rs). The codec CHECK is widened in
-- `migrate` (as migration 6 widened ledger.kind).
ALTER TABLE blobs ADD COLUMN base BLOB CHECK (base IS NULL OR length(base) = 32);

-- Retention: a raw capture may be removed, but only right after a chained
-- `pruned` entry that names it (ledger.kind's CHECK is widened in `migrate`).
-- Any other DELETE on blobs is still refused, and `verify` still fails on a
-- missing blob that no earlier `pruned` entry names.
DROP TRIGGER blobs_no_delete;
CREATE TRIGGER blobs_delete_only_when_pruned BEFORE DELETE ON blobs
WHEN NOT EXISTS (
    SELECT 1 FROM ledger
    WHERE seq = (SELECT MAX(seq) FROM ledger)
      AND kind = 'pruned'
      AND instr(payload, '"' || lower(hex(OLD.hash)) || '"') > 0
)
BEGIN
    SELECT RAISE(ABORT, 'blobs are insert-only: a blob is deleted only right after a pruned entry that names it');
END;

-- Pruned entries are few: a partial index finds them.
CREATE INDEX ledger_pruned ON ledger(seq) WHERE kind = 'pruned';

-- Deltas name their base: a base is kept while a stored delta needs it.
CREATE INDEX blobs_base ON blobs(base) WHERE base IS NOT NULL;

-- How far each source's retention has looked (operational state).
CREATE TABLE retention_state (
    source        TEXT PRIMARY KEY,
    last_run_at   TEXT NOT NULL
);

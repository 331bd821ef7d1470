-- Compact entries (encoding tag newsledger-entry-v2, entry.rs): an
-- unchanged or not-modified fetch that repeats an earlier full fetch entry
-- of its URL is stored with url NULL, `ref_seq` naming that entry, and a
-- binary payload. The index finds an article's compact fetches.
ALTER TABLE ledger ADD COLUMN ref_seq INTEGER;
CREATE INDEX ledger_ref_seq ON ledger(ref_seq) WHERE ref_seq IS NOT NULL;

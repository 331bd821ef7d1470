-- Which ledger this database holds: an id made once, with the schema. A
-- replica remembers the id of the ledger it follows and refuses a database
-- that holds another (a replica pointed at the wrong database would
-- otherwise push its entries into it, or read another ledger's).
CREATE TABLE IF NOT EXISTS ledger_identity (
    id        INT  PRIMARY KEY CHECK (id = 1),
    ledger_id TEXT NOT NULL
);
INSERT INTO ledger_identity (id, ledger_id)
VALUES (1, md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text))
ON CONFLICT (id) DO NOTHING;

-- Row triggers do not see TRUNCATE: refused as a statement.
CREATE OR REPLACE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION newsledger_append_only();
CREATE OR REPLACE TRIGGER blobs_no_truncate BEFORE TRUNCATE ON blobs
    FOR EACH STATEMENT EXECUTE FUNCTION newsledger_append_only();

-- The storage contract on PostgreSQL (src/ledger/storage/postgres.rs): the
-- same columns and bytes as SQLite's `ledger` and `blobs`, one sequencer
-- row taken FOR UPDATE by every append, and both tables append-only.
CREATE TABLE IF NOT EXISTS ledger (
    seq           BIGINT PRIMARY KEY CHECK (seq >= 1),
    recorded_at   TEXT   NOT NULL,
    kind          TEXT   NOT NULL CHECK (kind IN ('genesis', 'fetch', 'revision', 'gone', 'source', 'checkpoint', 'timestamp', 'cosignature', 'pruned')),
    url           TEXT,
    payload_json  TEXT,
    payload_bytes BYTEA,
    prev_hash     BYTEA  NOT NULL CHECK (octet_length(prev_hash) = 32),
    entry_hash    BYTEA  NOT NULL CHECK (octet_length(entry_hash) = 32),
    ref_seq       BIGINT CHECK (ref_seq IS NULL OR (ref_seq >= 1 AND ref_seq < seq)),
    CHECK ((payload_json IS NULL) <> (payload_bytes IS NULL))
);
CREATE INDEX IF NOT EXISTS ledger_url ON ledger (url, seq) WHERE url IS NOT NULL;

CREATE TABLE IF NOT EXISTS blobs (
    hash  BYTEA  PRIMARY KEY CHECK (octet_length(hash) = 32),
    codec TEXT   NOT NULL CHECK (codec IN ('zstd', 'identity', 'zstd-delta')),
    size  BIGINT NOT NULL,
    data  BYTEA  NOT NULL,
    base  BYTEA  CHECK (base IS NULL OR octet_length(base) = 32)
);

-- The sequencer: the head every append reads and moves, under its row lock.
CREATE TABLE IF NOT EXISTS sequencer (
    id        INT    PRIMARY KEY CHECK (id = 1),
    head_seq  BIGINT NOT NULL,
    head_hash BYTEA  NOT NULL CHECK (octet_length(head_hash) = 32)
);
INSERT INTO sequencer (id, head_seq, head_hash)
VALUES (1, 0, decode(repeat('00', 32), 'hex'))
ON CONFLICT (id) DO NOTHING;

-- A copy `migrate` began and has not finished: while this row exists the
-- database is not a ledger, and the next `migrate` says so.
CREATE TABLE IF NOT EXISTS migration (
    id         INT  PRIMARY KEY CHECK (id = 1),
    source     TEXT NOT NULL,
    started_at TEXT NOT NULL
);

CREATE OR REPLACE FUNCTION newsledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP;
END
$$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION newsledger_append_only();
CREATE OR REPLACE TRIGGER blobs_append_only BEFORE UPDATE OR DELETE ON blobs
    FOR EACH ROW EXECUTE FUNCTION newsledger_append_only();

-- newsledger schema, version 1.
-- Released migrations are never edited: add a new numbered file instead.

-- The ledger proper. Append-only: see the triggers below. No UNIQUE constraint
-- other than seq, so that INSERT OR REPLACE can never silently delete a row.
CREATE TABLE ledger (
    seq         INTEGER PRIMARY KEY,
    recorded_at TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('genesis', 'fetch', 'revision', 'gone', 'source')),
    url         TEXT,
    payload     TEXT    NOT NULL,
    prev_hash   BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    entry_hash  BLOB    NOT NULL CHECK (length(entry_hash) = 32)
);

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: UPDATE is refused');
END;

CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: DELETE is refused');
END;

CREATE TRIGGER ledger_chain_check BEFORE INSERT ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger: seq must be the next number after the head')
    WHERE NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger);
    SELECT RAISE(ABORT, 'ledger: prev_hash must equal the entry_hash of the head')
    WHERE NEW.prev_hash IS NOT COALESCE(
        (SELECT entry_hash FROM ledger ORDER BY seq DESC LIMIT 1), zeroblob(32));
END;

-- Content-addressed, insert-only storage: key = SHA-256 of the uncompressed bytes.
CREATE TABLE blobs (
    hash  BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    codec TEXT    NOT NULL CHECK (codec IN ('zstd', 'identity')),
    size  INTEGER NOT NULL,
    data  BLOB    NOT NULL
);

CREATE TRIGGER blobs_no_update BEFORE UPDATE ON blobs
BEGIN
    SELECT RAISE(ABORT, 'blobs are insert-only: UPDATE is refused');
END;

CREATE TRIGGER blobs_no_delete BEFORE DELETE ON blobs
BEGIN
    SELECT RAISE(ABORT, 'blobs are insert-only: DELETE is refused');
END;

-- Derived data below: it speeds up reads and can be rebuilt from ledger + blobs.

-- One row per article (canonical URL): its current revision.
CREATE TABLE articles (
    url              TEXT PRIMARY KEY,
    source           TEXT NOT NULL,
    fetch_url        TEXT NOT NULL,
    revision         INTEGER NOT NULL,
    content_hash     TEXT NOT NULL,
    fields_json      TEXT NOT NULL,
    extractor        TEXT NOT NULL,
    first_seen       TEXT NOT NULL,
    last_seen        TEXT NOT NULL,
    gone_at          TEXT
);

-- One row per revision of an article.
CREATE TABLE revisions (
    url            TEXT NOT NULL,
    revision       INTEGER NOT NULL,
    content_hash   TEXT NOT NULL,
    title          TEXT,
    first_seen     TEXT NOT NULL,
    last_seen      TEXT NOT NULL,
    words_added    INTEGER NOT NULL,
    words_removed  INTEGER NOT NULL,
    text_blob      TEXT NOT NULL,
    raw_blob       TEXT,
    seq            INTEGER NOT NULL,
    PRIMARY KEY (url, revision)
);

-- Flagged changes and removals, as `newsledger changes` lists them.
CREATE TABLE changes (
    seq           INTEGER PRIMARY KEY,
    url           TEXT NOT NULL,
    kind          TEXT NOT NULL,
    from_revision INTEGER,
    to_revision   INTEGER,
    detected_at   TEXT NOT NULL,
    fields_json   TEXT NOT NULL,
    declared      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX changes_detected_at ON changes (detected_at);

-- Per fetched URL: what the conditional request and the schedule need.
CREATE TABLE fetch_state (
    url            TEXT PRIMARY KEY,
    source         TEXT NOT NULL,
    article_url    TEXT,
    etag           TEXT,
    last_modified  TEXT,
    last_fetch_at  TEXT,
    last_outcome   TEXT,
    last_status    INTEGER,
    last_seq       INTEGER
);

-- Per source: the last cycle, the next one, and the configuration last recorded.
CREATE TABLE source_state (
    name             TEXT PRIMARY KEY,
    config_hash      TEXT,
    cycle_started_at TEXT,
    last_cycle_at    TEXT,
    next_run_at      TEXT,
    counts_json      TEXT,
    last_error       TEXT
);

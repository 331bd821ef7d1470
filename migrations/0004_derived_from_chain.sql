-- newsledger schema, version 4: the derived tables become a pure function of
-- the chain. Every row below is recomputed by `ledger::derive` from `ledger`
-- (+ blobs); `verify` recomputes them and reports any row that disagrees, and
-- `rebuild` rewrites them. They are dropped and recreated here because the
-- old ones could hold rows no chained entry supports; the writer rebuilds
-- them from the chain right after this migration (derived_state.through_seq = 0).

DROP TABLE IF EXISTS articles;
DROP TABLE IF EXISTS revisions;
DROP TABLE IF EXISTS changes;
DROP TABLE IF EXISTS fetch_state;

-- One row per article (its normalized URL): the revision it shows now.
CREATE TABLE articles (
    url           TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    fetch_url     TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    max_revision  INTEGER NOT NULL,
    content_hash  TEXT NOT NULL,
    field_hashes  TEXT NOT NULL,
    text_blob     TEXT NOT NULL,
    raw_blob      TEXT,
    extractor     TEXT NOT NULL,
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    gone_at       TEXT
);

-- One row per revision of an article.
CREATE TABLE revisions (
    url            TEXT NOT NULL,
    revision       INTEGER NOT NULL,
    change         TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    title          TEXT,
    first_seen     TEXT NOT NULL,
    last_seen      TEXT NOT NULL,
    words_added    INTEGER NOT NULL,
    words_removed  INTEGER NOT NULL,
    text_blob      TEXT NOT NULL,
    raw_blob       TEXT,
    extractor      TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    PRIMARY KEY (url, revision)
);

-- Flagged and recorded events, as `newsledger changes` lists them. One
-- entry can carry two events (a page restored with a reverted text).
CREATE TABLE changes (
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    url           TEXT NOT NULL,
    from_revision INTEGER,
    to_revision   INTEGER,
    detected_at   TEXT NOT NULL,
    fields_json   TEXT NOT NULL,
    declared      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (seq, kind)
);
CREATE INDEX changes_detected_at ON changes (detected_at);

-- Per fetched URL: what conditional requests and the schedule need.
CREATE TABLE fetch_state (
    url            TEXT PRIMARY KEY,
    source         TEXT NOT NULL,
    article_url    TEXT,
    etag           TEXT,
    last_modified  TEXT,
    last_fetch_at  TEXT NOT NULL,
    last_outcome   TEXT NOT NULL,
    last_status    INTEGER,
    last_seq       INTEGER NOT NULL
);

-- The last entry the derived tables include. Equal to the head after every
-- transaction; larger than the head means the ledger lost entries.
CREATE TABLE derived_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    through_seq INTEGER NOT NULL
);
INSERT INTO derived_state (id, through_seq) VALUES (1, 0);

-- Read commands replay one article's entries from the chain: find them fast.
-- (A plain index: no UNIQUE constraint on `ledger` besides seq.)
CREATE INDEX ledger_url ON ledger (url);

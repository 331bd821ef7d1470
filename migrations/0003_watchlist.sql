-- Articles found by discovery (feeds, sitemaps, listings), per source.
-- Derived data: the fetch entries of the discovery documents are in the ledger.
CREATE TABLE watchlist (
    url           TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    discovered_at TEXT NOT NULL,
    via           TEXT NOT NULL,
    published     TEXT
);
CREATE INDEX watchlist_source ON watchlist (source);

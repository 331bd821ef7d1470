-- Compact entries (0009) have url NULL, and in a ledger that fetches the
-- same articles for years they are nearly every entry. The URL index kept
-- them all under the key NULL: bytes on disk for lookups that never ask for
-- NULL, and one more index page written by every commit of compact entries.
-- A lookup by `url = ?` can use the partial index (it implies NOT NULL).
DROP INDEX ledger_url;
CREATE INDEX ledger_url ON ledger (url) WHERE url IS NOT NULL;

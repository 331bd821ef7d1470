-- newsledger schema, version 5: discovered articles past the end of their
-- revisit ladder are retired, not deleted: the row stays (so a sitemap that
-- still lists the article does not add it again as new) and the cycle's
-- scan of what is due reads live rows only.
ALTER TABLE watchlist ADD COLUMN retired_at TEXT;
CREATE INDEX watchlist_live ON watchlist (source) WHERE retired_at IS NULL;

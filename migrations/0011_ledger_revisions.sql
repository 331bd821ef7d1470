-- Read commands list articles and count revisions from the chain itself, not
-- from the derived tables (issue 31): a partial index over revision entries
-- answers "which URLs are articles" and "how many revisions are there" from
-- the ledger's own rows, which a forged derived table cannot change.
CREATE INDEX ledger_revisions ON ledger (url) WHERE kind = 'revision';

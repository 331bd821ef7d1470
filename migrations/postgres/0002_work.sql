-- Work shared by every newsledger process that records into this database
-- (issue 37): not part of the record, never read as evidence, and safe to
-- truncate when every worker is stopped.

-- One lease per URL and vantage point: the worker that holds it fetches the
-- URL; another takes it over once `until` has passed (a worker that died
-- holding it). `done_at` says the holder recorded its fetch: a worker whose
-- cycle began before then does not fetch the URL again in that cycle.
CREATE TABLE IF NOT EXISTS leases (
    url     TEXT        NOT NULL,
    vantage TEXT        NOT NULL,
    holder  TEXT        NOT NULL,
    until   TIMESTAMPTZ NOT NULL,
    done_at TIMESTAMPTZ,
    PRIMARY KEY (url, vantage)
);

-- Politeness across workers: the next time a request to the host may
-- start. Each request takes the next slot in one statement, so two
-- workers never take the same one.
CREATE TABLE IF NOT EXISTS host_pace (
    host    TEXT        PRIMARY KEY,
    next_at TIMESTAMPTZ NOT NULL
);

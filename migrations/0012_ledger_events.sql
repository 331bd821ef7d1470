-- Lists that page (issue 36): the chain's own indexes propose what a page of
-- `articles` or `changes` shows, newest first, and each row shown is then
-- folded from its article's checked entries. An index over the ledger's rows
-- cannot be forged apart from those rows (a derived table can).

-- Every event a change list shows, by seq: a revision (not a re-baseline), a
-- gone entry, a fetch that restored a page after it was gone or reverted it
-- to an earlier revision (or both: two events at one seq). The last column
-- is the event's kind as the fold names it (a revision's `change`,
-- defaulting to changed when absent; "restored reverted" for both).
-- `ledger::lists` repeats this WHERE clause word for word so that the
-- planner uses the index.
CREATE INDEX ledger_events ON ledger (
    seq,
    url,
    recorded_at,
    (CASE kind
        WHEN 'revision' THEN
            COALESCE(CASE WHEN json_valid(payload) THEN json_extract(payload, '$.change') END, 'changed')
        WHEN 'gone' THEN 'gone'
        ELSE trim(
            CASE WHEN instr(payload, '"restored":true') > 0 THEN 'restored' ELSE '' END || ' ' ||
            CASE WHEN instr(payload, '"reverted_to":') > 0 THEN 'reverted' ELSE '' END) END)
) WHERE url IS NOT NULL AND (kind = 'gone'
     OR (kind = 'revision' AND instr(payload, '"change":"rebaseline"') = 0)
     OR (kind = 'fetch' AND (instr(payload, '"reverted_to":') > 0 OR instr(payload, '"restored":true') > 0)));

-- Which articles were ever gone, and their latest gone entry (an article is
-- gone while that follows its latest restoring fetch).
CREATE INDEX ledger_gone ON ledger (url) WHERE kind = 'gone';

-- The source each revision was fetched for, which revision entries record
-- from this version on (before, NULL: the fetch it names is read instead).
CREATE INDEX ledger_revision_source ON ledger (
    url,
    (CASE WHEN json_valid(payload) THEN json_extract(payload, '$.source') END)
) WHERE kind = 'revision';

-- The sources the configuration entries name (the changes page offers them
-- as a filter).
CREATE INDEX ledger_sources ON ledger (seq) WHERE kind = 'source';

//! Reading and writing the derived tables, and folding the chain into them.

use super::schema::{damaged_tables, recreate_tables, table_exists};
use super::{ArticleRow, ChangeRow, Event, FetchStateRow, Payload, Replay, RevisionRow};
use crate::ledger::entry::Entry;
use rusqlite::{Connection, Transaction, params};
use std::sync::OnceLock;

/// Folds every entry of the chain, oldest first.
pub fn replay_all(conn: &Connection, with_spans: bool) -> rusqlite::Result<Replay> {
    let mut replay = Replay {
        with_spans,
        ..Replay::default()
    };
    let ref_col = if conn.prepare("SELECT ref_seq FROM ledger LIMIT 0").is_ok() {
        "ref_seq"
    } else {
        "NULL"
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT seq, recorded_at, kind, url, payload, {ref_col} FROM ledger ORDER BY seq"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let kind: &str = row.get_ref(2)?.as_str().unwrap_or_default();
        if !matches!(kind, "fetch" | "revision" | "gone") {
            replay.through_seq = row.get(0)?;
            continue;
        }
        let kind = kind.to_string();
        let seq: i64 = row.get(0)?;
        let recorded_at = row.get_ref(1)?.as_str().unwrap_or_default();
        let ref_seq: Option<i64> = row.get(5)?;
        // A compact entry is folded through its JSON view.
        let view;
        let text = match row.get_ref(4)? {
            rusqlite::types::ValueRef::Blob(b) => {
                view = crate::ledger::entry::Compact::decode(b)
                    .map(|c| c.view(recorded_at, ref_seq.unwrap_or(0)))
                    .unwrap_or_else(|| "null".into());
                view.as_str()
            }
            v => v.as_str().unwrap_or("null"),
        };
        let Some(payload) = Payload::parse(text) else {
            replay.anomalies.push((
                seq,
                "its payload is not the JSON object its kind has".into(),
            ));
            replay.through_seq = seq;
            continue;
        };
        let url = match row.get_ref(3)? {
            rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).ok(),
            _ => None,
        };
        replay.apply(Event {
            seq,
            recorded_at,
            kind: &kind,
            url,
            payload: &payload,
            ref_seq,
        });
    }
    replay.finish();
    fill_titles(conn, &mut replay);
    Ok(replay)
}

/// Revision entries written before they carried `title` (and revisions
/// whose page had none): the title is read from the revision's text blob,
/// which is checked against its hash.
pub(crate) fn fill_titles(conn: &Connection, replay: &mut Replay) {
    for r in replay.revisions.values_mut().filter(|r| r.title.is_none()) {
        r.title = crate::ledger::blobs::get(conn, &r.text_blob)
            .ok()
            .and_then(|b| serde_json::from_slice::<crate::extract::Article>(&b).ok())
            .and_then(|a| a.title);
    }
}

/// Why one article's entries cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted {
    pub seq: i64,
    pub reason: String,
}

/// Folds the entries filed under one article URL, checking each one's hash
/// and its link to the entry before it. Read commands show what this
/// returns, never the derived tables.
pub fn replay_article(conn: &Connection, url: &str) -> rusqlite::Result<Result<Replay, Untrusted>> {
    // The article's own entries, and the compact fetches that repeat one
    // of its full fetch entries.
    let cols = Entry::columns(conn);
    let compact = if cols.ends_with("ref_seq") {
        format!(
            " UNION ALL SELECT {cols} FROM ledger WHERE ref_seq IN
               (SELECT seq FROM ledger WHERE url = ?1 AND kind = 'fetch')"
        )
    } else {
        String::new()
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT {cols} FROM ledger WHERE url = ?1{compact} ORDER BY seq"
    ))?;
    let entries = stmt
        .query_map([url], Entry::from_row_unviewed)?
        .collect::<rusqlite::Result<Vec<Entry>>>()?;
    fold_checked(conn, &entries, Replay::with_spans())
}

/// Folds one article's entries (in seq order), each checked against its
/// hash and its link to the entry before it; the fold must find them whole
/// (no anomaly, nothing awaited at the end). What every read replays with.
pub fn fold_checked(
    conn: &Connection,
    entries: &[Entry],
    mut replay: Replay,
) -> rusqlite::Result<Result<Replay, Untrusted>> {
    for e in entries {
        if let Some(fault) = e.fault_in(conn)? {
            return Ok(Err(Untrusted {
                seq: e.seq,
                reason: fault.into(),
            }));
        }
        let compact = e
            .compact
            .as_ref()
            .and_then(|(_, b)| crate::ledger::entry::Compact::decode(b));
        let payload = match &compact {
            Some(c) => Payload::of_compact(c),
            None => Payload::parse(&e.payload).unwrap_or_default(),
        };
        replay.apply(Event {
            seq: e.seq,
            recorded_at: &e.recorded_at,
            kind: &e.kind,
            url: e.url.as_deref(),
            payload: &payload,
            ref_seq: e.compact.as_ref().map(|c| c.0),
        });
    }
    replay.finish();
    // An entry that contradicts the ones before it (a revision missing
    // after the fetch that recorded its text, a number used twice): the
    // article's record is not whole.
    if let Some((seq, reason)) = replay.anomalies.first() {
        return Ok(Err(Untrusted {
            seq: *seq,
            reason: format!("{reason} (the article's entries contradict each other)"),
        }));
    }
    fill_titles(conn, &mut replay);
    Ok(Ok(replay))
}

/// The stored state of one fetched URL, as a partial fold: the writer adds
/// the article ([`load_article`]), folds its new entries into it and saves
/// what changed.
pub fn load_fetch_state(conn: &Connection, requested_url: &str) -> rusqlite::Result<Replay> {
    let mut replay = Replay::default();
    load_fetch_states(conn, Some(requested_url), &mut replay)?;
    Ok(replay)
}

/// Adds one fetched URL's state to a partial fold.
pub fn load_fetch_state_into(
    conn: &Connection,
    requested_url: &str,
    into: &mut Replay,
) -> rusqlite::Result<()> {
    load_fetch_states(conn, Some(requested_url), into)
}

/// Adds one article's row and revisions to a partial fold.
pub fn load_article(conn: &Connection, url: &str, into: &mut Replay) -> rusqlite::Result<()> {
    load_articles(conn, Some(url), into)?;
    load_revisions(conn, Some(url), into)
}

pub(crate) fn change_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChangeRow> {
    Ok(ChangeRow {
        seq: r.get(0)?,
        kind: r.get(1)?,
        url: r.get(2)?,
        from_revision: r.get(3)?,
        to_revision: r.get(4)?,
        detected_at: r.get(5)?,
        fields_json: r.get(6)?,
        declared: r.get(7)?,
    })
}

/// The last entry the derived tables include (0 before any, or when the
/// table or its row is missing or not a number).
pub fn through_seq(conn: &Connection) -> rusqlite::Result<i64> {
    if !table_exists(conn, "derived_state")? {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE((SELECT through_seq FROM derived_state WHERE id = 1
                          AND typeof(through_seq) = 'integer'), 0)",
        [],
        |r| r.get(0),
    )
}

/// The furthest entry any derived row cites, when it is beyond `head`: the
/// derived tables remember entries the chain no longer has (its end was
/// cut). Looks at every table that records a seq (`derived_state`,
/// `revisions`, `changes`, `fetch_state`); a missing table or a value that
/// is not a number is no evidence either way.
pub fn cited_beyond(conn: &Connection, head: i64) -> rusqlite::Result<Option<(&'static str, i64)>> {
    let mut best: Option<(&'static str, i64)> = None;
    for (table, column) in [
        ("derived_state", "through_seq"),
        ("revisions", "seq"),
        ("changes", "seq"),
        ("fetch_state", "last_seq"),
    ] {
        if !table_exists(conn, table)? {
            continue;
        }
        let max: Option<i64> = conn
            .query_row(
                &format!("SELECT MAX({column}) FROM {table} WHERE typeof({column}) = 'integer'"),
                [],
                |r| r.get(0),
            )
            .unwrap_or(None);
        if let Some(m) = max.filter(|m| *m > head && best.is_none_or(|b| *m > b.1)) {
            best = Some((table, m));
        }
    }
    Ok(best)
}

/// `SQL` for every row, or with `WHERE url = ?1` for one key. (One query
/// with `?1 IS NULL OR url = ?1` cannot use the primary key: every fetch
/// scanned whole tables.)
fn keyed(sql: &str, url: Option<&str>) -> String {
    match url {
        Some(_) => format!("{sql} WHERE url = ?1"),
        None => sql.to_string(),
    }
}

// The binding is needed: the rows borrow `stmt`, which must outlive them.
#[allow(clippy::let_and_return)]
fn rows_of<T>(
    conn: &Connection,
    sql: &str,
    url: Option<&str>,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(&keyed(sql, url))?;
    let rows = match url {
        Some(u) => stmt.query_map([u], f)?.collect(),
        None => stmt.query_map([], f)?.collect(),
    };
    rows
}

/// A derived table as it is read (`load_*`, `compare_with_tables`) and
/// written (`save`): its key columns, then the others, in the order of its
/// row type's fields. Both statements are made from this one list, once.
pub(crate) struct Table {
    name: &'static str,
    key: &'static [&'static str],
    rest: &'static [&'static str],
    sql: OnceLock<(String, String)>,
}

impl Table {
    const fn new(
        name: &'static str,
        key: &'static [&'static str],
        rest: &'static [&'static str],
    ) -> Table {
        Table {
            name,
            key,
            rest,
            sql: OnceLock::new(),
        }
    }

    fn sql(&self) -> &(String, String) {
        self.sql.get_or_init(|| {
            let columns = [self.key, self.rest].concat();
            let values: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            let set: Vec<String> = self
                .rest
                .iter()
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            (
                format!("SELECT {} FROM {}", columns.join(", "), self.name),
                // Updated where it is: `INSERT OR REPLACE` deletes the row
                // and inserts it again, which rewrites a leaf of the
                // table's key index on every fetch: with random URLs that
                // was most of what a not-modified re-fetch wrote to disk
                // (BENCHMARKS).
                format!(
                    "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
                    self.name,
                    columns.join(", "),
                    values.join(", "),
                    self.key.join(", "),
                    set.join(", ")
                ),
            )
        })
    }

    /// Every row, every column.
    pub(crate) fn select(&self) -> &str {
        &self.sql().0
    }

    /// One row inserted, or updated in place (`INSERT .. ON CONFLICT DO
    /// UPDATE`).
    fn upsert(&self) -> &str {
        &self.sql().1
    }
}

pub(crate) static ARTICLES: Table = Table::new(
    "articles",
    &["url"],
    &[
        "source",
        "fetch_url",
        "revision",
        "max_revision",
        "content_hash",
        "field_hashes",
        "text_blob",
        "raw_blob",
        "extractor",
        "first_seen",
        "last_seen",
        "gone_at",
    ],
);
pub(crate) static REVISIONS: Table = Table::new(
    "revisions",
    &["url", "revision"],
    &[
        "change",
        "content_hash",
        "title",
        "first_seen",
        "last_seen",
        "words_added",
        "words_removed",
        "text_blob",
        "raw_blob",
        "extractor",
        "seq",
    ],
);
pub(crate) static FETCH_STATE: Table = Table::new(
    "fetch_state",
    &["url"],
    &[
        "source",
        "article_url",
        "etag",
        "last_modified",
        "last_fetch_at",
        "last_outcome",
        "last_status",
        "last_seq",
    ],
);
pub(crate) static CHANGES: Table = Table::new(
    "changes",
    &["seq", "kind"],
    &[
        "url",
        "from_revision",
        "to_revision",
        "detected_at",
        "fields_json",
        "declared",
    ],
);

fn load_articles(conn: &Connection, url: Option<&str>, out: &mut Replay) -> rusqlite::Result<()> {
    for r in rows_of(conn, ARTICLES.select(), url, article_row)? {
        out.articles.insert(r.url.clone(), r);
    }
    Ok(())
}

fn load_revisions(conn: &Connection, url: Option<&str>, out: &mut Replay) -> rusqlite::Result<()> {
    for r in rows_of(conn, REVISIONS.select(), url, revision_row)? {
        out.revisions.insert((r.url.clone(), r.revision), r);
    }
    Ok(())
}

fn load_fetch_states(
    conn: &Connection,
    url: Option<&str>,
    out: &mut Replay,
) -> rusqlite::Result<()> {
    for r in rows_of(conn, FETCH_STATE.select(), url, fetch_state_row)? {
        out.fetch_state.insert(r.url.clone(), r);
    }
    Ok(())
}

pub(crate) fn article_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ArticleRow> {
    Ok(ArticleRow {
        url: r.get(0)?,
        source: r.get(1)?,
        fetch_url: r.get(2)?,
        revision: r.get(3)?,
        max_revision: r.get(4)?,
        content_hash: r.get(5)?,
        field_hashes: r.get(6)?,
        text_blob: r.get(7)?,
        raw_blob: r.get(8)?,
        extractor: r.get(9)?,
        first_seen: r.get(10)?,
        last_seen: r.get(11)?,
        gone_at: r.get(12)?,
    })
}

pub(crate) fn revision_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RevisionRow> {
    Ok(RevisionRow {
        url: r.get(0)?,
        revision: r.get(1)?,
        change: r.get(2)?,
        content_hash: r.get(3)?,
        title: r.get(4)?,
        first_seen: r.get(5)?,
        last_seen: r.get(6)?,
        words_added: r.get(7)?,
        words_removed: r.get(8)?,
        text_blob: r.get(9)?,
        raw_blob: r.get(10)?,
        extractor: r.get(11)?,
        seq: r.get(12)?,
    })
}

pub(crate) fn fetch_state_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FetchStateRow> {
    Ok(FetchStateRow {
        url: r.get(0)?,
        source: r.get(1)?,
        article_url: r.get(2)?,
        etag: r.get(3)?,
        last_modified: r.get(4)?,
        last_fetch_at: r.get(5)?,
        last_outcome: r.get(6)?,
        last_status: r.get(7)?,
        last_seq: r.get(8)?,
    })
}

/// Writes the rows of `after` that differ from `before` (the same fold
/// before the new entries): an unchanged fetch rewrites
/// one article row, one revision row and one fetch-state row, not the
/// article's whole history.
pub fn save_changed(tx: &Transaction<'_>, before: &Replay, after: &Replay) -> rusqlite::Result<()> {
    fn changed<K: Ord + Clone, V: Clone + PartialEq>(
        before: &std::collections::BTreeMap<K, V>,
        after: &std::collections::BTreeMap<K, V>,
    ) -> std::collections::BTreeMap<K, V> {
        after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    let delta = Replay {
        articles: changed(&before.articles, &after.articles),
        revisions: changed(&before.revisions, &after.revisions),
        changes: changed(&before.changes, &after.changes),
        fetch_state: changed(&before.fetch_state, &after.fetch_state),
        ..Replay::default()
    };
    save(tx, &delta)
}

/// Writes every row the fold holds (inserted, or updated in place). Its
/// position (`through_seq`) is kept by `append`, and by `rebuild` for a
/// whole fold.
pub fn save(tx: &Transaction<'_>, replay: &Replay) -> rusqlite::Result<()> {
    let mut art = tx.prepare_cached(ARTICLES.upsert())?;
    for a in replay.articles.values() {
        art.execute(params![
            a.url,
            a.source,
            a.fetch_url,
            a.revision,
            a.max_revision,
            a.content_hash,
            a.field_hashes,
            a.text_blob,
            a.raw_blob,
            a.extractor,
            a.first_seen,
            a.last_seen,
            a.gone_at
        ])?;
    }
    let mut rev = tx.prepare_cached(REVISIONS.upsert())?;
    for r in replay.revisions.values() {
        rev.execute(params![
            r.url,
            r.revision,
            r.change,
            r.content_hash,
            r.title,
            r.first_seen,
            r.last_seen,
            r.words_added,
            r.words_removed,
            r.text_blob,
            r.raw_blob,
            r.extractor,
            r.seq
        ])?;
    }
    let mut chg = tx.prepare_cached(CHANGES.upsert())?;
    for c in replay.changes.values() {
        chg.execute(params![
            c.seq,
            c.kind,
            c.url,
            c.from_revision,
            c.to_revision,
            c.detected_at,
            c.fields_json,
            c.declared
        ])?;
    }
    let mut fs = tx.prepare_cached(FETCH_STATE.upsert())?;
    for f in replay.fetch_state.values() {
        fs.execute(params![
            f.url,
            f.source,
            f.article_url,
            f.etag,
            f.last_modified,
            f.last_fetch_at,
            f.last_outcome,
            f.last_status,
            f.last_seq
        ])?;
    }
    Ok(())
}

pub fn set_through_seq(conn: &Connection, seq: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO derived_state (id, through_seq) VALUES (1, ?1)
         ON CONFLICT(id) DO UPDATE SET through_seq = excluded.through_seq",
    )?
    .execute([seq])?;
    Ok(())
}

/// Recomputes every derived table from the chain, inside the caller's
/// transaction. Returns the fold (its anomalies are for the caller to report).
pub fn rebuild(tx: &Transaction<'_>) -> rusqlite::Result<Replay> {
    let replay = replay_all(tx, false)?;
    if damaged_tables(tx)?.is_empty() {
        tx.execute_batch(
            "DELETE FROM articles; DELETE FROM revisions; DELETE FROM changes; DELETE FROM fetch_state;",
        )?;
    } else {
        // The tree nodes are refilled by the caller (`merkle::store::rebuild`).
        recreate_tables(tx)?;
    }
    save(tx, &replay)?;
    set_through_seq(tx, replay.through_seq)?;
    Ok(replay)
}

//! Lists that page: `articles`, `changes` (and the Atom feed, the web
//! front page) and the articles per source, newest first, proposed by the
//! chain's own indexes (migration 12) and shown as the articles' entries
//! fold.
//!
//! An index over the ledger's rows is kept by SQLite with those rows: a
//! proposal cannot be forged apart from the entries it names, unlike a row
//! of a derived table. Every row a page shows is folded from its article's
//! entries, each checked against its hash and the entry before it
//! ([`super::read::article`]); a proposal the fold does not confirm is left
//! out. A page costs one pass over an index (the articles' URLs, or the
//! events since a time) and the folds of the rows it shows, not a fold of
//! every article: at 100,000 articles, tens of milliseconds (BENCHMARKS.md).

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension};

use super::LedgerError;
use super::read::{ArticleListRow, ChangeRow, ChangeView, ChangeViews, SourceStatus, Status};
use crate::diff::significance::Level;

fn sqlite(source: rusqlite::Error) -> LedgerError {
    LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    }
}

/// The condition of the partial index `ledger_events`, as its migration
/// states it (the planner uses a partial index only for a query that
/// states its condition; `the_event_index_answers_the_lists` checks both
/// agree): every entry a change list shows. Restorations are found by the
/// `restored` flag the writer puts in the fetch (since 2026-11-22); one
/// recorded before it is shown by `history`, not listed.
const EVENTS_WHERE: &str = "url IS NOT NULL AND (kind = 'gone'
     OR (kind = 'revision' AND instr(payload, '\"change\":\"rebaseline\"') = 0)
     OR (kind = 'fetch' AND (instr(payload, '\"reverted_to\":') > 0 OR instr(payload, '\"restored\":true') > 0)))";

/// The event's kind as the fold names it, an indexed column of
/// `ledger_events` ("restored reverted": a fetch that did both).
const EVENT_KIND: &str = "(CASE kind
        WHEN 'revision' THEN
            COALESCE(CASE WHEN json_valid(payload) THEN json_extract(payload, '$.change') END, 'changed')
        WHEN 'gone' THEN 'gone'
        ELSE trim(
            CASE WHEN instr(payload, '\"restored\":true') > 0 THEN 'restored' ELSE '' END || ' ' ||
            CASE WHEN instr(payload, '\"reverted_to\":') > 0 THEN 'reverted' ELSE '' END) END)";

/// The source a revision entry names, an indexed column of
/// `ledger_revision_source`.
const REVISION_SOURCE: &str =
    "(CASE WHEN json_valid(payload) THEN json_extract(payload, '$.source') END)";

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub rows: Vec<T>,
    /// Rows in the whole list, when known without folding them all.
    pub total: Option<usize>,
    /// A row follows the page.
    pub more: bool,
}

/// An article as the index proposes it: its URL, its latest revision
/// entry, how many revisions it has and the source its latest revision
/// was fetched for.
struct Proposed {
    url: String,
    last: i64,
    revisions: i64,
    source: Option<String>,
}

/// Every article (a URL with a revision entry), the most recently revised
/// first; with `sources`, the source of each (a revision written before
/// schema 12 does not name it: the fetch entry it names is read for it).
fn proposed_articles(conn: &Connection, sources: bool) -> Result<Vec<Proposed>, LedgerError> {
    let mut out = if sources {
        // One walk of `ledger_revision_source` (the planner prefers the URL
        // index, which would read every revision's payload for the source).
        let hint = indexed_by(conn, "ledger_revision_source")?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT url, seq, {REVISION_SOURCE} FROM ledger {hint}
                 WHERE kind = 'revision' AND url IS NOT NULL"
            ))
            .map_err(sqlite)?;
        // The index holds an article's revisions side by side (by URL).
        let mut rows = stmt.query([]).map_err(sqlite)?;
        let mut out: Vec<Proposed> = Vec::new();
        while let Some(r) = rows.next().map_err(sqlite)? {
            let url = r
                .get_ref(0)
                .map_err(sqlite)?
                .as_str()
                .map_err(|e| sqlite(e.into()))?;
            let (seq, source): (i64, Option<String>) =
                (r.get(1).map_err(sqlite)?, r.get(2).map_err(sqlite)?);
            match out.last_mut() {
                Some(p) if p.url == url => {
                    p.revisions += 1;
                    if seq >= p.last {
                        p.last = seq;
                        p.source = source;
                    }
                }
                _ => out.push(Proposed {
                    url: url.to_string(),
                    last: seq,
                    revisions: 1,
                    source,
                }),
            }
        }
        let mut named = conn
            .prepare_cached(
                "SELECT json_extract(f.payload, '$.source') FROM ledger r
                 JOIN ledger f ON f.seq = json_extract(r.payload, '$.fetch_seq')
                 WHERE r.seq = ?1 AND json_valid(r.payload) AND json_valid(f.payload)",
            )
            .map_err(sqlite)?;
        for p in out.iter_mut().filter(|p| p.source.is_none()) {
            p.source = named
                .query_row([p.last], |r| r.get(0))
                .optional()
                .map_err(sqlite)?
                .flatten();
        }
        out
    } else {
        let mut stmt = conn
            .prepare_cached(
                "SELECT url, MAX(seq), COUNT(*) FROM ledger
                 WHERE kind = 'revision' AND url IS NOT NULL GROUP BY url",
            )
            .map_err(sqlite)?;
        stmt.query_map([], |r| {
            Ok(Proposed {
                url: r.get(0)?,
                last: r.get(1)?,
                revisions: r.get(2)?,
                source: None,
            })
        })
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?
    };
    out.sort_by_key(|p| std::cmp::Reverse(p.last));
    Ok(out)
}

/// `INDEXED BY name` while the index exists (the planner, without
/// statistics, may prefer the URL index, which reads every payload), else
/// nothing: a ledger opened read-only before migration 12 is scanned.
fn indexed_by(conn: &Connection, name: &str) -> Result<String, LedgerError> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1")
        .and_then(|mut s| s.exists([name]))
        .map_err(sqlite)?;
    Ok(if exists {
        format!("INDEXED BY {name}")
    } else {
        String::new()
    })
}

/// The articles gone now: their latest gone entry follows their latest
/// restoring fetch (both from the indexes), or, for those with a
/// restoration the index may not know ([`unflagged`]), their fold says so.
fn gone_now(conn: &Connection) -> Result<HashSet<String>, LedgerError> {
    let mut restored: HashMap<String, i64> = HashMap::new();
    // Read row by row: SQLite computes a grouped expression again from the
    // payload, but reads a selected one from the index.
    let events = indexed_by(conn, "ledger_events")?;
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT url, seq, {EVENT_KIND} FROM ledger {events} WHERE {EVENTS_WHERE}"
        ))
        .map_err(sqlite)?;
    let mut rows = stmt.query([]).map_err(sqlite)?;
    while let Some(r) = rows.next().map_err(sqlite)? {
        let kinds = r
            .get_ref(2)
            .map_err(sqlite)?
            .as_str()
            .map_err(|e| sqlite(e.into()))?;
        if kinds.starts_with("restored") {
            let (url, seq): (String, i64) = (r.get(0).map_err(sqlite)?, r.get(1).map_err(sqlite)?);
            let last = restored.entry(url).or_insert(seq);
            *last = (*last).max(seq);
        }
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT url, MAX(seq) FROM ledger WHERE kind = 'gone' AND url IS NOT NULL GROUP BY url",
        )
        .map_err(sqlite)?;
    let mut rows = stmt.query([]).map_err(sqlite)?;
    let mut gone = HashSet::new();
    while let Some(r) = rows.next().map_err(sqlite)? {
        let (url, seq): (String, i64) = (r.get(0).map_err(sqlite)?, r.get(1).map_err(sqlite)?);
        if restored.get(&url).is_none_or(|r| *r < seq) {
            gone.insert(url);
        }
    }
    for url in unflagged(conn)? {
        let row = super::read::article(conn, &url)?.list_row();
        if row.is_some_and(|r| r.status == "gone") {
            gone.insert(url);
        } else {
            gone.remove(&url);
        }
    }
    Ok(gone)
}

/// Articles a restoration of which the event index may not know: a full
/// fetch that saw the page after one of its gone entries without the
/// `restored` flag (a writer before 2026-11-22 wrote none; a later edit of a
/// restored page is one too, and costs only a fold). Their status and their
/// restorations are read from their fold.
fn unflagged(conn: &Connection) -> Result<Vec<String>, LedgerError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT g.url FROM (SELECT url, MIN(seq) AS first FROM ledger
                                WHERE kind = 'gone' AND url IS NOT NULL GROUP BY url) g
             WHERE EXISTS (SELECT 1 FROM ledger f WHERE f.url = g.url AND f.seq > g.first
                 AND f.kind = 'fetch' AND instr(f.payload, '\"restored\":true') = 0
                 AND (instr(f.payload, '\"outcome\":\"unchanged\"') > 0
                      OR instr(f.payload, '\"outcome\":\"changed\"') > 0
                      OR instr(f.payload, '\"outcome\":\"not_modified\"') > 0))",
        )
        .map_err(sqlite)?;
    stmt.query_map([], |r| r.get(0))
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)
}

/// The articles per source (each counted under the source its latest
/// revision was fetched for).
pub fn articles_by_source(conn: &Connection) -> Result<HashMap<String, i64>, LedgerError> {
    let mut counts = HashMap::new();
    for p in proposed_articles(conn, true)? {
        *counts.entry(p.source.unwrap_or_default()).or_insert(0) += 1;
    }
    Ok(counts)
}

/// Per source: its cycles (operational state, `source_state`) and how many
/// articles the chain records for it ([`articles_by_source`]); the
/// ledger's head.
pub fn status(conn: &Connection, path: &std::path::Path) -> Result<Status, LedgerError> {
    let counts = articles_by_source(conn)?;
    let mut status = super::read::cycles(conn, path)?;
    for s in &mut status.sources {
        s.articles = counts.get(s.name.as_str()).copied().unwrap_or(0);
    }
    // A source the chain has articles of is listed even without cycle state.
    let mut missing: Vec<(&String, &i64)> = counts
        .iter()
        .filter(|(name, _)| !status.sources.iter().any(|s| &s.name == *name))
        .collect();
    missing.sort();
    for (name, articles) in missing {
        status.sources.push(SourceStatus {
            name: name.clone(),
            last_cycle_at: None,
            next_run_at: None,
            counts: serde_json::Value::Null,
            last_error: None,
            articles: *articles,
        });
    }
    status.sources.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(status)
}

/// What `articles` lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArticleQuery<'a> {
    pub source: Option<&'a str>,
    /// `changed`, `unchanged` or `gone`.
    pub status: Option<&'a str>,
}

/// A page of articles, the most recently revised first (a new article
/// or a new revision puts it on top), with the number that match. An
/// article's status is proposed by the indexes (gone: its latest gone entry
/// follows its latest restoring fetch; else changed with more than one
/// revision) and its source by its latest revision; each row shown is its
/// fold, and one the fold does not confirm in the filter is left out.
pub fn articles_page(
    conn: &Connection,
    q: ArticleQuery<'_>,
    offset: usize,
    limit: usize,
) -> Result<Listed<ArticleListRow>, LedgerError> {
    let snapshot = conn.unchecked_transaction().map_err(sqlite)?;
    let conn = &*snapshot;
    let gone = match q.status {
        Some(_) => gone_now(conn)?,
        None => HashSet::new(),
    };
    let matching: Vec<String> = proposed_articles(conn, q.source.is_some())?
        .into_iter()
        .filter(|p| {
            let status = if gone.contains(&p.url) {
                "gone"
            } else if p.revisions > 1 {
                "changed"
            } else {
                "unchanged"
            };
            q.status.is_none_or(|s| s == status)
                && q.source.is_none_or(|s| Some(s) == p.source.as_deref())
        })
        .map(|p| p.url)
        .collect();
    let total = matching.len();
    let mut rows = Vec::new();
    for url in matching.iter().skip(offset).take(limit) {
        let Some(row) = super::read::article(conn, url)?.list_row() else {
            continue;
        };
        if q.status.is_some_and(|s| s != row.status) || q.source.is_some_and(|s| s != row.source) {
            continue; // the index proposed it; the chain does not confirm it
        }
        rows.push(row);
    }
    Ok(Listed {
        rows,
        total: Some(total),
        more: offset.saturating_add(limit) < total,
    })
}

/// What `changes` lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChangeQuery<'a> {
    /// Detected at or after this time (RFC 3339, as entries record it).
    pub since: Option<&'a str>,
    /// Only these kinds (all when empty).
    pub kinds: &'a [&'a str],
    pub source: Option<&'a str>,
    /// Only changes at least this significant (an edit with a level).
    pub significance: Option<Level>,
}

/// A page of changes, newest first, each read with its substance from its
/// two revisions ([`ChangeView`]). Without a filter but `since`, the total
/// is counted from the index and the rows before the page are skipped
/// unread; with one, candidates are read in order until the page is full,
/// and the total is not known.
pub fn changes_page(
    conn: &Connection,
    q: ChangeQuery<'_>,
    offset: usize,
    limit: usize,
) -> Result<Listed<ChangeView>, LedgerError> {
    walk_changes(conn, q, offset, limit, |views, event| {
        let view = views.view(event)?;
        Ok(match q.significance {
            Some(min) if view.significance.as_ref().is_none_or(|s| s.level < min) => None,
            _ => Some(view),
        })
    })
}

/// A page of changes as the chain's fold gives them, each with the
/// article's current headline (what the Atom feed shows): no revision text
/// is read.
pub fn change_rows(
    conn: &Connection,
    q: ChangeQuery<'_>,
    limit: usize,
) -> Result<Vec<(ChangeRow, Option<String>)>, LedgerError> {
    let q = ChangeQuery {
        significance: None,
        ..q
    };
    let listed = walk_changes(conn, q, 0, limit, |views, event| {
        let title = views.record(&event.url)?.list_row().and_then(|r| r.title);
        Ok(Some((event, title)))
    })?;
    Ok(listed.rows)
}

/// The changes `q` asks for, newest first, each confirmed by its article's
/// fold and made into a row by `make` (`None`: it does not belong on the
/// page), after skipping `offset` and up to `limit`. The index gives each
/// event's kind and the proposals each article's source, so the rows those
/// filters leave, and those before the page, are known without a fold; only
/// a significance filter (`q.significance`) needs `make` on every candidate.
fn walk_changes<T>(
    conn: &Connection,
    q: ChangeQuery<'_>,
    offset: usize,
    limit: usize,
    mut make: impl FnMut(&mut ChangeViews<'_>, ChangeRow) -> Result<Option<T>, LedgerError>,
) -> Result<Listed<T>, LedgerError> {
    let snapshot = conn.unchecked_transaction().map_err(sqlite)?;
    let conn = &*snapshot;
    let since = q.since.unwrap_or("");
    let mut records = ChangeViews::new(conn);
    let sources: Option<HashMap<String, Option<String>>> = match q.source {
        Some(_) => Some(
            proposed_articles(conn, true)?
                .into_iter()
                .map(|p| (p.url, p.source))
                .collect(),
        ),
        None => None,
    };
    let wanted = |kind: &str| q.kinds.is_empty() || q.kinds.contains(&kind);
    // Restorations the index does not flag, from their articles' folds;
    // the newest last (taken from the end).
    let mut extra: Vec<(i64, String)> = Vec::new();
    let mut flagged = conn
        .prepare_cached("SELECT instr(payload, '\"restored\":true') > 0 FROM ledger WHERE seq = ?1")
        .map_err(sqlite)?;
    for url in unflagged(conn)? {
        for e in records.record(&url)?.events() {
            if e.kind == "restored"
                && e.detected_at.as_str() >= since
                && !flagged
                    .query_row([e.seq], |r| r.get::<_, bool>(0))
                    .optional()
                    .map_err(sqlite)?
                    .unwrap_or(false)
            {
                extra.push((e.seq, url.clone()));
            }
        }
    }
    extra.sort();
    let events = indexed_by(conn, "ledger_events")?;
    let total = match (q.significance, q.source) {
        (None, None) => {
            // Counted row by row: SQLite computes a grouped expression again
            // from the payload, but reads a selected one from the index.
            let mut count = 0usize;
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {EVENT_KIND} FROM ledger {events}
                     WHERE {EVENTS_WHERE} AND recorded_at >= ?1"
                ))
                .map_err(sqlite)?;
            let mut rows = stmt.query([since]).map_err(sqlite)?;
            while let Some(r) = rows.next().map_err(sqlite)? {
                let kinds = r
                    .get_ref(0)
                    .map_err(sqlite)?
                    .as_str()
                    .map_err(|e| sqlite(e.into()))?;
                count += kinds.split(' ').filter(|k| wanted(k)).count();
            }
            if wanted("restored") {
                count += extra.len();
            }
            Some(count)
        }
        _ => None,
    };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT seq, url, {EVENT_KIND} FROM ledger {events}
             WHERE {EVENTS_WHERE} AND recorded_at >= ?1 ORDER BY seq DESC"
        ))
        .map_err(sqlite)?;
    let mut candidates = stmt.query([since]).map_err(sqlite)?;
    let next_candidate = |rows: &mut rusqlite::Rows<'_>| -> Result<_, LedgerError> {
        rows.next()
            .map_err(sqlite)?
            .map(|r| -> rusqlite::Result<(i64, String, String)> {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .transpose()
            .map_err(sqlite)
    };
    let mut pending = next_candidate(&mut candidates)?;
    let mut skipped = 0usize;
    let mut out = Vec::new();
    loop {
        // The next events, newest first: an unflagged restoration, or the
        // index's next entry (a fetch that restored and reverted a page:
        // restored first).
        let take_extra = match (extra.last(), &pending) {
            (Some((e, _)), Some((s, ..))) => e >= s,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let batch: Vec<(i64, String, String)> = if take_extra {
            extra
                .pop()
                .map(|(seq, url)| (seq, url, "restored".to_string()))
                .into_iter()
                .collect()
        } else if let Some((seq, url, kinds)) = pending.take() {
            pending = next_candidate(&mut candidates)?;
            kinds
                .split(' ')
                .map(|k| (seq, url.clone(), k.to_string()))
                .collect()
        } else {
            break;
        };
        for (seq, url, kind) in batch {
            if !wanted(&kind) {
                continue;
            }
            if let (Some(want), Some(sources)) = (q.source, &sources)
                && sources.get(&url).and_then(Option::as_deref) != Some(want)
            {
                continue;
            }
            if q.significance.is_none() && skipped < offset {
                skipped += 1;
                continue;
            }
            let event: Option<ChangeRow> = records
                .record(&url)?
                .events()
                .into_iter()
                .find(|e| e.seq == seq && e.kind == kind);
            let Some(event) = event else {
                continue; // the index proposed it; the chain does not confirm it
            };
            if out.len() == limit {
                // One confirmed row beyond the page: a next page exists
                // (with a significance filter, known only once it passes).
                if q.significance.is_none() {
                    return Ok(Listed {
                        rows: out,
                        total,
                        more: true,
                    });
                }
            }
            let Some(row) = make(&mut records, event)? else {
                continue;
            };
            if q.significance.is_some() && skipped < offset {
                skipped += 1;
                continue;
            }
            if out.len() == limit {
                return Ok(Listed {
                    rows: out,
                    total,
                    more: true,
                });
            }
            out.push(row);
        }
    }
    Ok(Listed {
        rows: out,
        total,
        more: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words of an SQL text, for comparing it with a migration's.
    fn words(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The lists' queries walk their indexes, not the ledger.
    #[test]
    fn the_event_index_answers_the_lists() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::ledger::open_writable(&dir.path().join("l.db")).unwrap();
        for (query, index) in [
            (
                format!(
                    "SELECT seq, url, {EVENT_KIND} FROM ledger
                     WHERE {EVENTS_WHERE} AND recorded_at >= '' ORDER BY seq DESC"
                ),
                "ledger_events",
            ),
            (
                format!(
                    "SELECT {EVENT_KIND} FROM ledger INDEXED BY ledger_events
                     WHERE {EVENTS_WHERE} AND recorded_at >= ''"
                ),
                "ledger_events",
            ),
            (
                format!(
                    "SELECT url, seq, {REVISION_SOURCE} FROM ledger INDEXED BY ledger_revision_source
                     WHERE kind = 'revision' AND url IS NOT NULL"
                ),
                "ledger_revision_source",
            ),
            (
                format!(
                    "SELECT url, seq, {EVENT_KIND} FROM ledger INDEXED BY ledger_events
                     WHERE {EVENTS_WHERE}"
                ),
                "ledger_events",
            ),
            (
                "SELECT url, MAX(seq) FROM ledger WHERE kind = 'gone' AND url IS NOT NULL GROUP BY url"
                    .to_string(),
                "ledger_gone",
            ),
            (
                "SELECT DISTINCT json_extract(payload, '$.name') FROM ledger
                 WHERE kind = 'source' AND json_valid(payload) ORDER BY 1"
                    .to_string(),
                "ledger_sources",
            ),
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().any(|p| p.contains(&format!("INDEX {index}"))),
                "{query}: {plan:?}"
            );
        }
    }

    #[test]
    fn the_queries_state_the_indexes_as_their_migration_does() {
        let migration = words(include_str!("../../migrations/0012_ledger_events.sql"));
        let condition = words(EVENTS_WHERE);
        assert!(migration.contains(&format!("WHERE {condition};")));
        for column in [EVENT_KIND, REVISION_SOURCE] {
            let column = words(column);
            assert!(migration.contains(&column), "{column} not in migration 12");
        }
    }
}

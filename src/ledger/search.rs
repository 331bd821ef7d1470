//! Full-text search over every revision's text: an SQLite FTS5 index in its
//! own file beside the ledger (`LEDGER.search`), derived from the chain,
//! brought up to date by `search` itself and safe to delete at any time
//! (it is rebuilt; where the directory is read-only it is built in memory).
//! The index only proposes articles: every hit is confirmed against the
//! revision texts replayed from the chain before it is shown.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use super::{LedgerError, blobs, read};

fn sqlite(source: rusqlite::Error) -> LedgerError {
    LedgerError::Sqlite {
        path: "search index".into(),
        source,
    }
}

/// Where a phrase appeared in one article's history.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub url: String,
    pub title: Option<String>,
    /// The first revision whose text contains the phrase.
    pub first_revision: i64,
    /// When the page was first seen showing it.
    pub first_seen: String,
    /// When the page was last seen showing it.
    pub last_seen: String,
    /// The revision that removed it (after its last appearance), if any.
    pub removed_in: Option<i64>,
    pub removed_at: Option<String>,
    /// Whether the page shows it now.
    pub present: bool,
    /// Every revision whose text contains it.
    pub revisions: Vec<i64>,
}

/// Lower-cased word tokens (letters and digits), as FTS5's unicode61 does.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn contains_phrase(text: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && text.windows(phrase.len()).any(|w| w == phrase)
}

fn index_path(ledger: &Path) -> PathBuf {
    PathBuf::from(format!("{}.search", ledger.display()))
}

/// Opens the index (creating it, or in memory when it cannot be created)
/// and indexes the revisions appended since it was last brought up to date.
fn open_index(conn: &Connection, ledger: &Path) -> Result<Connection, LedgerError> {
    let idx = Connection::open(index_path(ledger))
        .and_then(|c| {
            // `serve` may bring the index up to date from two requests at once.
            c.busy_timeout(std::time::Duration::from_secs(10))?;
            c.execute_batch("PRAGMA journal_mode = WAL;")?;
            Ok(c)
        })
        .or_else(|_| Connection::open_in_memory())
        .map_err(sqlite)?;
    idx.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS texts USING fts5(url UNINDEXED, revision UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2');
         CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )
    .map_err(sqlite)?;
    // A different ledger at the same path (or a rewritten one) starts over.
    let genesis: Option<Vec<u8>> = conn
        .query_row("SELECT entry_hash FROM ledger WHERE seq = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sqlite)?;
    let genesis = hex::encode(genesis.unwrap_or_default());
    let meta = |k: &str| -> Result<Option<String>, LedgerError> {
        idx.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .optional()
            .map_err(sqlite)
    };
    if meta("genesis")?.as_deref() != Some(genesis.as_str()) {
        idx.execute_batch("DELETE FROM texts; DELETE FROM meta;")
            .map_err(sqlite)?;
    }
    let through: i64 = meta("through_seq")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let head: i64 = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM ledger", [], |r| r.get(0))
        .map_err(sqlite)?;
    if head < through {
        idx.execute_batch("DELETE FROM texts;").map_err(sqlite)?;
    }
    let from = if head < through { 0 } else { through };
    let tx = idx.unchecked_transaction().map_err(sqlite)?;
    let mut stmt = conn
        .prepare(
            "SELECT url, payload FROM ledger WHERE seq > ?1 AND kind = 'revision' ORDER BY seq",
        )
        .map_err(sqlite)?;
    let mut rows = stmt.query([from]).map_err(sqlite)?;
    while let Some(r) = rows.next().map_err(sqlite)? {
        let url: String = r.get(0).map_err(sqlite)?;
        let payload: String = r.get(1).map_err(sqlite)?;
        let p: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
        let (Some(rev), Some(blob)) = (
            p.get("revision").and_then(Value::as_i64),
            p.get("text_blob").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Ok(bytes) = blobs::get(conn, blob) else {
            continue;
        };
        let article: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let s = |k: &str| article.get(k).and_then(Value::as_str).unwrap_or_default();
        tx.execute(
            "INSERT INTO texts (url, revision, body) VALUES (?1, ?2, ?3)",
            params![url, rev, format!("{}\n{}", s("title"), s("text"))],
        )
        .map_err(sqlite)?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('through_seq', ?1), ('genesis', ?2)",
        params![head.to_string(), genesis],
    )
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)?;
    Ok(idx)
}

/// Articles whose text contained `phrase` at some time, with where it
/// appeared and where it was removed, confirmed against the chain.
pub fn search(conn: &Connection, ledger: &Path, phrase: &str) -> Result<Vec<Hit>, LedgerError> {
    let wanted = words(phrase);
    if wanted.is_empty() {
        return Ok(vec![]);
    }
    let idx = open_index(conn, ledger)?;
    let query = format!("\"{}\"", wanted.join(" "));
    let mut stmt = idx
        .prepare("SELECT DISTINCT url FROM texts WHERE texts MATCH ?1")
        .map_err(sqlite)?;
    let urls = stmt
        .query_map([&query], |r| r.get::<_, String>(0))
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    let mut hits = Vec::new();
    for url in urls {
        let record = read::article(conn, &url)?;
        let mut texts: std::collections::HashMap<i64, (bool, Option<String>)> = Default::default();
        let history = record.history();
        for h in history.iter().filter(|h| h.kind != "gone") {
            if let std::collections::hash_map::Entry::Vacant(v) = texts.entry(h.revision)
                && let Some((_, a)) = record.revision(conn, Some(h.revision))?
            {
                let mut all = words(&a.title.clone().unwrap_or_default());
                all.extend(words(&a.text));
                v.insert((contains_phrase(&all, &wanted), a.title.clone()));
            }
        }
        let has = |rev: i64| texts.get(&rev).is_some_and(|t| t.0);
        let spans: Vec<_> = history.iter().filter(|h| h.kind != "gone").collect();
        let Some(first) = spans.iter().find(|h| has(h.revision)) else {
            continue; // the index proposed it; the chain does not confirm it
        };
        let last_i = spans.iter().rposition(|h| has(h.revision)).unwrap_or(0);
        let removed = spans.get(last_i + 1);
        let mut revisions: Vec<i64> = texts.iter().filter(|t| t.1.0).map(|t| *t.0).collect();
        revisions.sort_unstable();
        let current = record.current();
        hits.push(Hit {
            title: current
                .and_then(|c| texts.get(&c))
                .and_then(|t| t.1.clone()),
            url: url.clone(),
            first_revision: first.revision,
            first_seen: first.first_seen.clone(),
            last_seen: spans
                .get(last_i)
                .map(|h| h.last_seen.clone())
                .unwrap_or_default(),
            removed_in: removed.map(|h| h.revision),
            removed_at: removed.map(|h| h.first_seen.clone()),
            present: current.is_some_and(has) && history.last().is_some_and(|h| h.kind != "gone"),
            revisions,
        });
    }
    hits.sort_by(|a, b| b.first_seen.cmp(&a.first_seen));
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_whole_words_in_order() {
        let t = words("The minister said: \"We will not resign.\"");
        assert!(contains_phrase(&t, &words("will not RESIGN")));
        assert!(!contains_phrase(&t, &words("not will")));
        assert!(!contains_phrase(&t, &words("resig")));
        assert!(!contains_phrase(&t, &words("")));
    }
}

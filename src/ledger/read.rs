//! Queries behind the read commands. They run on read-only connections.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use super::{LedgerError, blobs};
use crate::extract::Article;

fn sqlite(source: rusqlite::Error) -> LedgerError {
    LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    }
}

/// Finds the article a user means: its canonical URL, or a URL it was fetched from.
pub fn resolve_article(conn: &Connection, input: &str) -> Result<Option<String>, LedgerError> {
    let normalized = crate::identity::normalize(input).unwrap_or_else(|| input.to_string());
    for candidate in [normalized.as_str(), input] {
        let found: Option<String> = conn
            .query_row(
                "SELECT url FROM articles WHERE url = ?1
                 UNION ALL SELECT article_url FROM fetch_state WHERE url = ?1 AND article_url IS NOT NULL
                 UNION ALL SELECT url FROM articles WHERE fetch_url = ?1
                 LIMIT 1",
                [candidate],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlite)?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub revision: i64,
    pub first_seen: String,
    pub last_seen: String,
    pub content_hash: String,
    pub title: Option<String>,
    pub words_added: i64,
    pub words_removed: i64,
    pub seq: i64,
}

/// An article's revisions, oldest first.
pub fn history(conn: &Connection, url: &str) -> Result<Vec<HistoryRow>, LedgerError> {
    let mut stmt = conn
        .prepare(
            "SELECT revision, first_seen, last_seen, content_hash, title, words_added, words_removed, seq
             FROM revisions WHERE url = ?1 ORDER BY revision",
        )
        .map_err(sqlite)?;
    let rows = stmt
        .query_map([url], |r| {
            Ok(HistoryRow {
                revision: r.get(0)?,
                first_seen: r.get(1)?,
                last_seen: r.get(2)?,
                content_hash: r.get(3)?,
                title: r.get(4)?,
                words_added: r.get(5)?,
                words_removed: r.get(6)?,
                seq: r.get(7)?,
            })
        })
        .map_err(sqlite)?;
    rows.collect::<Result<_, _>>().map_err(sqlite)
}

/// One revision's stored article (text and metadata) and its history row;
/// the current revision when `rev` is `None`.
pub fn revision(
    conn: &Connection,
    url: &str,
    rev: Option<i64>,
) -> Result<Option<(HistoryRow, Article)>, LedgerError> {
    let rows = history(conn, url)?;
    // Without --rev: the revision the page shows now (after a reversion
    // that is not the highest number).
    let current: Option<i64> = conn
        .query_row("SELECT revision FROM articles WHERE url = ?1", [url], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sqlite)?;
    let row = match rev.or(current) {
        Some(n) => rows.into_iter().find(|r| r.revision == n),
        None => rows.into_iter().last(),
    };
    let Some(row) = row else { return Ok(None) };
    let blob: String = conn
        .query_row(
            "SELECT text_blob FROM revisions WHERE url = ?1 AND revision = ?2",
            params![url, row.revision],
            |r| r.get(0),
        )
        .map_err(sqlite)?;
    let bytes = blobs::get(conn, &blob)?;
    let article: Article =
        serde_json::from_slice(&bytes).map_err(|e| LedgerError::CorruptBlob {
            hash: blob,
            reason: e.to_string(),
        })?;
    Ok(Some((row, article)))
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeRow {
    pub url: String,
    pub kind: String,
    pub from_revision: Option<i64>,
    pub to_revision: Option<i64>,
    pub detected_at: String,
    pub fields: Value,
    pub declared: bool,
    pub seq: i64,
}

/// Flagged changes and removals detected at or after `since`, newest first.
pub fn changes(conn: &Connection, since: Option<&str>) -> Result<Vec<ChangeRow>, LedgerError> {
    let mut stmt = conn
        .prepare(
            "SELECT url, kind, from_revision, to_revision, detected_at, fields_json, declared, seq
             FROM changes WHERE detected_at >= ?1 ORDER BY seq DESC",
        )
        .map_err(sqlite)?;
    let rows = stmt
        .query_map([since.unwrap_or("")], |r| {
            let fields: String = r.get(5)?;
            Ok(ChangeRow {
                url: r.get(0)?,
                kind: r.get(1)?,
                from_revision: r.get(2)?,
                to_revision: r.get(3)?,
                detected_at: r.get(4)?,
                fields: serde_json::from_str(&fields).unwrap_or(Value::Null),
                declared: r.get(6)?,
                seq: r.get(7)?,
            })
        })
        .map_err(sqlite)?;
    rows.collect::<Result<_, _>>().map_err(sqlite)
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    pub name: String,
    pub last_cycle_at: Option<String>,
    pub next_run_at: Option<String>,
    pub counts: Value,
    pub last_error: Option<String>,
    pub articles: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LedgerStatus {
    pub entries: i64,
    pub head_seq: i64,
    pub head_hash: String,
    pub bytes: u64,
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub sources: Vec<SourceStatus>,
    pub ledger: LedgerStatus,
}

pub fn status(conn: &Connection, path: &std::path::Path) -> Result<Status, LedgerError> {
    let mut stmt = conn
        .prepare(
            "SELECT s.name, s.last_cycle_at, s.next_run_at, s.counts_json, s.last_error,
                    (SELECT COUNT(*) FROM articles a WHERE a.source = s.name)
             FROM source_state s ORDER BY s.name",
        )
        .map_err(sqlite)?;
    let sources = stmt
        .query_map([], |r| {
            let counts: Option<String> = r.get(3)?;
            Ok(SourceStatus {
                name: r.get(0)?,
                last_cycle_at: r.get(1)?,
                next_run_at: r.get(2)?,
                counts: counts
                    .and_then(|c| serde_json::from_str(&c).ok())
                    .unwrap_or(Value::Null),
                last_error: r.get(4)?,
                articles: r.get(5)?,
            })
        })
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    let (head_seq, head_hash) = super::head(conn).map_err(sqlite)?.unwrap_or((0, vec![]));
    Ok(Status {
        sources,
        ledger: LedgerStatus {
            entries: head_seq,
            head_seq,
            head_hash: hex::encode(head_hash),
            bytes: super::size_on_disk(path),
            path: path.display().to_string(),
        },
    })
}

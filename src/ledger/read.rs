//! Queries behind the read commands. They run on read-only connections.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::derive::{self, Replay, RevisionRow};
use super::entry::Entry;
use super::{LedgerError, blobs};
use crate::extract::Article;

fn sqlite(source: rusqlite::Error) -> LedgerError {
    LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    }
}

/// Finds the article a user means: its URL (in any normalized form), or a
/// URL it was fetched from.
pub fn resolve_article(conn: &Connection, input: &str) -> Result<Option<String>, LedgerError> {
    let normalized = crate::identity::normalize(input).unwrap_or_else(|| input.to_string());
    for candidate in [normalized.as_str(), input] {
        let found: Option<String> = conn
            .query_row(
                "SELECT url FROM ledger WHERE url = ?1 AND kind = 'revision'
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

/// One article as the chain records it: its entries, each checked against
/// its hash and the entry before it, folded into revisions and a timeline.
pub struct ArticleRecord {
    pub url: String,
    replay: Replay,
}

/// Reads an article from the chain (never from the derived tables).
pub fn article(conn: &Connection, url: &str) -> Result<ArticleRecord, LedgerError> {
    let snapshot = conn.unchecked_transaction().map_err(sqlite)?;
    let replay = derive::store::replay_article(&snapshot, url)
        .map_err(sqlite)?
        .map_err(|u| LedgerError::Untrusted {
            seq: u.seq,
            reason: u.reason,
        })?;
    Ok(ArticleRecord {
        url: url.to_string(),
        replay,
    })
}

impl ArticleRecord {
    /// The revision the page showed at its last observation.
    pub fn current(&self) -> Option<i64> {
        self.replay.articles.get(&self.url).map(|a| a.revision)
    }

    /// The highest revision number.
    pub fn last(&self) -> Option<i64> {
        self.replay.articles.get(&self.url).map(|a| a.max_revision)
    }

    fn rev(&self, n: i64) -> Option<&RevisionRow> {
        self.replay.revisions.get(&(self.url.clone(), n))
    }

    /// The timeline, oldest first: one row per stretch during which the
    /// page showed one revision (or was gone). Rows never overlap.
    pub fn history(&self) -> Vec<HistoryRow> {
        let spans = self
            .replay
            .spans
            .get(&self.url)
            .cloned()
            .unwrap_or_default();
        spans
            .into_iter()
            .map(|s| {
                let rev = self.rev(s.revision);
                let opens_revision = rev.is_some_and(|r| r.seq == s.seq);
                HistoryRow {
                    revision: s.revision,
                    kind: s.kind,
                    first_seen: s.first_seen,
                    last_seen: s.last_seen,
                    content_hash: rev.map(|r| r.content_hash.clone()).unwrap_or_default(),
                    title: rev.and_then(|r| r.title.clone()),
                    words_added: if opens_revision {
                        rev.map_or(0, |r| r.words_added)
                    } else {
                        0
                    },
                    words_removed: if opens_revision {
                        rev.map_or(0, |r| r.words_removed)
                    } else {
                        0
                    },
                    seq: s.seq,
                    observations: s.observations,
                    failed: s.failed,
                    restored: s.restored,
                }
            })
            .collect()
    }

    /// One revision's stored article and its first span; the current
    /// revision when `rev` is `None`.
    pub fn revision(
        &self,
        conn: &Connection,
        rev: Option<i64>,
    ) -> Result<Option<(HistoryRow, Article)>, LedgerError> {
        let Some(n) = rev.or(self.current()) else {
            return Ok(None);
        };
        let Some(r) = self.rev(n) else {
            return Ok(None);
        };
        let mut row = self
            .history()
            .into_iter()
            .find(|h| h.revision == n && h.kind != "gone")
            .unwrap_or_default();
        row.last_seen = r.last_seen.clone();
        let bytes = blobs::get(conn, &r.text_blob)?;
        let article: Article =
            serde_json::from_slice(&bytes).map_err(|e| LedgerError::CorruptBlob {
                hash: r.text_blob.clone(),
                reason: e.to_string(),
            })?;
        Ok(Some((row, article)))
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HistoryRow {
    pub revision: i64,
    /// How the span began: new, changed, metadata, reverted, rebaseline,
    /// restored, or gone (the page answered 404/410).
    pub kind: String,
    pub first_seen: String,
    pub last_seen: String,
    pub content_hash: String,
    pub title: Option<String>,
    pub words_added: i64,
    pub words_removed: i64,
    pub seq: i64,
    /// Fetches that saw this span.
    pub observations: u64,
    /// Fetches during it that failed (gaps in the observation).
    pub failed: u64,
    /// It began when the page answered again after being gone.
    pub restored: bool,
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
/// Each row is checked against the chained entry it cites (its hash, its
/// link, and that the entry records this event); `verify` checks that no
/// row is missing.
pub fn changes(conn: &Connection, since: Option<&str>) -> Result<Vec<ChangeRow>, LedgerError> {
    let snapshot = conn.unchecked_transaction().map_err(sqlite)?;
    let conn = &*snapshot;
    let mut stmt = conn
        .prepare(
            "SELECT seq, kind, url, from_revision, to_revision, detected_at, fields_json, declared
             FROM changes WHERE detected_at >= ?1 ORDER BY seq DESC, kind",
        )
        .map_err(sqlite)?;
    let rows = stmt
        .query_map([since.unwrap_or("")], derive::store::change_row)
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    let mut entry = conn
        .prepare(&format!(
            "SELECT {} FROM ledger WHERE seq = ?1",
            Entry::COLUMNS
        ))
        .map_err(sqlite)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let e: Option<Entry> = entry
            .query_row([row.seq], Entry::from_row)
            .optional()
            .map_err(sqlite)?;
        let fault = match &e {
            Some(e) => e.fault_in(conn).map_err(sqlite)?,
            None => None,
        };
        if let Err(reason) = check_change(&row, e.as_ref(), fault) {
            return Err(LedgerError::Untrusted {
                seq: row.seq,
                reason: format!("the changes row ({}, {}) {reason}", row.kind, row.url),
            });
        }
        out.push(ChangeRow {
            url: row.url,
            kind: row.kind,
            from_revision: row.from_revision,
            to_revision: row.to_revision,
            detected_at: row.detected_at,
            fields: serde_json::from_str(&row.fields_json).unwrap_or(Value::Null),
            declared: row.declared,
            seq: row.seq,
        });
    }
    Ok(out)
}

/// Does the chained entry at the row's seq record this event?
fn check_change(
    row: &derive::ChangeRow,
    e: Option<&Entry>,
    fault: Option<&str>,
) -> Result<(), String> {
    let e = e.ok_or("cites an entry the ledger does not have")?;
    if let Some(fault) = fault {
        return Err(format!("cites an entry that does not verify: {fault}"));
    }
    if e.url.as_deref() != Some(row.url.as_str()) || e.recorded_at != row.detected_at {
        return Err("disagrees with the URL or time of the entry it cites".into());
    }
    let p: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
    let int = |k: &str| p.get(k).and_then(Value::as_i64);
    let ok = match (e.kind.as_str(), row.kind.as_str()) {
        ("revision", k) => {
            p.get("change").and_then(Value::as_str) == Some(k)
                && int("revision") == row.to_revision
                && p.get("declared").and_then(Value::as_bool).unwrap_or(false) == row.declared
        }
        ("gone", "gone") => int("last_revision") == row.from_revision,
        ("fetch", "reverted") => int("reverted_to") == row.to_revision,
        // Entries written before `restored` was recorded: a page seen again.
        ("fetch", "restored") => match p.get("restored") {
            Some(r) => r.as_bool() == Some(true),
            None => matches!(
                p.get("outcome").and_then(Value::as_str),
                Some("unchanged" | "not_modified" | "changed")
            ),
        },
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("is not what entry {} records", e.seq))
    }
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

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

    /// Revision `n` as the chain records it.
    pub fn revision_row(&self, n: i64) -> Option<&RevisionRow> {
        self.rev(n)
    }

    /// Every revision number, in order.
    pub fn revision_numbers(&self) -> Vec<i64> {
        self.replay
            .revisions
            .keys()
            .filter(|(u, _)| *u == self.url)
            .map(|(_, n)| *n)
            .collect()
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

    /// The latest change of the text: (revision before, revision after),
    /// from the timeline (a `changed` or `reverted` span and the content
    /// span before it); `None` while the text never changed.
    pub fn latest_content_change(&self) -> Option<(i64, i64)> {
        let spans: Vec<HistoryRow> = self
            .history()
            .into_iter()
            .filter(|h| h.kind != "gone")
            .collect();
        let i = spans
            .iter()
            .rposition(|h| matches!(h.kind.as_str(), "changed" | "reverted"))?;
        let before = spans.get(i.checked_sub(1)?)?;
        Some((before.revision, spans.get(i)?.revision))
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
    let mut rows = stmt
        .query_map([since.unwrap_or("")], derive::store::change_row)
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    // New articles: the revision rows that opened them (checked below
    // against their entries like every other row).
    // (A ledger from before schema 4, read without migrating, has no
    // revision rows to find them by: none are listed until it is migrated.)
    let new_rows = match conn.prepare(
        "SELECT r.seq, r.url, r.revision, l.recorded_at FROM revisions r JOIN ledger l ON l.seq = r.seq
         WHERE r.change = 'new' AND l.recorded_at >= ?1",
    ) {
        Err(_) => vec![],
        Ok(mut news) => news
            .query_map([since.unwrap_or("")], |r| {
                Ok(derive::ChangeRow {
                    seq: r.get(0)?,
                    kind: "new".into(),
                    url: r.get(1)?,
                    from_revision: None,
                    to_revision: r.get(2)?,
                    detected_at: r.get(3)?,
                    fields_json: "[]".into(),
                    declared: false,
                })
            })
            .map_err(sqlite)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite)?,
    };
    rows.extend(new_rows);
    rows.sort_by(|a, b| b.seq.cmp(&a.seq).then(a.kind.cmp(&b.kind)));
    let mut entry = conn
        .prepare(&format!(
            "SELECT {} FROM ledger WHERE seq = ?1",
            Entry::columns(conn)
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

/// One watched article, for `articles`.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleListRow {
    pub url: String,
    pub source: String,
    pub title: Option<String>,
    /// `gone`, `changed` (more than one revision) or `unchanged`.
    pub status: String,
    pub revision: i64,
    pub revisions: i64,
    pub first_seen: String,
    pub last_seen: String,
    pub last_change: Option<String>,
}

/// Every article, most recently seen first, optionally of one source and
/// status. Each row is checked against the chained entry that opened its
/// current revision (its hash, its link, and that it records this URL and
/// revision); `verify` checks that no row is missing or altered.
pub fn articles(
    conn: &Connection,
    source: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<ArticleListRow>, LedgerError> {
    let snapshot = conn.unchecked_transaction().map_err(sqlite)?;
    let conn = &*snapshot;
    let mut stmt = conn
        .prepare(
            "SELECT a.url, a.source, a.revision, a.max_revision, a.first_seen, a.last_seen, a.gone_at,
                    r.title, r.seq,
                    (SELECT MAX(detected_at) FROM changes c WHERE c.url = a.url AND c.kind <> 'rebaseline')
             FROM articles a LEFT JOIN revisions r ON r.url = a.url AND r.revision = a.revision
             ORDER BY a.last_seen DESC, a.url",
        )
        .map_err(sqlite)?;
    let rows = stmt
        .query_map([], |r| {
            let gone: Option<String> = r.get(6)?;
            let max: i64 = r.get(3)?;
            Ok((
                ArticleListRow {
                    url: r.get(0)?,
                    source: r.get(1)?,
                    revision: r.get(2)?,
                    revisions: max,
                    first_seen: r.get(4)?,
                    last_seen: r.get(5)?,
                    status: if gone.is_some() {
                        "gone".into()
                    } else if max > 1 {
                        "changed".into()
                    } else {
                        "unchanged".into()
                    },
                    title: r.get(7)?,
                    last_change: r.get(9)?,
                },
                r.get::<_, Option<i64>>(8)?,
            ))
        })
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    let mut entry = conn
        .prepare(&format!(
            "SELECT {} FROM ledger WHERE seq = ?1",
            Entry::columns(conn)
        ))
        .map_err(sqlite)?;
    let mut out = Vec::new();
    for (row, seq) in rows {
        if source.is_some_and(|s| s != row.source) || status.is_some_and(|s| s != row.status) {
            continue;
        }
        let seq = seq.unwrap_or(0);
        let e: Option<Entry> = entry
            .query_row([seq], Entry::from_row)
            .optional()
            .map_err(sqlite)?;
        let untrusted = |reason: &str| LedgerError::Untrusted {
            seq,
            reason: format!("the articles row for {} {reason}", row.url),
        };
        let e = e.ok_or_else(|| untrusted("cites a revision entry the ledger does not have"))?;
        if let Some(f) = e.fault_in(conn).map_err(sqlite)? {
            return Err(untrusted(&format!(
                "cites an entry that does not verify: {f}"
            )));
        }
        let p: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
        if e.kind != "revision"
            || e.url.as_deref() != Some(row.url.as_str())
            || p.get("revision").and_then(Value::as_i64) != Some(row.revision)
        {
            return Err(untrusted(&format!("is not what entry {seq} records")));
        }
        out.push(row);
    }
    Ok(out)
}

/// Up to three article URLs that look like `input` (same last path
/// segment, or the same host and a shared path prefix), for "did you mean".
pub fn suggest(conn: &Connection, input: &str) -> Result<Vec<String>, LedgerError> {
    let wanted = crate::identity::normalize(input).unwrap_or_else(|| input.to_string());
    let parsed = url::Url::parse(&wanted).ok();
    let slug = |u: &str| {
        u.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let want_slug = slug(&wanted);
    let mut stmt = conn.prepare("SELECT url FROM articles").map_err(sqlite)?;
    let urls = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    let mut scored: Vec<(usize, String)> = urls
        .into_iter()
        .filter_map(|u| {
            let same_slug = !want_slug.is_empty() && slug(&u) == want_slug;
            let p = url::Url::parse(&u).ok()?;
            let same_host = parsed
                .as_ref()
                .is_some_and(|w| w.host_str() == p.host_str());
            let prefix = parsed
                .as_ref()
                .map(|w| {
                    w.path()
                        .bytes()
                        .zip(p.path().bytes())
                        .take_while(|(a, b)| a.eq_ignore_ascii_case(b))
                        .count()
                })
                .unwrap_or(0);
            let score = usize::from(same_slug) * 1000 + usize::from(same_host) * 100 + prefix;
            (same_slug || (same_host && prefix > 1)).then_some((score, u))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(scored.into_iter().take(3).map(|(_, u)| u).collect())
}

/// What the record says a page showed at a time: the span it was in, and
/// the observations (fetches) just before and after that time.
#[derive(Debug, Clone, Serialize)]
pub struct AtTime {
    pub at: String,
    /// The revision shown; `None` when the page was gone.
    pub revision: Option<i64>,
    pub span_first_seen: String,
    pub span_last_seen: String,
    /// The last fetch at or before the time, and the first after it.
    pub observed_before: Option<String>,
    pub observed_after: Option<String>,
}

impl AtTime {
    pub fn describe(&self) -> String {
        let around = format!(
            "last observation before: {}; first after: {}",
            self.observed_before.as_deref().unwrap_or("none"),
            self.observed_after.as_deref().unwrap_or("none yet")
        );
        match self.revision {
            Some(r) => format!(
                "at {} the page showed revision {r} (shown from {} to {}; {around})",
                self.at, self.span_first_seen, self.span_last_seen
            ),
            None => format!(
                "at {} the page was gone (since {}; {around})",
                self.at, self.span_first_seen
            ),
        }
    }
}

/// The span of `record` that covers `at` (RFC 3339 UTC as the ledger writes).
/// `None` when the ledger first saw the page after `at`.
pub fn at_time(
    conn: &Connection,
    record: &ArticleRecord,
    at: &str,
) -> Result<Option<AtTime>, LedgerError> {
    let history = record.history();
    let Some(span) = history.iter().rfind(|h| h.first_seen.as_str() <= at) else {
        return Ok(None);
    };
    // Full fetch entries of the article and the compact ones repeating them.
    let compact = if Entry::columns(conn).ends_with("ref_seq") {
        " UNION ALL SELECT seq, recorded_at FROM ledger WHERE ref_seq IN
           (SELECT seq FROM ledger WHERE url = ?1 AND kind = 'fetch')"
    } else {
        ""
    };
    let mut stmt = conn
        .prepare(&format!(
            "SELECT recorded_at FROM (SELECT seq, recorded_at FROM ledger WHERE url = ?1 AND kind = 'fetch'{compact}) ORDER BY seq"
        ))
        .map_err(sqlite)?;
    let times = stmt
        .query_map([&record.url], |r| r.get::<_, String>(0))
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    Ok(Some(AtTime {
        at: at.to_string(),
        revision: (span.kind != "gone").then_some(span.revision),
        span_first_seen: span.first_seen.clone(),
        span_last_seen: span.last_seen.clone(),
        observed_before: times.iter().rfind(|t| t.as_str() <= at).cloned(),
        observed_after: times.iter().find(|t| t.as_str() > at).cloned(),
    }))
}

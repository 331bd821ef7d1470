//! Queries behind the read commands. They run on read-only connections.

use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value;

use super::derive::{self, Replay, RevisionRow};
use super::entry::Entry;
use super::{LedgerError, blobs};
use crate::extract::Article;

mod changes;
mod status;

pub(super) use changes::ChangeViews;
pub use changes::{ChangeRow, ChangeView, MetadataChange, check_notification};
pub use status::{LedgerStatus, SourceStatus, Status, checked_head, cycles, source_names};

fn sqlite(source: rusqlite::Error) -> LedgerError {
    use rusqlite::Error::{FromSqlConversionFailure, InvalidColumnType, Utf8Error};
    match source {
        // A column newsledger wrote that no longer has its type: altered.
        FromSqlConversionFailure(..) | InvalidColumnType(..) | Utf8Error(..) => {
            LedgerError::Tampered {
                what: format!("a ledger row cannot be read as newsledger writes it ({source})"),
            }
        }
        source => LedgerError::Sqlite {
            path: "ledger".into(),
            source,
        },
    }
}

/// Finds the article a user means: its URL (in any normalized form), or a
/// URL it was fetched from. Both are looked up in the chain itself: the
/// URL of a revision entry, else the latest full fetch entry that requested
/// it (its payload's `requested_url`); the caller replays what it names.
pub fn resolve_article(conn: &Connection, input: &str) -> Result<Option<String>, LedgerError> {
    let normalized = crate::identity::normalize(input).unwrap_or_else(|| input.to_string());
    let mut is_article = conn
        .prepare("SELECT 1 FROM ledger WHERE url = ?1 AND kind = 'revision' LIMIT 1")
        .map_err(sqlite)?;
    for candidate in [normalized.as_str(), input] {
        if is_article.exists([candidate]).map_err(sqlite)? {
            return Ok(Some(candidate.to_string()));
        }
    }
    // A fetched URL: its string appears in the fetch entry's JSON as written
    // unless JSON escapes it, so `instr` narrows the scan only then.
    let plain = |c: &str| {
        !c.chars()
            .any(|ch| ch == '"' || ch == '\\' || ch.is_control())
    };
    let mut fetches = conn
        .prepare(
            "SELECT url, payload FROM ledger WHERE url IS NOT NULL AND kind = 'fetch'
               AND (?2 = 0 OR instr(payload, ?1) > 0) ORDER BY seq DESC",
        )
        .map_err(sqlite)?;
    for candidate in [normalized.as_str(), input] {
        let mut rows = fetches
            .query(rusqlite::params![candidate, plain(candidate)])
            .map_err(sqlite)?;
        while let Some(r) = rows.next().map_err(sqlite)? {
            let payload: String = r.get(1).map_err(sqlite)?;
            let requested = serde_json::from_str::<Value>(&payload)
                .ok()
                .and_then(|p| p.get("requested_url")?.as_str().map(str::to_string));
            if requested.as_deref() != Some(candidate) {
                continue;
            }
            let url: String = r.get(0).map_err(sqlite)?;
            if is_article.exists([&url]).map_err(sqlite)? {
                return Ok(Some(url));
            }
        }
    }
    Ok(None)
}

/// The end of the chain must not be before what was recorded of it: the
/// derived tables' position (`derived_state.through_seq`) and this
/// machine's last successful `verify` (`LEDGER.verified`). An empty ledger
/// (not even its genesis entry) is refused too. Every read path calls this
/// before showing anything (`open_for_reading`).
pub fn check_not_truncated(conn: &Connection, path: &std::path::Path) -> Result<(), LedgerError> {
    // One snapshot: the head and the rows that cite entries must be read
    // from the same commit, or a commit landing between the two reads
    // looks like a truncation.
    let snapshot = conn.unchecked_transaction().map_err(sqlite)?;
    let conn = &*snapshot;
    let head: i64 = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM ledger", [], |r| r.get(0))
        .map_err(sqlite)?;
    if head == 0 {
        return Err(LedgerError::Tampered {
            what: format!(
                "ledger {} has no entries, not even its genesis entry: it was emptied",
                path.display()
            ),
        });
    }
    // A missing table or row is for `verify` to report; here only a
    // derived row citing an entry beyond the head is a finding.
    if let Some((table, seq)) = derive::store::cited_beyond(conn, head).map_err(sqlite)? {
        return Err(LedgerError::Tampered {
            what: format!(
                "the ledger ends at entry {head} but table {table} cites entry {seq}: entries were removed from its end, or {table} was altered"
            ),
        });
    }
    if let Some(v) = super::verified::last_verified(path).filter(|v| v.entries > head) {
        return Err(LedgerError::Tampered {
            what: format!(
                "the ledger ends at entry {head} but this machine verified {} entries on {} ({}): entries were removed from its end",
                v.entries,
                v.at,
                super::verified::verified_path(path).display()
            ),
        });
    }
    Ok(())
}

/// One article as the chain records it: its entries, each checked against
/// its hash and the entry before it, folded into revisions and a timeline.
pub struct ArticleRecord {
    pub url: String,
    replay: Replay,
}

/// Reads an article from the chain (never from the derived tables).
pub fn article(conn: &Connection, url: &str) -> Result<ArticleRecord, LedgerError> {
    // One read snapshot, unless the caller holds one already.
    let _snapshot = if conn.is_autocommit() {
        Some(conn.unchecked_transaction().map_err(sqlite)?)
    } else {
        None
    };
    let replay = derive::store::replay_article(conn, url)
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

    /// The source its latest revision was fetched for.
    pub fn source(&self) -> Option<&str> {
        self.replay
            .articles
            .get(&self.url)
            .map(|a| a.source.as_str())
    }

    /// The row `articles` lists for it; `None` if it has no revision.
    pub fn list_row(&self) -> Option<ArticleListRow> {
        let a = self.replay.articles.get(&self.url)?;
        Some(ArticleListRow {
            url: a.url.clone(),
            source: a.source.clone(),
            title: self.rev(a.revision).and_then(|r| r.title.clone()),
            status: if a.gone_at.is_some() {
                "gone".into()
            } else if a.max_revision > 1 {
                "changed".into()
            } else {
                "unchanged".into()
            },
            revision: a.revision,
            revisions: a.max_revision,
            first_seen: a.first_seen.clone(),
            last_seen: a.last_seen.clone(),
            last_change: self
                .replay
                .changes
                .values()
                .filter(|c| c.url == self.url && c.kind != "rebaseline")
                .map(|c| c.detected_at.clone())
                .max(),
        })
    }

    /// Its events, oldest first: the revision that opened it (`new`) and
    /// the fold's change rows (changed, metadata, reverted, gone,
    /// restored).
    pub fn events(&self) -> Vec<ChangeRow> {
        let mut events: Vec<ChangeRow> = self
            .replay
            .revisions
            .values()
            .filter(|r| r.url == self.url && r.change == "new")
            .map(|r| ChangeRow {
                seq: r.seq,
                kind: "new".into(),
                url: r.url.clone(),
                from_revision: None,
                to_revision: Some(r.revision),
                detected_at: r.first_seen.clone(),
                fields: Value::Array(vec![]),
                declared: false,
            })
            .collect();
        events.extend(
            self.replay
                .changes
                .values()
                .filter(|c| c.url == self.url)
                .map(|c| ChangeRow {
                    url: c.url.clone(),
                    kind: c.kind.clone(),
                    from_revision: c.from_revision,
                    to_revision: c.to_revision,
                    detected_at: c.detected_at.clone(),
                    fields: serde_json::from_str(&c.fields_json).unwrap_or(Value::Null),
                    declared: c.declared,
                    seq: c.seq,
                }),
        );
        events.sort_by(|a, b| a.seq.cmp(&b.seq).then(a.kind.cmp(&b.kind)));
        events
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
    let mut stmt = conn
        .prepare("SELECT DISTINCT url FROM ledger WHERE kind = 'revision' AND url IS NOT NULL")
        .map_err(sqlite)?;
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

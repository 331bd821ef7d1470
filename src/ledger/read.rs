//! Queries behind the read commands. They run on read-only connections.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::derive::{self, Replay, RevisionRow};
use super::entry::Entry;
use super::{LedgerError, blobs};
use crate::extract::Article;

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

/// A change with its substance, read from the two revisions the chain
/// records: what a person needs to judge it without opening the diff.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeView {
    #[serde(flatten)]
    pub row: ChangeRow,
    /// `stealth` or `declared`, for an edit of the text or metadata.
    pub label: Option<&'static str>,
    /// The new revision carries an update or correction note the old one
    /// did not.
    pub correction_notice: bool,
    pub words_added: u64,
    pub words_removed: u64,
    /// Headline, byline and dates before → after.
    pub metadata: Vec<MetadataChange>,
    /// A few changed passages with context (`{+added+}`, `[-removed-]`),
    /// bounded in words.
    pub excerpt: Vec<String>,
    pub significance: Option<crate::diff::significance::Significance>,
    /// The headline after the change (or the article's last one).
    pub title: Option<String>,
    /// The source the article's latest revision was fetched for.
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MetadataChange {
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

/// Reads [`ChangeView`]s, each article replayed once however many of its
/// changes are read.
pub(super) struct ChangeViews<'c> {
    conn: &'c Connection,
    records: std::collections::HashMap<String, ArticleRecord>,
}

impl<'c> ChangeViews<'c> {
    pub(super) fn new(conn: &'c Connection) -> ChangeViews<'c> {
        ChangeViews {
            conn,
            records: Default::default(),
        }
    }

    /// The article at `url`, replayed once.
    pub(super) fn record(&mut self, url: &str) -> Result<&ArticleRecord, LedgerError> {
        let conn = self.conn;
        Ok(match self.records.entry(url.to_string()) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(article(conn, url)?),
        })
    }

    pub(super) fn view(&mut self, row: ChangeRow) -> Result<ChangeView, LedgerError> {
        let conn = self.conn;
        let record = self.record(&row.url)?;
        let load = |n: Option<i64>| -> Result<Option<Article>, LedgerError> {
            match n {
                Some(n) => Ok(record.revision(conn, Some(n))?.map(|(_, a)| a)),
                None => Ok(None),
            }
        };
        let edit = matches!(row.kind.as_str(), "changed" | "metadata" | "reverted");
        let (before, after) = if edit {
            (load(row.from_revision)?, load(row.to_revision)?)
        } else {
            (None, None)
        };
        let title = match &after {
            Some(a) => a.title.clone(),
            None => load(row.to_revision.or(row.from_revision))?.and_then(|a| a.title),
        };
        let mut view =
            ChangeView {
                label: matches!(row.kind.as_str(), "changed" | "metadata")
                    .then_some(if row.declared { "declared" } else { "stealth" }),
                row,
                correction_notice: false,
                words_added: 0,
                words_removed: 0,
                metadata: vec![],
                excerpt: vec![],
                significance: None,
                title,
                source: record.source().map(str::to_string),
            };
        if let (Some(a), Some(b)) = (&before, &after) {
            let words = crate::diff::words::diff(
                &crate::diff::normalize_text(&a.text),
                &crate::diff::normalize_text(&b.text),
            );
            let (metadata, significance) = crate::diff::significance::between(a, b, &words);
            view.significance = Some(significance);
            view.correction_notice = crate::diff::new_notice(&a.text, &b.text);
            view.words_added = words.words_added;
            view.words_removed = words.words_removed;
            view.excerpt = crate::diff::words::excerpt(&words, 6)
                .into_iter()
                .take(3)
                .collect();
            view.metadata = metadata
                .into_iter()
                .map(|(field, before, after)| MetadataChange {
                    field,
                    before,
                    after,
                })
                .collect();
        }
        Ok(view)
    }
}

/// Whether a webhook body reports what the chain records: the entry it
/// cites (by seq and hash) verifies, and the article's fold has that event
/// with the same URL, revisions, fields and `declared`, and the title its
/// revision entry records. `Err` says what differs.
pub fn check_notification(conn: &Connection, body: &str) -> Result<(), String> {
    let b: Value = serde_json::from_str(body).map_err(|e| format!("its body is not JSON: {e}"))?;
    let g = |k: &str| b.get(k).unwrap_or(&Value::Null);
    let seq = g("seq").as_i64().ok_or("its body names no entry")?;
    let url = g("url").as_str().ok_or("its body names no article")?;
    let event = g("event").as_str().unwrap_or_default();
    let replay = derive::store::replay_article(conn, url)
        .map_err(|e| e.to_string())?
        .map_err(|u| format!("entry {} does not verify: {}", u.seq, u.reason))?;
    let hash: Option<Vec<u8>> = conn
        .query_row("SELECT entry_hash FROM ledger WHERE seq = ?1", [seq], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| e.to_string())?;
    if hash.map(hex::encode).as_deref() != g("entry_hash").as_str() {
        return Err(format!("entry {seq} is not the entry it cites"));
    }
    // A new article is its first revision entry; every other event is a
    // change row of the fold.
    let found: Option<derive::ChangeRow> = if event == "new" {
        replay
            .revisions
            .values()
            .find(|r| r.seq == seq && r.change == "new")
            .map(|r| derive::ChangeRow {
                seq,
                kind: "new".into(),
                url: r.url.clone(),
                to_revision: Some(r.revision),
                ..derive::ChangeRow::default()
            })
    } else {
        replay.changes.get(&(seq, event.to_string())).cloned()
    };
    let same = found.is_some_and(|c| {
        let fields: Value = serde_json::from_str(&c.fields_json).unwrap_or(Value::Null);
        c.url == url
            && c.from_revision == g("from_revision").as_i64()
            && c.to_revision == g("to_revision").as_i64()
            && c.declared == g("declared").as_bool().unwrap_or(false)
            && (event == "new" || g("fields").is_null() || fields == *g("fields"))
    });
    if !same {
        return Err(format!("entry {seq} does not record this {event} of {url}"));
    }
    // The latest revision when the event was recorded (later ones may
    // exist by the time a receiver that was down is reached).
    let title = replay
        .revisions
        .values()
        .filter(|r| r.url == url && r.seq <= seq)
        .max_by_key(|r| r.seq)
        .and_then(|r| r.title.clone());
    if g("title").as_str() != title.as_deref() {
        return Err(format!(
            "its title is not the one the chain records for {url}"
        ));
    }
    // An edit's substance (significance, its reasons, the metadata before
    // and after) is what the two revisions the chain records give.
    if let (Some(level), Some(from), Some(to)) = (
        g("significance").as_str(),
        g("from_revision").as_i64(),
        g("to_revision").as_i64(),
    ) {
        let record = ArticleRecord {
            url: url.to_string(),
            replay,
        };
        let load = |n: i64| -> Result<Article, String> {
            record
                .revision(conn, Some(n))
                .map_err(|e| e.to_string())?
                .map(|(_, a)| a)
                .ok_or_else(|| format!("{url} has no revision {n}"))
        };
        let (a, b) = (load(from)?, load(to)?);
        let words = crate::diff::words::diff(
            &crate::diff::normalize_text(&a.text),
            &crate::diff::normalize_text(&b.text),
        );
        let (metadata, significance) = crate::diff::significance::between(&a, &b, &words);
        let metadata: Vec<Value> = metadata
            .into_iter()
            .map(|(field, before, after)| {
                serde_json::json!({"field": field, "before": before, "after": after})
            })
            .collect();
        if level != significance.level.as_str()
            || *g("significance_reasons") != serde_json::json!(significance.reasons)
            || *g("metadata") != Value::Array(metadata)
        {
            return Err(format!(
                "its significance or metadata is not what revisions {from} and {to} of {url} give"
            ));
        }
    }
    Ok(())
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

/// The head of the chain, `(seq, entry_hash)`, after checking that entry's
/// hash and its link (the value users are told to keep elsewhere).
pub fn checked_head(conn: &Connection) -> Result<(i64, Vec<u8>), LedgerError> {
    let e: Option<Entry> = conn
        .query_row(
            &format!(
                "SELECT {} FROM ledger ORDER BY seq DESC LIMIT 1",
                Entry::columns(conn)
            ),
            [],
            Entry::from_row_unviewed,
        )
        .optional()
        .map_err(sqlite)?;
    let Some(e) = e else {
        return Ok((0, vec![]));
    };
    if let Some(fault) = e.fault_in(conn).map_err(sqlite)? {
        return Err(LedgerError::Untrusted {
            seq: e.seq,
            reason: fault.into(),
        });
    }
    Ok((e.seq, e.entry_hash))
}

/// The sources the chain's configuration entries name, by name.
pub fn source_names(conn: &Connection) -> Result<Vec<String>, LedgerError> {
    let mut stmt = conn
        .prepare(
            "SELECT DISTINCT json_extract(payload, '$.name') FROM ledger
             WHERE kind = 'source' AND json_valid(payload) ORDER BY 1",
        )
        .map_err(sqlite)?;
    let names: Vec<Option<String>> = stmt
        .query_map([], |r| r.get(0))
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    Ok(names.into_iter().flatten().collect())
}

/// [`super::lists::status`] without the article counts: what `health`
/// needs.
pub fn cycles(conn: &Connection, path: &std::path::Path) -> Result<Status, LedgerError> {
    let mut stmt = conn
        .prepare(
            "SELECT s.name, s.last_cycle_at, s.next_run_at, s.counts_json, s.last_error
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
                articles: 0,
            })
        })
        .map_err(sqlite)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite)?;
    let (head_seq, head_hash) = checked_head(conn)?;
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

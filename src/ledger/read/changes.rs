//! A change as a screen shows it: its row in the fold, and its substance
//! read from the two revisions (`ChangeView`); a webhook body checked against
//! the same.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::{ArticleRecord, article};
use crate::extract::Article;
use crate::ledger::{LedgerError, derive};

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
pub(in crate::ledger) struct ChangeViews<'c> {
    conn: &'c Connection,
    records: std::collections::HashMap<String, ArticleRecord>,
}

impl<'c> ChangeViews<'c> {
    pub(in crate::ledger) fn new(conn: &'c Connection) -> ChangeViews<'c> {
        ChangeViews {
            conn,
            records: Default::default(),
        }
    }

    /// The article at `url`, replayed once.
    pub(in crate::ledger) fn record(&mut self, url: &str) -> Result<&ArticleRecord, LedgerError> {
        let conn = self.conn;
        Ok(match self.records.entry(url.to_string()) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(article(conn, url)?),
        })
    }

    pub(in crate::ledger) fn view(&mut self, row: ChangeRow) -> Result<ChangeView, LedgerError> {
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
            let (words, metadata, significance) = crate::diff::significance::of_revisions(a, b);
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
        let (_, metadata, significance) = crate::diff::significance::of_revisions(&a, &b);
        let metadata: Vec<MetadataChange> = metadata
            .into_iter()
            .map(|(field, before, after)| MetadataChange {
                field,
                before,
                after,
            })
            .collect();
        if level != significance.level.as_str()
            || *g("significance_reasons") != serde_json::json!(significance.reasons)
            || *g("metadata") != serde_json::json!(metadata)
        {
            return Err(format!(
                "its significance or metadata is not what revisions {from} and {to} of {url} give"
            ));
        }
    }
    Ok(())
}

//! Folding revision and gone entries, and reversions recorded in a fetch:
//! the article's current version, its revisions and the `changes` rows,
//! each checked against the fetch it names.

use std::collections::BTreeMap;

use serde_json::json;

use super::payload::{hashes_json, list_json, own};
use super::{ArticleRow, ChangeRow, Event, Replay, RevisionRow};

impl Replay {
    pub(super) fn revert(&mut self, e: Event<'_>, url: &str, from: i64, to: i64) {
        let p = e.payload;
        let at = e.recorded_at;
        let Some(target) = self.revisions.get_mut(&(url.to_string(), to)) else {
            self.anomaly(
                e.seq,
                format!("reverts {url} to revision {to}, which was never recorded"),
            );
            return;
        };
        target.last_seen = at.to_string();
        let target = target.clone();
        let Some(old_hashes) = self.articles.get(url).map(|a| a.field_hashes.clone()) else {
            return;
        };
        let fields = match &p.fields_changed {
            Some(f) => list_json(f),
            None => {
                let old: BTreeMap<String, String> =
                    serde_json::from_str(&old_hashes).unwrap_or_default();
                let new = self.revision_field_hashes(url, to).unwrap_or_default();
                json!(crate::diff::changed_fields(&old, &new)).to_string()
            }
        };
        let Some(a) = self.articles.get_mut(url) else {
            return;
        };
        a.revision = to;
        a.content_hash = target.content_hash.clone();
        if let Some(h) = &p.field_hashes {
            a.field_hashes = hashes_json(h);
        }
        a.text_blob = own(&p.text_blob).unwrap_or_else(|| target.text_blob.clone());
        a.raw_blob = own(&p.raw_blob).or_else(|| target.raw_blob.clone());
        a.extractor = own(&p.extractor).unwrap_or_else(|| target.extractor.clone());
        a.last_seen = at.to_string();
        a.gone_at = None;
        self.changes.insert(
            (e.seq, "reverted".into()),
            ChangeRow {
                seq: e.seq,
                kind: "reverted".into(),
                url: url.to_string(),
                from_revision: Some(from),
                to_revision: Some(to),
                detected_at: at.to_string(),
                fields_json: fields,
                declared: false,
            },
        );
        self.open_span(url, "reverted", to, at, e.seq);
    }

    /// Field hashes recorded for a revision: kept per revision only in the
    /// fold of legacy reversions, so looked up lazily.
    fn revision_field_hashes(&self, url: &str, rev: i64) -> Option<BTreeMap<String, String>> {
        self.revision_hashes
            .get(&(url.to_string(), rev))
            .and_then(|h| serde_json::from_str(h).ok())
    }

    pub(super) fn revision(&mut self, e: Event<'_>) {
        let p = e.payload;
        let at = e.recorded_at;
        let Some(url) = e.url.map(str::to_string).or_else(|| own(&p.article_url)) else {
            self.anomaly(e.seq, "revision entry without an article URL".into());
            return;
        };
        let n = p.revision.unwrap_or(0);
        let change = own(&p.change).unwrap_or_else(|| "changed".into());
        if self.awaiting_revision.is_some() && self.awaiting_revision == p.fetch_seq {
            self.awaiting_revision = None;
        }
        let fetch = self.last_fetch.clone();
        if fetch.as_ref().map(|f| f.seq) != p.fetch_seq {
            self.anomaly(
                e.seq,
                "revision entry does not follow the fetch it names".into(),
            );
        }
        // A revision that names its source (from schema 12 on) names the
        // fetch's: lists find articles of a source by it.
        if let (Some(named), Some(f)) = (p.source.as_deref(), fetch.as_ref())
            && named != f.source
        {
            self.anomaly(
                e.seq,
                format!(
                    "revision entry names source {named:?}, the fetch it follows {:?}",
                    f.source
                ),
            );
        }
        let existing = self.articles.get(&url).cloned();
        let expected = existing.as_ref().map_or(1, |a| a.max_revision + 1);
        if n != expected {
            self.anomaly(
                e.seq,
                format!("{url}: revision entry numbers revision {n}, the next unused number is {expected}"),
            );
        }
        let content_hash = own(&p.content_hash).unwrap_or_default();
        let field_hashes = p
            .field_hashes
            .as_ref()
            .map_or_else(|| "{}".into(), hashes_json);
        let text_blob = own(&p.text_blob).unwrap_or_default();
        let raw_blob = own(&p.raw_blob);
        let extractor = own(&p.extractor).unwrap_or_default();
        self.revision_hashes
            .insert((url.clone(), n), field_hashes.clone());
        self.revisions.insert(
            (url.clone(), n),
            RevisionRow {
                url: url.clone(),
                revision: n,
                change: change.clone(),
                content_hash: content_hash.clone(),
                title: own(&p.title),
                first_seen: at.to_string(),
                last_seen: at.to_string(),
                words_added: p.words_added.unwrap_or(0),
                words_removed: p.words_removed.unwrap_or(0),
                text_blob: text_blob.clone(),
                raw_blob: raw_blob.clone(),
                extractor: extractor.clone(),
                seq: e.seq,
            },
        );
        let (source, fetch_url) = fetch
            .map(|f| (f.source, f.requested_url))
            .unwrap_or_default();
        let first_seen = existing
            .as_ref()
            .map_or_else(|| at.to_string(), |a| a.first_seen.clone());
        self.articles.insert(
            url.clone(),
            ArticleRow {
                url: url.clone(),
                source,
                fetch_url,
                revision: n,
                max_revision: n.max(existing.as_ref().map_or(0, |a| a.max_revision)),
                content_hash,
                field_hashes,
                text_blob,
                raw_blob,
                extractor,
                first_seen,
                last_seen: at.to_string(),
                gone_at: None,
            },
        );
        if let Some(prev) = &existing
            && change != "new"
            && change != "rebaseline"
        {
            let fields = p
                .fields_changed
                .as_deref()
                .map_or_else(|| "[]".into(), list_json);
            self.changes.insert(
                (e.seq, change.clone()),
                ChangeRow {
                    seq: e.seq,
                    kind: change.clone(),
                    url: url.clone(),
                    from_revision: Some(prev.revision),
                    to_revision: Some(n),
                    detected_at: at.to_string(),
                    fields_json: fields,
                    declared: p.declared.unwrap_or(false),
                },
            );
        }
        let kind = if existing.is_none() {
            "new"
        } else {
            change.as_str()
        };
        let kind = kind.to_string();
        self.open_span(&url, &kind, n, at, e.seq);
    }

    pub(super) fn gone(&mut self, e: Event<'_>) {
        let p = e.payload;
        let at = e.recorded_at;
        let Some(url) = e.url.map(str::to_string).or_else(|| own(&p.article_url)) else {
            self.anomaly(e.seq, "gone entry without an article URL".into());
            return;
        };
        let Some(a) = self.articles.get_mut(&url) else {
            self.anomaly(e.seq, format!("{url} is gone but was never recorded"));
            return;
        };
        a.gone_at = Some(at.to_string());
        let last = p.last_revision.unwrap_or(a.revision);
        self.changes.insert(
            (e.seq, "gone".into()),
            ChangeRow {
                seq: e.seq,
                kind: "gone".into(),
                url: url.clone(),
                from_revision: Some(last),
                to_revision: None,
                detected_at: at.to_string(),
                fields_json: "[]".into(),
                declared: false,
            },
        );
        self.open_span(&url, "gone", last, at, e.seq);
    }
}

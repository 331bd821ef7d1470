//! The derived tables as a pure function of the chain.
//!
//! [`Replay`] folds chained entries, in seq order, into the rows of
//! `articles`, `revisions`, `changes` and `fetch_state`, and (for read
//! commands) into an article's timeline of [`Span`]s. The same fold serves
//! three callers, so that they cannot drift apart:
//! - the writer, on the rows one fetch touches, right after appending its
//!   entries in the same transaction;
//! - `rebuild`, on every entry;
//! - `verify`, which compares the fold of every entry with the stored rows.
//!
//! Invariant: nothing here reads a derived table. What the fold needs comes
//! from the entries (their payloads and columns) and from its own state.

pub mod check;
mod payload;
pub mod store;

pub use payload::Payload;
use payload::{hashes_json, list_json, own};

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

/// One chained entry, as the fold sees it.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub seq: i64,
    pub recorded_at: &'a str,
    pub kind: &'a str,
    pub url: Option<&'a str>,
    pub payload: &'a Payload<'a>,
    /// A compact entry: the full fetch entry it repeats.
    pub ref_seq: Option<i64>,
}

/// `dst = src`, reusing `dst`'s buffer.
fn set(dst: &mut String, src: &str) {
    if dst != src {
        dst.clear();
        dst.push_str(src);
    }
}

fn set_opt(dst: &mut Option<String>, src: Option<&str>) {
    match (dst.as_mut(), src) {
        (Some(d), Some(s)) => set(d, s),
        (_, s) => *dst = s.map(str::to_string),
    }
}

/// A row of `articles`: the revision an article shows now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArticleRow {
    pub url: String,
    pub source: String,
    pub fetch_url: String,
    pub revision: i64,
    /// The highest revision number used: the next new text gets this + 1.
    pub max_revision: i64,
    pub content_hash: String,
    /// Canonical JSON of the per-field hashes of the version shown now.
    pub field_hashes: String,
    /// The text blob of the version shown now (after a reversion, the
    /// fetched one, whose metadata may differ from the revision's).
    pub text_blob: String,
    /// The raw capture that version was extracted from, if kept.
    pub raw_blob: Option<String>,
    pub extractor: String,
    pub first_seen: String,
    pub last_seen: String,
    pub gone_at: Option<String>,
}

/// A row of `revisions`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevisionRow {
    pub url: String,
    pub revision: i64,
    /// `new`, `changed`, `metadata` or `rebaseline`.
    pub change: String,
    pub content_hash: String,
    pub title: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub words_added: i64,
    pub words_removed: i64,
    pub text_blob: String,
    pub raw_blob: Option<String>,
    pub extractor: String,
    pub seq: i64,
}

/// A row of `changes`: one event `newsledger changes` lists.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ChangeRow {
    pub seq: i64,
    /// `changed`, `metadata`, `reverted`, `gone` or `restored`.
    pub kind: String,
    pub url: String,
    pub from_revision: Option<i64>,
    pub to_revision: Option<i64>,
    pub detected_at: String,
    /// JSON array of field names.
    pub fields_json: String,
    pub declared: bool,
}

/// A row of `fetch_state`: per fetched URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchStateRow {
    pub url: String,
    pub source: String,
    pub article_url: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_fetch_at: String,
    pub last_outcome: String,
    pub last_status: Option<i64>,
    pub last_seq: i64,
}

/// One stretch of an article's timeline during which it showed one thing:
/// a revision (entered as new, changed, metadata, reverted, rebaseline or
/// restored) or its absence (gone). Spans of one article never overlap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    pub kind: String,
    pub revision: i64,
    pub first_seen: String,
    pub last_seen: String,
    /// The entry that opened the span.
    pub seq: i64,
    /// Fetches that saw it (the opening one included).
    pub observations: u64,
    /// Fetches during it that got no answer about the article (network
    /// errors, 5xx): gaps in the observation.
    pub failed: u64,
    /// The span began when the page answered again after it was gone.
    pub restored: bool,
}

/// The fold's state: the derived rows, keyed as the tables are.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    pub articles: BTreeMap<String, ArticleRow>,
    pub revisions: BTreeMap<(String, i64), RevisionRow>,
    pub changes: BTreeMap<(i64, String), ChangeRow>,
    pub fetch_state: BTreeMap<String, FetchStateRow>,
    /// Per article, its timeline; kept only when `with_spans` is set.
    pub spans: BTreeMap<String, Vec<Span>>,
    pub with_spans: bool,
    pub through_seq: i64,
    /// Entries that contradict what came before them (a revision number
    /// reused, a reversion to a revision that does not exist, ...).
    pub anomalies: Vec<(i64, String)>,
    /// Per revision, the canonical JSON of its field hashes (for reversions
    /// recorded before entries carried `fields_changed`).
    revision_hashes: BTreeMap<(String, i64), String>,
    /// The last fetch entry: revision and gone entries belong to it.
    last_fetch: Option<LastFetch>,
    /// A full fetch entry that recorded a new text (new, changed but not a
    /// reversion, or a re-baseline) whose revision entry has not come yet:
    /// the writer appends it right after, so an entry missing from a replay
    /// (a URL changed in the chain, an index that hides it) shows.
    awaiting_revision: Option<i64>,
    /// The latest full fetch entry of each URL, by seq: what a compact
    /// entry may repeat (its requested URL and entry URL), and by URL.
    anchors: std::collections::HashMap<i64, (String, Option<String>)>,
    anchor_of: std::collections::HashMap<String, i64>,
}

#[derive(Debug, Clone)]
struct LastFetch {
    seq: i64,
    source: String,
    requested_url: String,
}

impl Replay {
    /// A fold that also keeps every article's timeline (for read commands).
    pub fn with_spans() -> Replay {
        Replay {
            with_spans: true,
            ..Replay::default()
        }
    }

    /// Folds one entry in. Entries must come in seq order.
    pub fn apply(&mut self, e: Event<'_>) {
        self.through_seq = e.seq;
        match e.kind {
            "fetch" => self.fetch(e),
            "revision" => self.revision(e),
            "gone" => self.gone(e),
            _ => {}
        }
    }

    fn anomaly(&mut self, seq: i64, what: String) {
        self.anomalies.push((seq, what));
    }

    fn open_span(&mut self, url: &str, kind: &str, revision: i64, at: &str, seq: i64) {
        if !self.with_spans {
            return;
        }
        let fetch_seq = self.last_fetch.as_ref().map(|f| f.seq);
        let spans = self.spans.entry(url.to_string()).or_default();
        // A page that comes back with another text: one span, not an empty
        // "restored" one followed by the change.
        let restored = kind == "restored"
            || spans
                .last()
                .is_some_and(|s| s.kind == "restored" && Some(s.seq) == fetch_seq)
                && spans.pop().is_some();
        spans.push(Span {
            kind: kind.to_string(),
            revision,
            first_seen: at.to_string(),
            last_seen: at.to_string(),
            seq,
            observations: 1,
            failed: 0,
            restored,
        });
    }

    fn observe_span(&mut self, url: &str, at: &str) {
        if let Some(span) = self.spans.get_mut(url).and_then(|v| v.last_mut()) {
            span.last_seen = at.to_string();
            span.observations += 1;
        }
    }

    /// Makes `seq` the full fetch entry compact entries of `requested` may
    /// repeat (the writer does this for the entry it compares against).
    pub fn anchor(&mut self, seq: i64, requested: &str, url: Option<&str>) {
        if let Some(old) = self.anchor_of.insert(requested.to_string(), seq) {
            self.anchors.remove(&old);
        }
        self.anchors
            .insert(seq, (requested.to_string(), url.map(str::to_string)));
    }

    /// Ends a fold: what is still awaited is missing.
    pub fn finish(&mut self) {
        if let Some(seq) = self.awaiting_revision.take() {
            self.anomaly(
                seq,
                "it records a new text, but no revision entry for it follows".into(),
            );
        }
    }

    fn fetch(&mut self, e: Event<'_>) {
        self.finish();
        if let Some(r) = e.ref_seq {
            return self.compact_fetch(e, r);
        }
        let p = e.payload;
        let new_text = matches!(p.outcome.as_deref(), Some("new" | "changed"))
            && p.reverted_to.is_none()
            || p.rebaseline == Some(true);
        if new_text {
            self.awaiting_revision = Some(e.seq);
        }
        let Some(requested) = p.requested_url.as_deref() else {
            self.anomaly(e.seq, "fetch entry without requested_url".into());
            return;
        };
        self.anchor(e.seq, requested, e.url);
        self.fetch_of(e, requested);
    }

    /// A compact entry: the URLs and source of the full entry it repeats,
    /// its own outcome, status and time.
    fn compact_fetch(&mut self, e: Event<'_>, ref_seq: i64) {
        let Some((requested, url)) = self.anchors.get(&ref_seq).cloned() else {
            self.anomaly(
                e.seq,
                format!("compact fetch entry repeats seq {ref_seq}, which is not the latest full fetch entry of a URL"),
            );
            return;
        };
        let source = self
            .fetch_state
            .get(&requested)
            .map(|f| f.source.clone())
            .unwrap_or_default();
        let payload = Payload {
            requested_url: Some(requested.as_str().into()),
            source: Some(source.as_str().into()),
            ..e.payload.clone()
        };
        self.fetch_of(
            Event {
                url: url.as_deref(),
                payload: &payload,
                ref_seq: None,
                ..e
            },
            &requested,
        );
        // Validators that changed since the full entry (an unchanged text
        // served with a new ETag): kept for the next conditional request.
        if payload.outcome.as_deref() == Some("unchanged")
            && let Some(fs) = self.fetch_state.get_mut(&requested)
        {
            if let Some(t) = payload.etag.as_deref() {
                set_opt(&mut fs.etag, Some(t));
            }
            if let Some(l) = payload.last_modified.as_deref() {
                set_opt(&mut fs.last_modified, Some(l));
            }
        }
    }

    fn fetch_of(&mut self, e: Event<'_>, requested: &str) {
        let p = e.payload;
        let source = p.source.as_deref().unwrap_or_default();
        let outcome = p.outcome.as_deref().unwrap_or_default();
        // Reused strings: a fold of a million fetches allocates little.
        match &mut self.last_fetch {
            Some(last) => {
                last.seq = e.seq;
                set(&mut last.source, source);
                set(&mut last.requested_url, requested);
            }
            None => {
                self.last_fetch = Some(LastFetch {
                    seq: e.seq,
                    source: source.to_string(),
                    requested_url: requested.to_string(),
                })
            }
        }
        if !self.fetch_state.contains_key(requested) {
            self.fetch_state.insert(
                requested.to_string(),
                FetchStateRow {
                    url: requested.to_string(),
                    ..FetchStateRow::default()
                },
            );
        }
        if let Some(fs) = self.fetch_state.get_mut(requested) {
            set(&mut fs.source, source);
            if let Some(a) = p.article_url.as_deref() {
                set_opt(&mut fs.article_url, Some(a));
            }
            // Validators only from a response that was extracted and stored.
            if p.content_hash.is_some() {
                set_opt(&mut fs.etag, p.etag.as_deref());
                set_opt(&mut fs.last_modified, p.last_modified.as_deref());
            }
            set(&mut fs.last_fetch_at, e.recorded_at);
            set(&mut fs.last_outcome, outcome);
            fs.last_status = p.status;
            fs.last_seq = e.seq;
        }

        let Some(url) = e.url.filter(|u| self.articles.contains_key(*u)) else {
            return;
        };
        let url = url.to_string();
        if outcome == "failed" {
            if let Some(span) = self.spans.get_mut(&url).and_then(|v| v.last_mut()) {
                span.failed += 1;
            }
            return;
        }
        let at = e.recorded_at;
        let seen = matches!(outcome, "unchanged" | "not_modified" | "changed");
        let (was_gone, current) = match self.articles.get(&url) {
            Some(a) => (a.gone_at.is_some(), a.revision),
            None => return,
        };
        if seen && was_gone {
            // A page answering again after a 404/410: its own event.
            if let Some(a) = self.articles.get_mut(&url) {
                a.gone_at = None;
            }
            self.changes.insert(
                (e.seq, "restored".into()),
                ChangeRow {
                    seq: e.seq,
                    kind: "restored".into(),
                    url: url.clone(),
                    from_revision: None,
                    to_revision: Some(current),
                    detected_at: at.to_string(),
                    fields_json: "[]".into(),
                    declared: false,
                },
            );
            self.open_span(&url, "restored", current, at, e.seq);
        } else if outcome == "gone" && was_gone {
            // Still gone: one more observation of the absence.
            self.observe_span(&url, at);
            return;
        }

        if let Some(k) = p.reverted_to {
            self.revert(e, &url, current, k);
        } else if matches!(outcome, "unchanged" | "not_modified") && p.rebaseline.is_none() {
            if let Some(a) = self.articles.get_mut(&url) {
                a.last_seen = at.to_string();
            }
            if let Some(r) = self.revisions.get_mut(&(url.clone(), current)) {
                r.last_seen = at.to_string();
            }
            if !(seen && was_gone) {
                self.observe_span(&url, at);
            }
        }
    }

    fn revert(&mut self, e: Event<'_>, url: &str, from: i64, to: i64) {
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

    fn revision(&mut self, e: Event<'_>) {
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

    fn gone(&mut self, e: Event<'_>) {
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

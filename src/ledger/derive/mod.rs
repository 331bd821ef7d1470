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

pub mod appended;
pub mod check;
mod fetches;
mod payload;
mod revisions;
pub mod schema;
pub mod store;

pub use payload::Payload;

use std::collections::BTreeMap;

use serde::Serialize;

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
}

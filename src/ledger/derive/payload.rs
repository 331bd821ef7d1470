//! The payload fields the fold reads, parsed without building a
//! `serde_json::Value` per entry.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

/// The payload fields the fold reads (of `fetch`, `revision` and `gone`
/// entries), borrowed from the stored JSON text where it has no escapes:
/// verify folds a million entries, and a `serde_json::Value` per entry made
/// it ten times slower.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Payload<'a> {
    #[serde(borrow)]
    pub requested_url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub outcome: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub article_url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub etag: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub last_modified: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub content_hash: Option<Cow<'a, str>>,
    pub status: Option<i64>,
    pub reverted_to: Option<i64>,
    pub rebaseline: Option<bool>,
    pub restored: Option<bool>,
    #[serde(borrow)]
    pub fields_changed: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    pub field_hashes: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
    #[serde(borrow)]
    pub text_blob: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub raw_blob: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub extractor: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub change: Option<Cow<'a, str>>,
    pub revision: Option<i64>,
    pub words_added: Option<i64>,
    pub words_removed: Option<i64>,
    pub fetch_seq: Option<i64>,
    pub declared: Option<bool>,
    pub last_revision: Option<i64>,
}

impl<'a> Payload<'a> {
    /// Parses a stored payload; `None` if it is not a JSON object of the
    /// expected shape.
    pub fn parse(text: &'a str) -> Option<Payload<'a>> {
        serde_json::from_str(text).ok()
    }
}

pub(super) fn own(v: &Option<Cow<'_, str>>) -> Option<String> {
    v.as_deref().map(str::to_string)
}

/// Canonical JSON (sorted keys, compact) of a field-hash map.
pub(super) fn hashes_json(m: &BTreeMap<Cow<'_, str>, Cow<'_, str>>) -> String {
    serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
}

pub(super) fn list_json(v: &[Cow<'_, str>]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

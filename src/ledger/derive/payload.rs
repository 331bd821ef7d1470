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

    /// What the fold reads of a compact entry, straight from its decoded
    /// bytes: the same as parsing its JSON view (`Compact::view`), without
    /// writing and reading that JSON for every not-modified fetch.
    pub fn of_compact(c: &'a crate::ledger::entry::Compact) -> Payload<'a> {
        use crate::ledger::entry::CompactOutcome;
        Payload {
            outcome: Some(Cow::Borrowed(match c.outcome {
                CompactOutcome::Unchanged => "unchanged",
                CompactOutcome::NotModified => "not_modified",
            })),
            status: Some(i64::from(c.status)),
            etag: c.etag.as_deref().map(Cow::Borrowed),
            last_modified: c.last_modified.as_deref().map(Cow::Borrowed),
            ..Payload::default()
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entry::{Compact, CompactOutcome};
    use proptest::prelude::*;

    proptest! {
        /// Reading a compact entry's bytes gives the fold what parsing its
        /// JSON view gives it, for any values the encoding can hold.
        #[test]
        fn a_compact_entry_reads_as_its_view_parses(
            not_modified in any::<bool>(),
            status in any::<u16>(),
            started in any::<i32>(),
            finished in any::<i32>(),
            body_bytes in any::<u64>(),
            etag in proptest::option::of("\\PC{0,40}"),
            modified in proptest::option::of("\\PC{0,40}"),
        ) {
            let outcome = if not_modified { CompactOutcome::NotModified } else { CompactOutcome::Unchanged };
            let c = Compact {
                outcome,
                status,
                started_ms: i64::from(started),
                finished_ms: i64::from(finished),
                body_bytes,
                etag,
                last_modified: modified,
                body_sha256: (!not_modified).then_some([7; 32]),
            };
            let c = Compact::decode(&c.encode()).unwrap();
            let view = c.view("2026-12-01T10:00:00.000Z", 42);
            let parsed = Payload::parse(&view).unwrap_or_else(|| panic!("{view}"));
            prop_assert_eq!(format!("{parsed:?}"), format!("{:?}", Payload::of_compact(&c)));
        }

        /// Stored bytes from anywhere (an altered row) decode or are refused,
        /// never panic, and what decodes reads the same both ways.
        #[test]
        fn any_bytes_decode_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            if let Some(c) = Compact::decode(&bytes) {
                let view = c.view("2026-12-01T10:00:00.000Z", 1);
                let parsed = Payload::parse(&view).unwrap_or_else(|| panic!("{view}"));
                prop_assert_eq!(format!("{parsed:?}"), format!("{:?}", Payload::of_compact(&c)));
            }
        }
    }
}

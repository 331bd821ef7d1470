//! What decides "changed": normalization, per-field hashes, and the
//! comparison of two versions of an article. Pure functions over values.
//!
//! The content hash covers the normalized title, byline and body text, never
//! the raw HTML, so page chrome cannot flag a change. Published and modified
//! dates have their own hashes: a change of those alone is metadata-only.

pub mod significance;
pub mod words;

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use unicode_normalization::UnicodeNormalization;

use crate::extract::Article;

/// Fields whose change is an edit of the article's text.
pub const TEXT_FIELDS: [&str; 3] = ["title", "byline", "body"];
/// Fields whose change alone is metadata-only.
pub const META_FIELDS: [&str; 2] = ["published", "modified"];

/// The normalized article and its hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Normalized field values, keyed by field name.
    pub fields: BTreeMap<&'static str, String>,
    /// SHA-256 (hex) of each normalized field.
    pub field_hashes: BTreeMap<String, String>,
    /// SHA-256 (hex) of the canonical JSON of the normalized text fields.
    pub content_hash: String,
}

/// Unicode NFC, whitespace folded to single spaces inside a paragraph,
/// paragraphs separated by one blank line, no leading or trailing space.
pub fn normalize_text(text: &str) -> String {
    // Most text is already NFC (all ASCII text is): the quick check skips
    // recomposing it character by character.
    let nfc: std::borrow::Cow<'_, str> = if text.is_ascii()
        || unicode_normalization::is_nfc_quick(text.chars())
            == unicode_normalization::IsNormalized::Yes
    {
        text.into()
    } else {
        text.nfc().collect::<String>().into()
    };
    let mut out = String::with_capacity(nfc.len());
    for para in nfc.split("\n\n") {
        let mut first = true;
        for word in words(para) {
            if first && !out.is_empty() {
                out.push_str("\n\n");
            } else if !first {
                out.push(' ');
            }
            first = false;
            out.push_str(word);
        }
    }
    out
}

/// `s.split_whitespace()`, cut first at ASCII white space, which is most of
/// it: only a run with other characters is searched for Unicode white space.
fn words(s: &str) -> impl Iterator<Item = &str> {
    ascii_space_runs(s)
        .flat_map(|(_, run)| {
            let (ascii, other) = if run.is_ascii() {
                (Some(run), None)
            } else {
                (None, Some(run.split_whitespace()))
            };
            ascii.into_iter().chain(other.into_iter().flatten())
        })
        .filter(|w| !w.is_empty())
}

/// The ASCII characters with Unicode's White_Space property (what
/// `char::is_whitespace` says of ASCII; `u8::is_ascii_whitespace` leaves
/// out the vertical tab).
pub(crate) fn is_ascii_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// The runs of `s` between ASCII white-space characters (empty ones
/// included), each with its byte offset; found byte by byte.
pub(crate) fn ascii_space_runs(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = 0;
    s.as_bytes().split(|c| is_ascii_space(*c)).map(move |run| {
        let start = at;
        // Each separator is one byte.
        at += run.len() + 1;
        (start, s.get(start..start + run.len()).unwrap_or_default())
    })
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Normalizes an article and computes its hashes.
pub fn fingerprint(article: &Article) -> Fingerprint {
    let norm = |v: &Option<String>| v.as_deref().map(normalize_text).unwrap_or_default();
    let mut fields = BTreeMap::new();
    fields.insert("title", norm(&article.title));
    fields.insert("byline", norm(&article.byline));
    fields.insert("body", normalize_text(&article.text));
    fields.insert("published", norm(&article.published));
    fields.insert("modified", norm(&article.modified));
    let field_hashes = fields
        .iter()
        .map(|(k, v)| (k.to_string(), sha256_hex(v)))
        .collect();
    let text = json!({
        "title": field(&fields, "title"),
        "byline": field(&fields, "byline"),
        "body": field(&fields, "body"),
    });
    let content_hash = sha256_hex(&crate::canonical::canonical_json(&text));
    Fingerprint {
        fields,
        field_hashes,
        content_hash,
    }
}

/// A normalized field's value ("" when absent).
fn field<'a>(fields: &'a BTreeMap<&'static str, String>, name: &str) -> &'a str {
    fields.get(name).map_or("", String::as_str)
}

/// Names of the fields whose hashes differ, text fields first.
pub fn changed_fields(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<String> {
    TEXT_FIELDS
        .iter()
        .chain(META_FIELDS.iter())
        .filter(|f| old.get(**f) != new.get(**f))
        .map(|f| f.to_string())
        .collect()
}

/// True when a change touched only metadata fields.
pub fn is_metadata_only(fields: &[String]) -> bool {
    !fields.is_empty() && fields.iter().all(|f| META_FIELDS.contains(&f.as_str()))
}

#[allow(
    clippy::expect_used,
    reason = "a static regex, checked by the unit tests"
)]
static UPDATE_NOTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(correction|clarification|editor['’]s note|update[d]?|this (article|story) (has been|was) (updated|corrected|amended))\s*[:\-–—(]",
    )
    .expect("static regex")
});

/// A change is *declared* when the page admits it: a newer modified date, or
/// an update/correction note that the previous text did not have. Otherwise
/// it is a stealth edit.
pub fn is_declared(old: &Fingerprint, new: &Fingerprint) -> bool {
    let (old_mod, new_mod) = (
        field(&old.fields, "modified"),
        field(&new.fields, "modified"),
    );
    let newer_date = !new_mod.is_empty() && new_mod != old_mod;
    newer_date || new_notice(field(&old.fields, "body"), field(&new.fields, "body"))
}

/// Whether `new` carries an update or correction note that `old` did not.
pub fn new_notice(old: &str, new: &str) -> bool {
    UPDATE_NOTE.find_iter(new).count() > UPDATE_NOTE.find_iter(old).count()
}

/// The metadata a change shows before → after, in this order.
pub const SHOWN_METADATA: [&str; 4] = ["title", "byline", "published", "modified"];

/// [`SHOWN_METADATA`] fields whose normalized values differ between two
/// fingerprints, as (field, before, after), absent values as empty strings.
pub fn fingerprint_metadata_changes(
    old: Option<&Fingerprint>,
    new: &Fingerprint,
) -> Vec<(&'static str, String, String)> {
    SHOWN_METADATA
        .into_iter()
        .filter_map(|k| {
            let before = old.and_then(|o| o.fields.get(k));
            let after = new.fields.get(k);
            (before != after).then(|| {
                (
                    k,
                    before.cloned().unwrap_or_default(),
                    after.cloned().unwrap_or_default(),
                )
            })
        })
        .collect()
}

/// The metadata fields that differ between two stored articles, as
/// (field, before, after), absent values as empty strings.
pub fn metadata_changes(
    a: &crate::extract::Article,
    b: &crate::extract::Article,
) -> Vec<(&'static str, String, String)> {
    [
        ("title", &a.title, &b.title),
        ("byline", &a.byline, &b.byline),
        ("published", &a.published, &b.published),
        ("modified", &a.modified, &b.modified),
    ]
    .into_iter()
    .filter(|(_, x, y)| x != y)
    .map(|(k, x, y)| {
        (
            k,
            x.clone().unwrap_or_default(),
            y.clone().unwrap_or_default(),
        )
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(title: &str, text: &str) -> Article {
        Article {
            title: Some(title.into()),
            text: text.into(),
            ..Article::default()
        }
    }

    #[test]
    fn normalization_folds_whitespace_and_composes_unicode() {
        // "Erdog\u{306}an" (combining breve) composes to "Erdoğan".
        let t = normalize_text("  Erdog\u{306}an   said\n\n\n\n  Çevik\tKuvvet \n");
        assert_eq!(t, "Erdoğan said\n\nÇevik Kuvvet");
    }

    proptest::proptest! {
        /// The quick NFC check never changes the result: text it lets
        /// through unchanged is what full composition would give.
        #[test]
        fn the_nfc_quick_path_equals_full_composition(
            text in "([a-zA-Z \n\t\r\x0b\x0c\x1f]|\n\n|\u{85}|\u{a0}|\u{2028}|\u{202f}|\u{3000}|e\u{301}|\u{e9}|o\u{308}\u{301}|\u{1100}\u{1161}|\u{212b}|\u{fb01}|\u{306}|\u{3099}|\u{304b}){0,40}"
        ) {
            let full: String = text.nfc().collect();
            let mut slow = Vec::new();
            for para in full.split("\n\n") {
                let folded = para.split_whitespace().collect::<Vec<_>>().join(" ");
                if !folded.is_empty() {
                    slow.push(folded);
                }
            }
            proptest::prop_assert_eq!(normalize_text(&text), slow.join("\n\n"));
        }
    }

    #[test]
    fn whitespace_and_composition_do_not_change_the_hash() {
        let a = fingerprint(&article("Türkiye", "One  paragraph.\n\nTwo."));
        let b = fingerprint(&article("Tu\u{308}rkiye", "One paragraph.\n\n\n\nTwo. "));
        assert_eq!(a.content_hash, b.content_hash);
    }

    #[test]
    fn a_changed_word_changes_the_hash_and_names_the_field() {
        let a = fingerprint(&article("T", "Turkey may send police."));
        let b = fingerprint(&article("T", "Turkey will send police."));
        assert_ne!(a.content_hash, b.content_hash);
        assert_eq!(
            changed_fields(&a.field_hashes, &b.field_hashes),
            vec!["body"]
        );
    }

    #[test]
    fn modified_date_alone_is_metadata_only() {
        let mut a = article("T", "Body.");
        let fa = fingerprint(&a);
        a.modified = Some("2026-01-02T00:00:00Z".into());
        let fb = fingerprint(&a);
        assert_eq!(fa.content_hash, fb.content_hash);
        let fields = changed_fields(&fa.field_hashes, &fb.field_hashes);
        assert_eq!(fields, vec!["modified"]);
        assert!(is_metadata_only(&fields));
    }

    #[test]
    fn declared_needs_a_newer_date_or_a_note() {
        let old = fingerprint(&article("T", "Body."));
        let stealth = fingerprint(&article("T", "Body, edited."));
        let noted = fingerprint(&article(
            "T",
            "Body, edited.\n\nCorrection: an earlier version misspelled a name.",
        ));
        assert!(!is_declared(&old, &stealth));
        assert!(is_declared(&old, &noted));
    }
}

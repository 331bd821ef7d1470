//! How much a change matters, by documented rules, so that a reader can
//! filter a feed of edits without opening each one. Significance filters,
//! never deletes: every change is recorded and listed whatever its level.
//!
//! - **trivial**: only white space, punctuation or letter case changed; a
//!   word corrected by one or two letters (a typo: both spellings at least
//!   four letters long); a number written differently with the same value
//!   (`1,000` → `1000`).
//! - **substantive**: the headline or the byline changed; a sentence was
//!   added or removed; a number changed its value; a name changed (a word
//!   written with a capital inside a sentence); a quotation changed (text
//!   inside quotation marks).
//! - **minor**: anything else (a word replaced, a phrase reworded).
//!
//! The level is the highest any part of the change reaches; the reasons
//! say which rule decided it.

use serde::Serialize;

use super::words::{Segment, WordDiff};

/// How much a change matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trivial,
    Minor,
    Substantive,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trivial => "trivial",
            Level::Minor => "minor",
            Level::Substantive => "substantive",
        }
    }

    /// `trivial`, `minor` or `substantive`, as a filter names it.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "trivial" => Some(Level::Trivial),
            "minor" => Some(Level::Minor),
            "substantive" => Some(Level::Substantive),
            _ => None,
        }
    }
}

/// A change's level and the rules that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Significance {
    pub level: Level,
    pub reasons: Vec<String>,
}

impl Significance {
    fn new() -> Significance {
        Significance {
            level: Level::Trivial,
            reasons: Vec::new(),
        }
    }

    fn add(&mut self, level: Level, reason: impl Into<String>) {
        let reason = reason.into();
        if level > self.level {
            self.level = level;
        }
        if !self.reasons.contains(&reason) {
            self.reasons.push(reason);
        }
    }

    /// The reasons of the deciding level, for one line of text.
    pub fn summary(&self) -> String {
        if self.reasons.is_empty() {
            return self.level.as_str().to_string();
        }
        format!("{}: {}", self.level.as_str(), self.reasons.join("; "))
    }
}

/// What changed between two revisions, for [`assess`].
pub struct Change<'a> {
    pub diff: &'a WordDiff,
    /// Metadata changes as (field, before, after): `title`, `byline`,
    /// `published`, `modified`.
    pub metadata: &'a [(&'static str, String, String)],
}

/// A change between two stored revisions as every screen judges it: the
/// word diff of their normalized texts, the metadata changes, and the
/// significance (what `changes`, the web feed and the webhook check read).
pub fn of_revisions(
    a: &crate::extract::Article,
    b: &crate::extract::Article,
) -> (WordDiff, Vec<(&'static str, String, String)>, Significance) {
    let words = super::words::diff(
        &super::normalize_text(&a.text),
        &super::normalize_text(&b.text),
    );
    let (metadata, significance) = between(a, b, &words);
    (words, metadata, significance)
}

/// The metadata changes from article `a` to `b` and the significance of
/// the whole change, whose texts `words` diffs.
pub fn between(
    a: &crate::extract::Article,
    b: &crate::extract::Article,
    words: &WordDiff,
) -> (Vec<(&'static str, String, String)>, Significance) {
    let metadata = super::metadata_changes(a, b);
    let significance = assess(&Change {
        diff: words,
        metadata: &metadata,
    });
    (metadata, significance)
}

/// The significance of a change ([the rules](self)).
pub fn assess(change: &Change<'_>) -> Significance {
    let mut s = Significance::new();
    for (field, before, after) in change.metadata {
        match *field {
            "title" => s.add(Level::Substantive, "the headline changed"),
            "byline" => s.add(Level::Substantive, "the byline changed"),
            _ if squash(before) == squash(after) => s.add(Level::Trivial, "a date reformatted"),
            _ => s.add(Level::Minor, format!("the {field} date changed")),
        }
    }
    // One pass over the diff: the new text before each change is only
    // counted (quotation marks, its last character), never copied.
    let segments = &change.diff.segments;
    let mut before = Before::default();
    let mut i = 0;
    while let Some(seg) = segments.get(i) {
        match (seg, segments.get(i + 1)) {
            (Segment::Same(t), _) => {
                before.feed(t);
                i += 1;
            }
            // A removal followed by an addition is one replacement.
            (Segment::Removed(r), Some(Segment::Added(a))) => {
                judge(&mut s, r, a, &before);
                before.feed(a);
                i += 2;
            }
            (Segment::Removed(r), _) => {
                judge(&mut s, r, "", &before);
                i += 1;
            }
            (Segment::Added(a), _) => {
                judge(&mut s, "", a, &before);
                before.feed(a);
                i += 1;
            }
        }
    }
    s
}

/// What [`judge`] needs of the new text before a change, kept as the diff
/// is read.
#[derive(Default)]
struct Before {
    /// Straight quotation marks (`"`).
    straight: usize,
    /// Opening and closing typographic marks (`“ „ «` and `” »`).
    opened: usize,
    closed: usize,
    /// The last character that is not white space.
    last: Option<char>,
}

impl Before {
    fn feed(&mut self, t: &str) {
        for c in t.chars() {
            match c {
                '"' => self.straight += 1,
                '“' | '„' | '«' => self.opened += 1,
                '”' | '»' => self.closed += 1,
                _ => {}
            }
            if !c.is_whitespace() {
                self.last = Some(c);
            }
        }
    }

    /// Inside a quotation: an opening mark not yet closed.
    fn inside_quotation(&self) -> bool {
        self.straight % 2 == 1 || self.opened > self.closed
    }

    /// At the start of the text or of a sentence.
    fn sentence_start(&self) -> bool {
        self.last
            .is_none_or(|c| matches!(c, '.' | '!' | '?' | '…' | ':'))
    }
}

/// Judges one changed run: `removed` replaced by `added` (either may be
/// empty), after the new text `before` it.
fn judge(s: &mut Significance, removed: &str, added: &str, before: &Before) {
    let words = |t: &str| t.split_whitespace().count();
    // A whole sentence in or out.
    for (run, what) in [(added, "added"), (removed, "removed")] {
        if words(run) >= 5
            && run
                .trim_end()
                .ends_with(['.', '!', '?', '…', '”', '"', '»'])
        {
            s.add(Level::Substantive, format!("a sentence {what}"));
            return;
        }
    }
    let (old_numbers, new_numbers) = (numbers(removed), numbers(added));
    if old_numbers != new_numbers {
        let show = |n: &[String]| n.join(", ");
        s.add(
            Level::Substantive,
            if old_numbers.is_empty() || new_numbers.is_empty() {
                "a number added or removed".to_string()
            } else {
                format!(
                    "a number changed ({} → {})",
                    show(&old_numbers),
                    show(&new_numbers)
                )
            },
        );
        return;
    }
    if before.inside_quotation() {
        s.add(Level::Substantive, "a quotation changed");
        return;
    }
    if squash(removed) == squash(added) {
        if !old_numbers.is_empty() && removed.split_whitespace().ne(added.split_whitespace()) {
            s.add(Level::Trivial, "a number written differently");
        } else {
            s.add(Level::Trivial, "punctuation, case or spacing");
        }
        return;
    }
    let (old_words, new_words): (Vec<&str>, Vec<&str>) = (
        removed.split_whitespace().collect(),
        added.split_whitespace().collect(),
    );
    let names = |ws: &[&str]| -> Vec<String> {
        ws.iter()
            .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
            .map(|w| squash(w))
            .collect()
    };
    let sentence_start = before.sentence_start();
    if old_words.len() == new_words.len()
        && old_words
            .iter()
            .zip(&new_words)
            .all(|(a, b)| typo(&squash(a), &squash(b)))
    {
        s.add(Level::Trivial, "a typo corrected");
        return;
    }
    let (old_names, new_names) = (names(&old_words), names(&new_words));
    let first_is_start = |ws: &[&str]| sentence_start && ws.len() == 1;
    if old_names != new_names && !(first_is_start(&old_words) && first_is_start(&new_words)) {
        s.add(Level::Substantive, "a name changed");
        return;
    }
    s.add(Level::Minor, "words changed");
}

/// Letters and digits only, lower case: what stays when punctuation, case
/// and spacing are set aside.
fn squash(t: &str) -> String {
    t.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The numbers written in `t`, by value: digits with their group and
/// decimal separators taken out (`1,000` and `1000` are one number; a
/// changed digit is another).
fn numbers(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = t.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let between_digits = || {
            i > 0
                && chars.get(i - 1).is_some_and(char::is_ascii_digit)
                && chars.get(i + 1).is_some_and(char::is_ascii_digit)
        };
        if c.is_ascii_digit() {
            current.push(*c);
        } else if matches!(c, ',' | '.' | '\u{a0}' | '\u{202f}' | '\'' | ' ') && between_digits() {
            continue;
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The longest word, in bytes, [`typo`] compares.
const MAX_TYPO_BYTES: usize = 64;

/// Whether `a` and `b` are one word spelt two ways: at least four letters
/// each and at most two letters apart (inserted, removed or replaced).
fn typo(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    // A "word" of a page without spaces can be any length: past a long
    // word's length, it is no typo (and the distance is not computed).
    if a.len() > MAX_TYPO_BYTES || b.len() > MAX_TYPO_BYTES {
        return false;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len() < 4 || b.len() < 4 || a.len().abs_diff(b.len()) > 2 {
        return false;
    }
    // Levenshtein distance, one row at a time.
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let (left, up) = (
                row.get(j).copied().unwrap_or(0),
                row.get(j + 1).copied().unwrap_or(0),
            );
            let value = (prev + cost).min(left + 1).min(up + 1);
            prev = up;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = value;
            }
        }
    }
    row.last().is_some_and(|d| *d <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::words::diff;

    fn level(old: &str, new: &str) -> (Level, Vec<String>) {
        let d = diff(old, new);
        let s = assess(&Change {
            diff: &d,
            metadata: &[],
        });
        (s.level, s.reasons)
    }

    const TEXT: &str = "The council met on Tuesday. Mayor Anna Berg said the bridge would stay open, and 1,200 residents signed the petition. \"We will not close it,\" she said.";

    #[test]
    fn punctuation_case_spacing_typos_and_number_formats_are_trivial() {
        for new in [
            TEXT.replace("open, and", "open and"),
            TEXT.replace("The council", "the council"),
            TEXT.replace("met on", "met  on"),
            TEXT.replace("petition", "petiton"),
            TEXT.replace("1,200", "1200"),
        ] {
            let (l, why) = level(TEXT, &new);
            assert_eq!(l, Level::Trivial, "{new}: {why:?}");
        }
    }

    #[test]
    fn numbers_names_quotations_sentences_and_headlines_are_substantive() {
        for (new, reason) in [
            (TEXT.replace("1,200", "1,300"), "a number changed"),
            (TEXT.replace("Anna Berg", "Anna Lind"), "a name changed"),
            (
                TEXT.replace("not close it", "not keep it"),
                "a quotation changed",
            ),
            (
                format!("{TEXT} The engineers had warned against it for years."),
                "a sentence added",
            ),
            (
                TEXT.replace("The council met on Tuesday. ", ""),
                "a sentence removed",
            ),
        ] {
            let (l, why) = level(TEXT, &new);
            assert_eq!(l, Level::Substantive, "{new}: {why:?}");
            assert!(
                why.iter().any(|w| w.starts_with(reason)),
                "{reason}: {why:?}"
            );
        }
        let d = diff(TEXT, TEXT);
        let s = assess(&Change {
            diff: &d,
            metadata: &[("title", "Bridge stays".into(), "Bridge closes".into())],
        });
        assert_eq!(s.level, Level::Substantive);
        assert_eq!(s.reasons, ["the headline changed"]);
    }

    #[test]
    fn a_word_replaced_is_minor() {
        let (l, why) = level(
            TEXT,
            &TEXT.replace("signed the petition", "backed the petition"),
        );
        assert_eq!(l, Level::Minor, "{why:?}");
    }

    #[test]
    fn the_highest_level_decides() {
        let new = TEXT
            .replace("petition", "petiton")
            .replace("1,200", "1,300");
        let (l, why) = level(TEXT, &new);
        assert_eq!(l, Level::Substantive, "{why:?}");
        assert!(why.contains(&"a typo corrected".to_string()), "{why:?}");
    }

    proptest::proptest! {
        /// Any two texts are judged without a panic; a headline change is
        /// substantive whatever the texts; equal texts give no reason.
        #[test]
        fn any_two_texts_are_judged(old in "\\PC{0,120}", new in "\\PC{0,120}") {
            let d = diff(&old, &new);
            let title = [("title", old.clone(), new.clone())];
            let s = assess(&Change { diff: &d, metadata: &title });
            proptest::prop_assert_eq!(s.level, Level::Substantive);
            let s = assess(&Change { diff: &d, metadata: &[] });
            proptest::prop_assert!(old != new || s.reasons.is_empty());
        }
    }

    #[test]
    fn a_long_word_is_no_typo() {
        let long = "x".repeat(10_000);
        assert!(!typo(&long, &format!("{long}y")));
    }

    #[test]
    fn typo_distance() {
        assert!(typo("petition", "petiton"));
        assert!(typo("recieve", "receive"));
        assert!(!typo("cat", "cut"), "short words are not typos");
        assert!(!typo("open", "closed"));
    }
}

//! Word-level diffs between two revisions' texts.

use similar::{ChangeTag, TextDiff};
use std::time::Duration;

/// Bound on diff time: past it `similar` falls back to a coarser diff.
const DEADLINE: Duration = Duration::from_secs(2);

/// One run of the diff: kept, inserted or deleted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Same(String),
    Added(String),
    Removed(String),
}

/// A word-level diff and its counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WordDiff {
    pub segments: Vec<Segment>,
    pub words_added: u64,
    pub words_removed: u64,
}

fn count_words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

/// Diffs `old` against `new` by Unicode words, merging adjacent runs.
pub fn diff(old: &str, new: &str) -> WordDiff {
    let diff = TextDiff::configure()
        .timeout(DEADLINE)
        .diff_unicode_words(old, new);
    let mut out = WordDiff::default();
    for change in diff.iter_all_changes() {
        let text = change.value();
        let seg = match change.tag() {
            ChangeTag::Equal => Segment::Same(text.to_string()),
            ChangeTag::Insert => {
                out.words_added += count_words(text);
                Segment::Added(text.to_string())
            }
            ChangeTag::Delete => {
                out.words_removed += count_words(text);
                Segment::Removed(text.to_string())
            }
        };
        match (out.segments.last_mut(), seg) {
            (Some(Segment::Same(a)), Segment::Same(b)) => a.push_str(&b),
            (Some(Segment::Added(a)), Segment::Added(b)) => a.push_str(&b),
            (Some(Segment::Removed(a)), Segment::Removed(b)) => a.push_str(&b),
            (_, seg) => out.segments.push(seg),
        }
    }
    out
}

/// Renders a diff for a terminal (`color`) or as plain text with `[-…-]{+…+}` marks.
pub fn render(diff: &WordDiff, color: bool) -> String {
    let mut out = String::new();
    for seg in &diff.segments {
        match (seg, color) {
            (Segment::Same(s), _) => out.push_str(s),
            (Segment::Added(s), true) => out.push_str(&format!("\x1b[1;32m{s}\x1b[0m")),
            (Segment::Removed(s), true) => out.push_str(&format!("\x1b[1;31;9m{s}\x1b[0m")),
            (Segment::Added(s), false) => out.push_str(&format!("{{+{s}+}}")),
            (Segment::Removed(s), false) => out.push_str(&format!("[-{s}-]")),
        }
    }
    out
}

/// Only the changed passages with a few words of context, for logs and reports.
pub fn excerpt(diff: &WordDiff, context_words: usize) -> Vec<String> {
    let mut hunks = Vec::new();
    for (i, seg) in diff.segments.iter().enumerate() {
        let (mark, text) = match seg {
            Segment::Same(_) => continue,
            Segment::Added(s) => ("+", s),
            Segment::Removed(s) => ("-", s),
        };
        let before = match i.checked_sub(1).and_then(|j| diff.segments.get(j)) {
            Some(Segment::Same(s)) => tail_words(s, context_words),
            _ => String::new(),
        };
        let after = match diff.segments.get(i + 1) {
            Some(Segment::Same(s)) => head_words(s, context_words),
            _ => String::new(),
        };
        let body: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        hunks.push(
            format!("{before} {mark}[{body}] {after}")
                .trim()
                .to_string(),
        );
    }
    hunks
}

fn tail_words(s: &str, n: usize) -> String {
    let w: Vec<&str> = s.split_whitespace().collect();
    let start = w.len().saturating_sub(n);
    let prefix = if start > 0 { "… " } else { "" };
    format!("{prefix}{}", w.get(start..).unwrap_or_default().join(" "))
}

fn head_words(s: &str, n: usize) -> String {
    let w: Vec<&str> = s.split_whitespace().collect();
    let suffix = if w.len() > n { " …" } else { "" };
    format!("{}{suffix}", w.get(..n).unwrap_or(&w).join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_added_and_removed_words() {
        let d = diff(
            "Turkey may send its police",
            "Turkey will send its riot police",
        );
        assert_eq!(d.words_added, 2);
        assert_eq!(d.words_removed, 1);
        assert_eq!(
            render(&d, false),
            "Turkey [-may-]{+will+} send its {+riot +}police"
        );
    }

    #[test]
    fn identical_texts_have_no_changes() {
        let d = diff("Çevik Kuvvet", "Çevik Kuvvet");
        assert_eq!((d.words_added, d.words_removed), (0, 0));
        assert!(excerpt(&d, 3).is_empty());
    }

    #[test]
    fn excerpt_shows_context() {
        let d = diff("a b c d e f g", "a b c X e f g");
        assert_eq!(excerpt(&d, 2), vec!["… b c -[d]", "+[X] e f …"]);
    }
}

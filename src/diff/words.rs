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
/// Against an empty side (a new article, an emptied one) there is nothing
/// to align: the diff is one run, counted by the same word tokens.
pub fn diff(old: &str, new: &str) -> WordDiff {
    match (old.is_empty(), new.is_empty()) {
        (true, true) => WordDiff::default(),
        (true, false) => WordDiff {
            segments: vec![Segment::Added(new.to_string())],
            words_added: tokens(new),
            words_removed: 0,
        },
        (false, true) => WordDiff {
            segments: vec![Segment::Removed(old.to_string())],
            words_added: 0,
            words_removed: tokens(old),
        },
        (false, false) => aligned(old, new),
    }
}

/// The words of `s` as a diff counts them: the Unicode word-boundary
/// segments (UAX #29) that are not white space, each counted by its
/// whitespace-separated words. Every new article's text is counted, so
/// ASCII runs (most of any text) take [`ascii_tokens`], which gives the
/// same count without the Unicode tables.
///
/// The text is cut at ASCII white space. No rule joins a character to the
/// white space after it, and what joins to white space before it (a space
/// run, a combining mark after a space) adds no word or the same word
/// when that one white-space character is segmented with it. So each run
/// between ASCII white space counts alone: an ASCII run by
/// [`ascii_tokens`], any other with the white space before it by the
/// Unicode segmenter.
fn tokens(s: &str) -> u64 {
    use unicode_segmentation::UnicodeSegmentation as _;
    let b = s.as_bytes();
    if b.is_ascii() {
        return ascii_tokens(b);
    }
    let mut count = 0;
    for (at, run) in super::ascii_space_runs(s) {
        count += if run.is_ascii() {
            ascii_tokens(run.as_bytes())
        } else {
            // The white space before the run, if any, is one byte.
            s.get(at.saturating_sub(1)..at + run.len())
                .unwrap_or_default()
                .split_word_bounds()
                .map(count_words)
                .sum()
        };
    }
    count
}

/// [`tokens`] for ASCII: UAX #29 restricted to ASCII joins letters, digits
/// and `_` (WB5, WB8–WB10, WB13a–b); a letter, `:` `.` or `'`, letter
/// (WB6–7); and a digit, `,` `;` `.` or `'`, digit (WB11–12). Runs of
/// spaces and CR LF are one segment each but white space counts nothing;
/// every other character is a segment of its own. No segment mixes white
/// space with anything else, so each other segment is one word.
fn ascii_tokens(b: &[u8]) -> u64 {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut count = 0;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        i += 1;
        if super::is_ascii_space(c) {
            continue;
        }
        count += 1;
        if !word(c) {
            continue;
        }
        // Extend the word: `last` is its last character.
        let mut last = c;
        while let Some(&n) = b.get(i) {
            if word(n) {
                last = n;
                i += 1;
                continue;
            }
            let after = b.get(i + 1).copied().unwrap_or(0);
            let joins = (last.is_ascii_alphabetic()
                && matches!(n, b':' | b'.' | b'\'')
                && after.is_ascii_alphabetic())
                || (last.is_ascii_digit()
                    && matches!(n, b',' | b';' | b'.' | b'\'')
                    && after.is_ascii_digit());
            if !joins {
                break;
            }
            last = after;
            i += 2;
        }
    }
    count
}

/// [`diff`] by alignment (`similar`), for two non-empty texts.
fn aligned(old: &str, new: &str) -> WordDiff {
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
/// Whitespace at either end of a changed run is written outside its marks.
pub fn render(diff: &WordDiff, color: bool) -> String {
    let mut out = String::new();
    for seg in &diff.segments {
        let (s, open, close) = match (seg, color) {
            (Segment::Same(s), _) => {
                out.push_str(s);
                continue;
            }
            (Segment::Added(s), true) => (s, "\x1b[1;32m", "\x1b[0m"),
            (Segment::Removed(s), true) => (s, "\x1b[1;31;9m", "\x1b[0m"),
            (Segment::Added(s), false) => (s, "{+", "+}"),
            (Segment::Removed(s), false) => (s, "[-", "-]"),
        };
        let core = s.trim();
        let lead = s.len() - s.trim_start().len();
        out.push_str(s.get(..lead).unwrap_or_default());
        if !core.is_empty() {
            out.push_str(open);
            out.push_str(core);
            out.push_str(close);
        }
        out.push_str(s.get(lead + core.len()..).unwrap_or_default());
    }
    out
}

/// Diffs revision texts in chronological order whatever the order asked:
/// `diff_between(b, a)` is the mirror of `diff_between(a, b)` (added and
/// removed swapped), so both directions align the same way.
pub fn diff_ordered(old: &str, new: &str, old_is_earlier: bool) -> WordDiff {
    if old_is_earlier {
        return diff(old, new);
    }
    let forward = diff(new, old);
    WordDiff {
        segments: forward
            .segments
            .into_iter()
            .map(|s| match s {
                Segment::Added(t) => Segment::Removed(t),
                Segment::Removed(t) => Segment::Added(t),
                same => same,
            })
            .collect(),
        words_added: forward.words_removed,
        words_removed: forward.words_added,
    }
}

/// The changed passages with `context_words` of context on each side. A
/// replacement (removed then added) and changes closer together than twice
/// the context make one hunk, so no word is shown twice.
pub fn hunks(diff: &WordDiff, context_words: usize) -> Vec<Vec<Segment>> {
    let segs = &diff.segments;
    let mut out: Vec<Vec<Segment>> = Vec::new();
    let mut current: Vec<Segment> = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        match seg {
            Segment::Same(s) => {
                let n = s.split_whitespace().count();
                let tail_words = |s: &str, k| {
                    let mut t = tail_words(s, k);
                    if s.ends_with(char::is_whitespace) {
                        t.push(' ');
                    }
                    t
                };
                let head_words = |s: &str, k| {
                    let h = head_words(s, k);
                    if s.starts_with(char::is_whitespace) {
                        format!(" {h}")
                    } else {
                        h
                    }
                };
                let last = i + 1 == segs.len();
                if current.is_empty() {
                    if !last {
                        current.push(Segment::Same(tail_words(s, context_words)));
                    }
                } else if last || n > 2 * context_words {
                    current.push(Segment::Same(head_words(s, context_words)));
                    out.push(std::mem::take(&mut current));
                    if !last {
                        current.push(Segment::Same(tail_words(s, context_words)));
                    }
                } else {
                    current.push(Segment::Same(s.clone()));
                }
            }
            changed => current.push(changed.clone()),
        }
    }
    if current.iter().any(|s| !matches!(s, Segment::Same(_))) {
        out.push(current);
    }
    out
}

/// One hunk as text: `… before [-removed-]{+added+} after …`.
pub fn render_hunk(hunk: &[Segment]) -> String {
    let mut out = String::new();
    for seg in hunk {
        match seg {
            Segment::Same(s) => out.push_str(s),
            Segment::Added(s) => {
                if s.starts_with(char::is_whitespace) {
                    out.push(' ');
                }
                out.push_str("{+");
                out.push_str(s.trim());
                out.push_str("+}");
                if s.ends_with(char::is_whitespace) {
                    out.push(' ');
                }
            }
            Segment::Removed(s) => {
                if s.starts_with(char::is_whitespace) {
                    out.push(' ');
                }
                out.push_str("[-");
                out.push_str(s.trim());
                out.push_str("-]");
                if s.ends_with(char::is_whitespace) {
                    out.push(' ');
                }
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Only the changed passages with a few words of context, for logs,
/// webhooks and reports: one line per hunk, every word once.
/// A hunk longer than [`MAX_HUNK_WORDS`] is cut there, with an ellipsis.
pub fn excerpt(diff: &WordDiff, context_words: usize) -> Vec<String> {
    hunks(diff, context_words)
        .iter()
        .map(|h| {
            let text = render_hunk(h);
            let words: Vec<&str> = text.split(' ').collect();
            if words.len() <= MAX_HUNK_WORDS {
                return text;
            }
            let mut cut = words.get(..MAX_HUNK_WORDS).unwrap_or_default().join(" ");
            // Close a mark left open by the cut.
            let open_add = cut.matches("{+").count() > cut.matches("+}").count();
            let open_del = cut.matches("[-").count() > cut.matches("-]").count();
            if open_add {
                cut.push_str("+}");
            }
            if open_del {
                cut.push_str("-]");
            }
            cut.push_str(" …");
            cut
        })
        .collect()
}

/// The longest excerpt line, in words: log lines and webhooks stay bounded
/// however much of a page changed.
pub const MAX_HUNK_WORDS: usize = 80;

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

    proptest::proptest! {
        /// Against an empty side the shortcut gives what alignment gives:
        /// the same one run and the same word count (punctuation, marks
        /// after a space and CJK included).
        #[test]
        fn a_diff_against_nothing_equals_the_aligned_diff(
            text in "([a-z]{1,6}|[ \n,.;'’-]|\u{301}|\u{200d}|\u{4e2d}\u{6587}|\u{1f600}|\u{0627}\u{0644}){1,30}"
        ) {
            proptest::prop_assert_eq!(diff("", &text), aligned("", &text));
            proptest::prop_assert_eq!(diff(&text, ""), aligned(&text, ""));
        }
    }

    proptest::proptest! {
        /// The ASCII count is the Unicode segmentation's count.
        #[test]
        fn ascii_tokens_count_as_word_bounds_do(
            text in "([a-zA-Z]{1,4}|[0-9]{1,3}|[ _.,:;'\"!?()/&-]|\r\n|\t|\n|\r|\x0b|\x0c){0,40}"
        ) {
            use unicode_segmentation::UnicodeSegmentation as _;
            let unicode: u64 = text.split_word_bounds().map(count_words).sum();
            proptest::prop_assert_eq!(ascii_tokens(text.as_bytes()), unicode, "{:?}", text);
        }
    }

    proptest::proptest! {
        /// Counting run by run is counting the whole text: ASCII runs,
        /// other runs, and what UAX #29 joins across white space (marks
        /// and joiners after a space, ideographic spaces, CR LF).
        #[test]
        fn tokens_count_as_word_bounds_do(
            text in "([a-zA-Z]{1,4}|[0-9]{1,3}|[ _.,:;'\"!?-]|\r\n|\t|\n|\r|\x0b|\x0c|\u{301}|\u{200d}|\u{200c}|\u{ff9e}|\u{1f3fb}|\u{3000}|\u{202f}|\u{a0}|\u{2019}|\u{e9}|\u{4e2d}|\u{30ab}|\u{05d0}|\u{1f600}|\u{1f1e6}|\u{2764}){0,40}"
        ) {
            use unicode_segmentation::UnicodeSegmentation as _;
            let unicode: u64 = text.split_word_bounds().map(count_words).sum();
            proptest::prop_assert_eq!(tokens(&text), unicode, "{:?}", text);
        }
    }

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
            "Turkey [-may-]{+will+} send its {+riot+} police"
        );
    }

    #[test]
    fn identical_texts_have_no_changes() {
        let d = diff("Çevik Kuvvet", "Çevik Kuvvet");
        assert_eq!((d.words_added, d.words_removed), (0, 0));
        assert!(excerpt(&d, 3).is_empty());
    }

    #[test]
    fn excerpt_shows_a_replacement_once_with_its_context() {
        let d = diff("a b c d e f g", "a b c X e f g");
        assert_eq!(excerpt(&d, 2), vec!["… b c [-d-]{+X+} e f …"]);
        // Two changes far apart are two hunks; close together, one.
        let old = "one two three four five six seven eight nine ten eleven twelve";
        let new = "one TWO three four five six seven eight nine ten ELEVEN twelve";
        assert_eq!(
            excerpt(&diff(old, new), 2),
            vec![
                "one [-two-]{+TWO+} three four …",
                "… nine ten [-eleven-]{+ELEVEN+} twelve"
            ]
        );
        let long_old = "w ".repeat(300);
        let long_new = "v ".repeat(300);
        let cut = excerpt(&diff(&long_old, &long_new), 3);
        assert_eq!(cut.len(), 1);
        assert!(cut[0].split(' ').count() <= MAX_HUNK_WORDS + 1);
        assert!(
            cut[0].ends_with("-] …") || cut[0].ends_with("+} …"),
            "{}",
            cut[0]
        );
        let near = "one TWO three four five six seven eight nine ten eleven twelve"
            .replace("four", "FOUR");
        assert_eq!(excerpt(&diff(old, &near), 2).len(), 1);
    }

    #[test]
    fn both_directions_align_the_same_way() {
        let a = "the minister said the police would go on monday and stay a week";
        let b = "the minister said police would not go until tuesday and stay a week";
        let ab = diff_ordered(a, b, true);
        let ba = diff_ordered(b, a, false);
        assert_eq!(
            (ab.words_added, ab.words_removed),
            (ba.words_removed, ba.words_added)
        );
        let swapped = render(&ba, false)
            .replace("[-", "\u{1}")
            .replace("-]", "\u{2}")
            .replace("{+", "[-")
            .replace("+}", "-]")
            .replace('\u{1}', "{+")
            .replace('\u{2}', "+}");
        assert_eq!(render(&ab, false), swapped);
    }
}

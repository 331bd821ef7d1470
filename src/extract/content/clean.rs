//! Cleaning inside the chosen roots: link lists and chrome dropped, a
//! sentence around a link, a data table's plain cells and short code kept.

use super::classes::Classes;
use super::lead::{SENTENCE_END, holds};
use super::score::Score;
use super::{IdMap, N, Removed, Stats, element, inline_text};

/// Conditional cleaning inside the chosen content: containers that look
/// like link lists, share bars, galleries or forms are pruned.
pub fn clean_inside(
    roots: &[N<'_>],
    scores: &IdMap<Score>,
    stats: &Stats,
    classes: &Classes,
) -> Removed {
    let mut removed = Removed::default();
    for root in roots {
        for n in root.descendants().skip(1) {
            if stats.is_dead(n.id()) {
                continue;
            }
            let Some(e) = element(n) else { continue };
            let tag = e.name();
            if !matches!(
                tag,
                "div"
                    | "section"
                    | "ul"
                    | "ol"
                    | "table"
                    | "form"
                    | "p"
                    | "dl"
                    | "span"
                    | "blockquote"
            ) {
                continue;
            }
            // A span inside a paragraph, item, cell or heading is words of
            // its sentence, links or not ("branches of <span><a>JPMorgan
            // Chase</a></span> gathered"): removing it would cut the sentence.
            if tag == "span" && in_sentence(n) {
                continue;
            }
            let st = stats.get(n.id());
            let weight = classes.weight(n);
            // A list scores below zero by its tag alone (items are not
            // paragraphs); only a chrome-like class makes it junk here.
            let plain_list = weight >= 0.0 && matches!(tag, "ul" | "ol") && st.link_density() < 0.3;
            if !plain_list
                && weight + scores.get(&n.id()).map_or(0.0, |s| s.total) < 0.0
                && st.text < 500
            {
                removed.insert(n.id());
                continue;
            }
            let ld = st.link_density();
            let text = st.text;
            // A paragraph or list that is mostly links is navigation
            // ("Related: …"), unless it says something of its own: a
            // paragraph with a sentence outside its links, a table with a
            // cell of text that is not a link.
            let says_more = (tag == "p"
                && text.saturating_sub(st.links) >= 30
                && inline_text(n, stats).trim_end().ends_with(SENTENCE_END))
                || (tag == "table" && has_plain_cell(n, stats));
            if ld > 0.5 && text < 300 && !matches!(tag, "blockquote") && !says_more {
                removed.insert(n.id());
                continue;
            }
            if tag == "p" || tag == "span" || tag == "blockquote" {
                continue;
            }
            let p = st.paragraphs as f64;
            let bad = (st.images > 1 && p / (st.images as f64) < 0.5 && text < 200)
                || (!matches!(tag, "ul" | "ol") && st.items as f64 > p + 1.0 && ld > 0.3)
                || (text < 25
                    && (st.images == 0 || st.images > 2)
                    && !has_heading(n)
                    && !holds(n, &["pre", "code"]))
                || (weight < 25.0 && ld > 0.5 && text < 1000 && !says_more)
                || (weight >= 25.0 && ld > 0.5);
            if bad {
                removed.insert(n.id());
            }
        }
    }
    removed
}

/// Whether a table has a cell with text outside links (a table of data,
/// not of links).
pub(super) fn has_plain_cell(table: N<'_>, stats: &Stats) -> bool {
    table
        .descendants()
        .filter(|d| element(*d).is_some_and(|e| matches!(e.name(), "td" | "th")))
        .any(|cell| {
            let st = stats.get(cell.id());
            st.text > 0 && st.links == 0
        })
}

/// Whether an inline element stands in running text: its nearest block
/// ancestor is a paragraph, list item, table cell, heading or quote.
pub(super) fn in_sentence(n: N<'_>) -> bool {
    n.ancestors()
        .filter_map(element)
        .find(|e| e.is_block() || e.name() == "body")
        .is_some_and(|e| {
            matches!(
                e.name(),
                "p" | "li"
                    | "td"
                    | "th"
                    | "dd"
                    | "dt"
                    | "h1"
                    | "h2"
                    | "h3"
                    | "h4"
                    | "h5"
                    | "h6"
                    | "blockquote"
            )
        })
}

pub(super) fn has_heading(n: N<'_>) -> bool {
    n.descendants().any(|d| {
        element(d).is_some_and(|e| matches!(e.name(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6"))
    })
}

//! An article's page and one revision's page: the timeline of versions,
//! each change shown as its words in place (added, removed, the unchanged
//! text around them folded), and the metadata that changed.

use maud::{Markup, html};

use super::{article_link, enc, layout, pager};
use crate::diff::words::{Segment, WordDiff};
use crate::extract::Article;
use crate::ledger::read::HistoryRow;

/// Words of unchanged text shown around each change; the rest of an
/// unchanged passage is folded into a `<details>` that opens it.
const DIFF_CONTEXT_WORDS: usize = 30;

/// `s` cut after its first `head` words and before its last `tail` words,
/// when more than a few words lie between: (head, middle, tail).
fn fold_words(s: &str, head: usize, tail: usize) -> Option<(&str, &str, &str)> {
    let starts: Vec<usize> = s
        .char_indices()
        .filter(|(i, c)| {
            !c.is_whitespace()
                && (*i == 0
                    || s.get(..*i)
                        .and_then(|b| b.chars().next_back())
                        .is_some_and(char::is_whitespace))
        })
        .map(|(i, _)| i)
        .collect();
    if starts.len() < head + tail + 12 {
        return None;
    }
    let cut_head = if head == 0 { 0 } else { *starts.get(head)? };
    let cut_tail = if tail == 0 {
        s.len()
    } else {
        *starts.get(starts.len() - tail)?
    };
    Some((
        s.get(..cut_head)?,
        s.get(cut_head..cut_tail)?,
        s.get(cut_tail..)?,
    ))
}

/// A word diff as HTML: changed runs in `<ins>`/`<del>`, whitespace at their
/// ends outside, so that a highlight holds exactly the changed words; long
/// unchanged passages folded ([`DIFF_CONTEXT_WORDS`]).
pub fn diff_inline(d: &WordDiff, show_added: bool, show_removed: bool) -> Markup {
    let last = d.segments.len().saturating_sub(1);
    html! {
        @for (i, seg) in d.segments.iter().enumerate() {
            @match seg {
                Segment::Same(s) => {
                    @let head = if i == 0 { 0 } else { DIFF_CONTEXT_WORDS };
                    @let tail = if i == last { 0 } else { DIFF_CONTEXT_WORDS };
                    @if let Some((h, middle, t)) = fold_words(s, head, tail) {
                        (h)
                        details.unchanged {
                            summary { "… " (middle.split_whitespace().count()) " unchanged words" }
                            (middle)
                        }
                        (t)
                    } @else { (s) }
                }
                Segment::Added(s) if show_added => { (lead(s)) ins { (s.trim()) } (trail(s)) }
                Segment::Removed(s) if show_removed => { (lead(s)) del { (s.trim()) } (trail(s)) }
                _ => {}
            }
        }
    }
}

fn lead(s: &str) -> &str {
    s.get(..s.len() - s.trim_start().len()).unwrap_or_default()
}

fn trail(s: &str) -> &str {
    s.get(s.trim_end().len()..).unwrap_or_default()
}

/// A metadata field that differs: (name, before, after).
pub type FieldChange = (&'static str, String, String);

pub struct ArticlePage<'a> {
    pub url: &'a str,
    pub title: Option<&'a str>,
    pub history: &'a [HistoryRow],
    pub revisions: &'a [i64],
    pub from: i64,
    pub to: i64,
    pub side: bool,
    pub diff: Option<(&'a WordDiff, Vec<FieldChange>)>,
    /// Which page of the timeline (1-based, newest first).
    pub timeline_page: usize,
}

/// Stretches of the timeline on one page.
pub const TIMELINE_PER_PAGE: usize = 100;

pub fn article(p: &ArticlePage<'_>) -> Markup {
    layout(
        p.title.unwrap_or(p.url),
        html! {
            h1 { (p.title.unwrap_or(p.url)) }
            p.hash { a href=(p.url) rel="noreferrer noopener" { (p.url) } }
            h2 { "Compare revisions" }
            form method="get" action="/article" {
                input type="hidden" name="url" value=(p.url);
                label { "from " select name="from" { @for r in p.revisions { option value=(r) selected[*r == p.from] { (r) } } } } " "
                label { "to " select name="to" { @for r in p.revisions { option value=(r) selected[*r == p.to] { (r) } } } } " "
                label { "view " select name="view" {
                    option value="inline" selected[!p.side] { "inline" }
                    option value="side" selected[p.side] { "side by side" }
                } } " "
                button type="submit" { "Compare" }
            }
            @if let Some((d, fields)) = &p.diff {
                p { "Revision " (p.from) " → " (p.to) ": " strong { "+" (d.words_added) " −" (d.words_removed) " words" } }
                @for (k, a, b) in fields { p { (k) ": " del { (a) } " → " ins { (b) } } }
                @if p.side {
                    div.side {
                        div { h2 { "Revision " (p.from) } div.text.old { (diff_inline(d, false, true)) } }
                        div { h2 { "Revision " (p.to) } div.text.new { (diff_inline(d, true, false)) } }
                    }
                } @else {
                    div.text.diff { (diff_inline(d, true, true)) }
                }
            } @else {
                p.muted { "One revision so far." }
            }
            h2 { "Timeline, newest first (" (p.history.len()) " stretches)" }
            div.scroll { table {
                tr { th { "from" } th { "to" } th { "shown" } th { "observations" } th { "failed" } th { "entry" } }
                @for h in p.history.iter().rev().skip((p.timeline_page.max(1) - 1) * TIMELINE_PER_PAGE).take(TIMELINE_PER_PAGE) {
                    tr {
                        td { (h.first_seen) } td { (h.last_seen) }
                        td class=(format!("kind-{}", h.kind)) {
                            @if h.kind == "gone" { "gone (404/410)" } @else {
                                a href=(format!("/revision?url={}&rev={}", enc(p.url), h.revision)) { "revision " (h.revision) }
                                " (" (h.kind) @if h.restored { ", restored" } ")"
                            }
                        }
                        td { (h.observations) } td { (h.failed) } td { (h.seq) }
                    }
                }
            } }
            @let tpage = p.timeline_page.max(1);
            @let tlink = |n: usize| format!("/article?url={}&from={}&to={}&tpage={n}", enc(p.url), p.from, p.to);
            (pager(tpage, tpage * TIMELINE_PER_PAGE < p.history.len(), tlink, ("← newer", "older →")))
        },
    )
}

pub fn revision(url: &str, row: &HistoryRow, a: &Article, has_raw: bool) -> Markup {
    let title = a.title.clone().unwrap_or_else(|| url.to_string());
    layout(
        &title,
        html! {
            h1 { (title) }
            p { a href=(article_link(url)) { "← timeline" } }
            table {
                tr { th { "revision" } td { (row.revision) } }
                tr { th { "first seen" } td { (row.first_seen) } }
                tr { th { "last seen" } td { (row.last_seen) } }
                tr { th { "content hash" } td.hash { (row.content_hash) } }
                tr { th { "entry" } td { (row.seq) } }
                tr { th { "byline" } td { (a.byline.as_deref().unwrap_or("")) } }
                tr { th { "published" } td { (a.published.as_deref().unwrap_or("")) } }
                tr { th { "modified" } td { (a.modified.as_deref().unwrap_or("")) } }
            }
            h2 { "Text" }
            div.text { (a.text) }
            @if has_raw {
                h2 { "The page as captured" }
                p.muted { "Shown sandboxed: no script runs and nothing is loaded from elsewhere." }
                iframe sandbox="" title="captured page" src=(format!("/raw?url={}&rev={}", enc(url), row.revision)) {}
            }
        },
    )
}

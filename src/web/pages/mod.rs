//! The web view's pages and the `report` file: maud templates (compile-time,
//! every interpolated string escaped), one stylesheet inline, no script, no
//! external resource; readable on a phone.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::diff::words::WordDiff;
use crate::ledger::read::{ArticleListRow, ChangeView, HistoryRow, Status};

mod article;

pub use article::{ArticlePage, FieldChange, article, diff_inline, revision};

/// What the changes feed is asked for.
pub struct ChangesFilter<'a> {
    pub source: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub since: Option<&'a str>,
    pub significance: Option<&'a str>,
    /// 1-based, [`CHANGES_PER_PAGE`] rows each.
    pub page: usize,
}

/// Rows of one page of the changes feed.
pub const CHANGES_PER_PAGE: usize = 50;
/// Articles on one page of search results.
pub const SEARCH_PER_PAGE: usize = 20;

const STYLE: &str = "
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#1d3557;color:#fff;padding:.6em 1em}
header a{color:#fff;margin-right:1em;text-decoration:none;font-weight:600}
main{max-width:72em;margin:0 auto;padding:1em}
h1{font-size:1.4em;margin:.4em 0}h2{font-size:1.15em}
table{border-collapse:collapse;width:100%}
.scroll{overflow-x:auto}
td,th{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#eef}
code,.hash{font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all}
.text{white-space:pre-wrap;background:#fff;border:1px solid #ddd;padding:1em}
ins{background:#c8f7c5;text-decoration:none}del{background:#f9c0c0}
.side{display:flex;gap:1em;flex-wrap:wrap}.side>div{flex:1 1 20em;min-width:0}details.unchanged{display:inline;color:#666}details.unchanged summary{display:inline;cursor:pointer;color:#36c;white-space:normal}details.unchanged[open]{display:inline}
.kind-changed,.kind-gone{font-weight:700;color:#b00020}.kind-restored{font-weight:700;color:#1d6b1d}
form{margin:.5em 0}input,select,button{font-size:1em}
iframe{width:100%;height:30em;border:1px solid #999;background:#fff}
.muted{color:#666}
@media (max-width:40em){body{font-size:15px}main{padding:.5em}header a{display:inline-block;margin:.2em .8em .2em 0}}
";

/// The frame of every page.
pub fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                link rel="icon" href="data:,";
                title { (title) " — newsledger" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a href="/" { "Changes" }
                    a href="/articles" { "Articles" }
                    a href="/search" { "Search" }
                    a href="/sources" { "Sources" }
                    a href="/status" { "Ledger" }
                    a href="/feed.atom" { "Atom" }
                }
                main { (body) }
            }
        }
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn article_link(url: &str) -> String {
    format!("/article?url={}", enc(url))
}

/// The links to the page before and after `page` (1-based) of a list:
/// `link` makes a page's address, `labels` names the two ways.
fn pager(page: usize, more: bool, link: impl Fn(usize) -> String, labels: (&str, &str)) -> Markup {
    html! {
        nav.pages {
            @if page > 1 { a href=(link(page - 1)) { (labels.0) } " " }
            @if more { a href=(link(page + 1)) { (labels.1) } }
        }
    }
}

/// Where a page of a list is, for its links.
pub struct Paging {
    /// 1-based.
    pub page: usize,
    pub more: bool,
    /// Rows in the whole list, when known without reading them all.
    pub total: Option<usize>,
}

/// The link that shows one change: the diff between its two revisions, a
/// new article's first revision, a removed article's page.
pub fn change_link(v: &ChangeView) -> String {
    let url = enc(&v.row.url);
    match (v.row.from_revision, v.row.to_revision) {
        (Some(a), Some(b)) => format!("/article?url={url}&from={a}&to={b}"),
        (None, Some(b)) => format!("/revision?url={url}&rev={b}"),
        _ => format!("/article?url={url}"),
    }
}

/// The changes feed: per change its kind, label, significance, words,
/// headline and other metadata before → after, and an excerpt; each row
/// links to that change.
pub fn changes(
    rows: &[ChangeView],
    f: &ChangesFilter<'_>,
    sources: &[String],
    paging: Paging,
) -> Markup {
    let kinds = [
        "changed",
        "gone",
        "restored",
        "reverted",
        "metadata",
        "new",
        "rebaseline",
    ];
    let (source, kind, since) = (f.source, f.kind, f.since);
    let page_link = |page: usize| {
        let mut q = vec![format!("page={page}")];
        for (k, v) in [
            ("source", source),
            ("kind", kind),
            ("since", since),
            ("significance", f.significance),
        ] {
            if let Some(v) = v {
                q.push(format!("{k}={}", enc(v)));
            }
        }
        format!("/?{}", q.join("&"))
    };
    let first = (paging.page - 1) * CHANGES_PER_PAGE + 1;
    let last = first + rows.len().saturating_sub(1);
    layout(
        "Changes",
        html! {
            h1 { "Changes, newest first" }
            form method="get" action="/" {
                label { "Source " select name="source" {
                    option value="" { "all" }
                    @for s in sources { option value=(s) selected[source == Some(s.as_str())] { (s) } }
                } } " "
                label { "Kind " select name="kind" {
                    option value="" { "all" }
                    @for k in kinds { option value=(k) selected[kind == Some(k)] { (k) } }
                } } " "
                label { "At least " select name="significance" {
                    option value="" { "any" }
                    @for l in ["trivial", "minor", "substantive"] { option value=(l) selected[f.significance == Some(l)] { (l) } }
                } } " "
                label { "Since " input type="date" name="since" value=(since.unwrap_or("")); } " "
                button type="submit" { "Filter" }
            }
            @if rows.is_empty() { p.muted { "No change matches." } }
            @else {
                p.muted {
                    (first) "–" (last)
                    @if let Some(t) = paging.total { " of " (t) }
                }
            }
            div.scroll { table.changes {
                tr { th { "detected" } th { "change" } th { "article" } th { "what changed" } th { "source" } }
                @for v in rows {
                    @let c = &v.row;
                    tr {
                        td { a href=(change_link(v)) { (c.detected_at) } }
                        td {
                            span class=(format!("kind-{}", c.kind)) { (c.kind) }
                            @if let Some(l) = v.label { br; span class=(format!("label-{l}")) { (l) } }
                            @if v.correction_notice { br; span.muted { "correction notice" } }
                            @if let Some(s) = &v.significance {
                                br; span class=(format!("sig-{}", s.level.as_str())) title=(s.reasons.join("; ")) { (s.level.as_str()) }
                            }
                        }
                        td {
                            a href=(change_link(v)) { (v.title.as_deref().unwrap_or(&c.url)) }
                            br; span.muted.hash { (c.url) }
                            br; span.muted { "revision " (c.from_revision.map_or("–".into(), |r| r.to_string())) " → " (c.to_revision.map_or("removed".into(), |r| r.to_string())) }
                        }
                        td {
                            @for m in &v.metadata {
                                div.meta { b { (m.field) } ": " del { (m.before) } " → " ins { (m.after) } }
                            }
                            @if v.words_added + v.words_removed > 0 {
                                div { "+" (v.words_added) " −" (v.words_removed) " words" }
                            }
                            @if let Some(e) = v.excerpt.first() {
                                div.excerpt { (excerpt_markup(e)) }
                            }
                        }
                        td { (v.source.as_deref().unwrap_or("")) }
                    }
                }
            } }
            (pager(paging.page, paging.more, page_link, ("← newer", "older →")))
        },
    )
}

/// An excerpt line (`{+added+}`, `[-removed-]`) as `ins` and `del`.
fn excerpt_markup(e: &str) -> Markup {
    let mut parts: Vec<(u8, String)> = Vec::new();
    let mut rest = e;
    while !rest.is_empty() {
        let next = [("{+", "+}", 1u8), ("[-", "-]", 2u8)]
            .into_iter()
            .filter_map(|(open, close, k)| rest.find(open).map(|i| (i, open, close, k)))
            .min_by_key(|t| t.0);
        match next {
            Some((i, open, close, k)) => {
                parts.push((0, rest[..i].to_string()));
                let after = &rest[i + open.len()..];
                let end = after.find(close).unwrap_or(after.len());
                parts.push((k, after[..end].to_string()));
                rest = after.get(end + close.len()..).unwrap_or("");
            }
            None => {
                parts.push((0, rest.to_string()));
                rest = "";
            }
        }
    }
    html! {
        @for (k, t) in &parts {
            @match k { 1 => ins { (t) }, 2 => del { (t) }, _ => (t) }
        }
    }
}

/// Articles on one page of the list.
pub const ARTICLES_PER_PAGE: usize = 100;

/// One page of the article list (`page` is 1-based; `rows` the whole list).
pub fn articles(
    listed: &crate::ledger::lists::Listed<ArticleListRow>,
    q: crate::ledger::lists::ArticleQuery<'_>,
    page: usize,
) -> Markup {
    let (status, source) = (q.status, q.source);
    let total = listed.total.unwrap_or(0);
    let first = (page.max(1) - 1).saturating_mul(ARTICLES_PER_PAGE);
    let page_link = |p: usize| {
        let mut q = vec![format!("page={p}")];
        for (k, v) in [("status", status), ("source", source)] {
            if let Some(v) = v {
                q.push(format!("{k}={}", enc(v)));
            }
        }
        format!("/articles?{}", q.join("&"))
    };
    let rows = &listed.rows;
    layout(
        "Articles",
        html! {
            h1 { "Articles (" (total) ")" }
            @if total > ARTICLES_PER_PAGE {
                p.muted { (first + 1) "–" (first + rows.len()) " of " (total) ", most recently revised first" }
            }
            form method="get" action="/articles" {
                @if let Some(s) = source { input type="hidden" name="source" value=(s); }
                label { "Status " select name="status" {
                    option value="" { "all" }
                    @for k in ["changed", "unchanged", "gone"] { option value=(k) selected[status == Some(k)] { (k) } }
                } } " " button type="submit" { "Filter" }
            }
            div.scroll { table {
                tr { th { "article" } th { "status" } th { "revisions" } th { "last change" } th { "source" } }
                @for r in rows {
                    tr {
                        td { a href=(article_link(&r.url)) { (r.title.as_deref().unwrap_or(&r.url)) } br; span.muted.hash { (r.url) } }
                        td class=(format!("kind-{}", r.status)) { (r.status) }
                        td { (r.revisions) }
                        td { (r.last_change.as_deref().unwrap_or("")) }
                        td { (r.source) }
                    }
                }
            } }
            (pager(page, listed.more, page_link, ("← previous", "next →")))
        },
    )
}

pub fn search(q: &str, found: Option<&crate::ledger::search::SearchPage>, page: usize) -> Markup {
    let hits = found.map(|f| f.hits.as_slice());
    let more = found.is_some_and(|f| f.more);
    let page_link = |p: usize| format!("/search?q={}&page={p}", enc(q));
    layout(
        "Search",
        html! {
            h1 { "Search every revision" }
            form method="get" action="/search" {
                input type="search" name="q" value=(q) size="40" placeholder="a sentence or a few words";
                " " button type="submit" { "Search" }
            }
            @if let Some(hits) = hits {
                @if hits.is_empty() { p.muted { "No revision contains “" (q) "”." } }
                @for h in hits {
                    div.hit {
                        h2 { a href=(article_link(&h.url)) { (h.title.as_deref().unwrap_or(&h.url)) } }
                        p {
                            "First in " a href=(format!("/revision?url={}&rev={}", enc(&h.url), h.first_revision)) { "revision " (h.first_revision) }
                            " (seen " (h.first_seen) "), last seen " (h.last_seen) ". "
                            @if h.present { "Still shown." }
                            @else if let (Some(r), Some(at)) = (h.removed_in, &h.removed_at) {
                                @if h.removed_by.as_deref() == Some("reverted") { "Removed when the page went back to revision " (r) " (seen " (at) ")." }
                                @else { "Removed in revision " (r) " (seen " (at) ")." }
                            }
                            @else { "No longer shown." }
                        }
                    }
                }
                (pager(page, more, page_link, ("← previous", "more →")))
            }
        },
    )
}

pub fn sources(status: &Status, problems: &[String]) -> Markup {
    layout(
        "Sources",
        html! {
            h1 { "Sources" }
            div.scroll { table {
                tr { th { "source" } th { "health" } th { "last cycle" } th { "next run" } th { "articles" } th { "counts" } th { "last error" } }
                @for s in &status.sources {
                    tr {
                        td { (s.name) }
                        td {
                            @let mine: Vec<&String> = problems.iter().filter(|o| o.starts_with(&format!("source {}:", s.name))).collect();
                            @if mine.is_empty() { "ok" } @else { span.kind-gone title=(mine.iter().map(|m| m.as_str()).collect::<Vec<_>>().join("; ")) { @if mine.iter().any(|m| m.contains("failed")) { "failing" } @else { "overdue" } } }
                        }
                        td { (s.last_cycle_at.as_deref().unwrap_or("never")) }
                        td { (s.next_run_at.as_deref().unwrap_or("")) }
                        td { (s.articles) }
                        td.hash { (s.counts.to_string()) }
                        td { (s.last_error.as_deref().unwrap_or("")) }
                    }
                }
            } }
        },
    )
}

pub struct LedgerPage<'a> {
    pub status: &'a Status,
    pub checkpoint: Option<(i64, u64, String, Option<String>)>,
    pub last_verify: Option<String>,
}

pub fn ledger(p: &LedgerPage<'_>) -> Markup {
    let l = &p.status.ledger;
    layout(
        "Ledger",
        html! {
            h1 { "Ledger" }
            table {
                tr { th { "file" } td.hash { (l.path) } }
                tr { th { "entries" } td { (l.entries) } }
                tr { th { "head" } td.hash { (l.head_seq) ":" (l.head_hash) } }
                tr { th { "size" } td { (l.bytes) " bytes" } }
                tr { th { "last verify" } td { (p.last_verify.as_deref().unwrap_or("not recorded: run `newsledger verify`")) } }
                @if let Some((seq, size, note, ts)) = &p.checkpoint {
                    tr { th { "last checkpoint" } td { "entry " (seq) ", tree size " (size) @if let Some(t) = ts { ", timestamped " (t) } } }
                    tr { th { "signed note" } td { pre.hash { (note) } } }
                } @else {
                    tr { th { "last checkpoint" } td { "none (configure [checkpoint] key)" } }
                }
            }
        },
    )
}

pub fn message(title: &str, text: &str) -> Markup {
    layout(title, html! { h1 { (title) } p { (text) } })
}

/// One change in a report: the span it opened and the diff that made it.
pub struct ReportChange {
    pub span: HistoryRow,
    pub from: Option<i64>,
    pub diff: Option<WordDiff>,
    pub entry_hash: String,
    /// Headline, byline and dates before → after.
    pub metadata: Vec<FieldChange>,
    /// `stealth` or `declared`, for an edit.
    pub label: Option<&'static str>,
    pub significance: Option<crate::diff::significance::Significance>,
}

pub struct Report<'a> {
    pub url: &'a str,
    pub title: Option<&'a str>,
    pub history: &'a [HistoryRow],
    pub changes: &'a [ReportChange],
    pub head: String,
    /// (entry seq, tree size, signed note, timestamp time)
    pub checkpoint: Option<(i64, u64, String, Option<String>)>,
    pub generated: String,
}

/// The self-contained report for an editor: one file, no external resource.
pub fn report(r: &Report<'_>) -> Markup {
    let title = r.title.unwrap_or(r.url);
    layout(
        title,
        html! {
            h1 { "Revision history of “" (title) "”" }
            p.hash { (r.url) }
            p.muted { "Generated " (r.generated) " from ledger head " (r.head) " by newsledger " (env!("CARGO_PKG_VERSION")) "." }
            h2 { "Timeline" }
            div.scroll { table {
                tr { th { "from" } th { "to" } th { "shown" } th { "observations" } th { "failed fetches" } th { "entry" } }
                @for h in r.history {
                    tr {
                        td { (h.first_seen) } td { (h.last_seen) }
                        td class=(format!("kind-{}", h.kind)) { @if h.kind == "gone" { "gone (404/410)" } @else { "revision " (h.revision) " (" (h.kind) ")" } }
                        td { (h.observations) } td { (h.failed) } td { (h.seq) }
                    }
                }
            } }
            h2 { "Changes" }
            @if r.changes.is_empty() { p { "The text never changed while it was watched." } }
            @for c in r.changes {
                section {
                    h2 class=(format!("kind-{}", c.span.kind)) {
                        (c.span.kind) " at " (c.span.first_seen)
                        @if let Some(f) = c.from { ": revision " (f) " → " (c.span.revision) }
                    }
                    p { "Entry " (c.span.seq) ", entry hash " span.hash { (c.entry_hash) } @if !c.span.content_hash.is_empty() { ", content hash " span.hash { (c.span.content_hash) } } }
                    @if let Some(l) = c.label { p { "A " strong { (l) } " edit" @if l == "stealth" { ": the page did not say it was changed (no newer date, no correction note)." } @else { ": the page says it was changed (a newer date or a correction note)." } } }
                    @if let Some(s) = &c.significance { p { "Significance: " strong { (s.level.as_str()) } @if !s.reasons.is_empty() { " (" (s.reasons.join("; ")) ")" } } }
                    @for (k, a, b) in &c.metadata { p { (k) ": " del { (a) } " → " ins { (b) } } }
                    @if let Some(d) = &c.diff {
                        p { strong { "+" (d.words_added) " −" (d.words_removed) " words" } }
                        div.text { (diff_inline(d, true, true)) }
                    }
                }
            }
            h2 { "Proof" }
            @if let Some((seq, size, note, ts)) = &r.checkpoint {
                p { "These entries are covered by the signed checkpoint at entry " (seq) " (a Merkle tree of " (size) " entries)" @if let Some(t) = ts { ", timestamped " (t) } ":" }
                pre.hash { (note) }
            } @else {
                p { "No signed checkpoint covers these entries yet." }
            }
            h2 { "How to verify" }
            ol {
                li { "Ask the operator for the log's verifier key (VKEY) through a channel you trust." }
                li { "Ask for an evidence bundle of the revision: " code { "newsledger prove " (r.url) " --rev N -o evidence.wacz" } "." }
                li { "Check it without newsledger: " code { "python3 verify_bundle.py evidence.wacz --key VKEY --tsa-ca TSA-CA.pem" } ", or " code { "newsledger verify-bundle evidence.wacz --key VKEY" } ". It says what was proved or names what failed." }
                li { "Check that the ledger still extends the checkpoint above: save it as a file and run " code { "newsledger verify --checkpoint FILE --key VKEY" } "." }
            }
        },
    )
}

//! Scoring paragraphs into candidates, picking the best with its siblings
//! and same-template chunks, and cleaning inside the chosen content.

use std::collections::BTreeMap;

use crate::extract::dom::{Dom, Node, NodeId};

use super::prune::Classes;
use super::{IdMap, IdSet, N, Removed, Stats, element, has_block_child, inline_text};

/// A candidate's score: `total` = tag and class prior + `evidence`, where
/// `evidence` is what its paragraphs contributed (both scaled by
/// 1 − link density).
#[derive(Debug, Clone, Copy, Default)]
pub struct Score {
    pub total: f64,
    pub evidence: f64,
}

/// Readability scores: each paragraph-like element scores by length and
/// commas; the score flows to its parent (full), grandparent (half) and
/// great-grandparent (a third). Ancestors start from a tag and class prior.
pub fn score(root: N<'_>, stats: &Stats, classes: &Classes) -> IdMap<Score> {
    let mut scores: IdMap<Score> = IdMap::default();
    for n in root.descendants() {
        if stats.is_dead(n.id()) {
            continue;
        }
        let Some(e) = element(n) else { continue };
        let st = stats.get(n.id());
        let paragraph_like = match e.name() {
            "p" | "pre" | "td" | "blockquote" => true,
            "div" | "section" | "span" | "font" | "article" | "main" => {
                !has_block_child(n) && st.text >= 25
            }
            _ => false,
        };
        if paragraph_like {
            if st.text >= 25
                && let Some(parent) = n.parent()
            {
                add_paragraph(
                    &mut scores,
                    classes,
                    parent,
                    st.text,
                    &inline_text(n, stats),
                );
            }
            continue;
        }
        // Text written straight into a container between its blocks
        // ("text<br><br>more text<div>…</div>") is a paragraph of that container.
        let in_blocks: usize = n
            .children()
            .filter(|c| element(*c).is_some_and(|ce| ce.is_block()))
            .map(|c| stats.get(c.id()).text)
            .sum();
        if st.text.saturating_sub(in_blocks) >= 25
            && matches!(
                e.name(),
                "div" | "section" | "article" | "main" | "td" | "span" | "font" | "center"
            )
        {
            for run in inline_runs(n, stats) {
                if run.chars().count() >= 25 {
                    add_paragraph(&mut scores, classes, n, run.chars().count(), &run);
                }
            }
        }
    }
    // Link-heavy candidates are navigation, whatever their text; a
    // candidate is judged by its own text, not by menus nested in it.
    for (id, s) in scores.iter_mut() {
        let keep = 1.0 - stats.get(*id).own_link_density();
        s.total *= keep;
        s.evidence *= keep;
    }
    scores
}

/// Adds one paragraph's score to `first` (full), its parent (half) and
/// grandparent (a sixth), creating their entries from a tag and class prior.
fn add_paragraph(
    scores: &mut IdMap<Score>,
    classes: &Classes,
    first: N<'_>,
    len: usize,
    text: &str,
) {
    let commas = text
        .chars()
        .filter(|c| matches!(c, ',' | '،' | '，' | '、'))
        .count();
    let base = 1.0 + commas as f64 + (len as f64 / 100.0).floor().min(3.0);
    let mut ancestor = Some(first);
    for level in 0..3 {
        let Some(a) = ancestor else { break };
        let Some(ae) = element(a) else { break };
        let prior = || {
            let tag = match ae.name() {
                "div" | "article" | "main" => 5.0,
                "pre" | "td" | "blockquote" | "section" => 3.0,
                "address" | "ol" | "ul" | "dl" | "dd" | "dt" | "li" | "form" => -3.0,
                "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "th" => -5.0,
                _ => 0.0,
            };
            tag + classes.weight(a)
        };
        let divider = match level {
            0 => 1.0,
            1 => 2.0,
            _ => 3.0 * level as f64,
        };
        let entry = scores.entry(a.id()).or_insert_with(|| Score {
            total: prior(),
            evidence: 0.0,
        });
        entry.total += base / divider;
        entry.evidence += base / divider;
        ancestor = a.parent();
    }
}

/// The runs of inline content (text and inline elements) directly inside
/// a container, split at its block children and at double `<br>`.
fn inline_runs(n: N<'_>, stats: &Stats) -> Vec<String> {
    let mut runs = Vec::new();
    let mut current = String::new();
    let mut last_br = false;
    for c in n.children() {
        if stats.is_dead(c.id()) {
            continue;
        }
        match c.value() {
            Node::Text(t) => {
                current.push_str(t);
                if !t.trim().is_empty() {
                    last_br = false;
                }
            }
            Node::Element(e) if e.name() == "br" => {
                if last_br {
                    runs.push(std::mem::take(&mut current));
                }
                current.push(' ');
                last_br = true;
            }
            Node::Element(e) if e.is_block() => {
                runs.push(std::mem::take(&mut current));
                last_br = false;
            }
            Node::Element(_) => {
                current.push_str(&inline_text(c, stats));
                last_br = false;
            }
            _ => {}
        }
    }
    runs.push(current);
    runs.retain(|r| !r.trim().is_empty());
    runs
}

/// The chosen content: the best candidate and the siblings that belong with it.
pub fn pick<'a>(doc: &'a Dom<'a>, scores: &IdMap<Score>, stats: &Stats) -> Vec<N<'a>> {
    let best = scores
        .iter()
        .max_by(|a, b| a.1.total.total_cmp(&b.1.total).then_with(|| b.0.cmp(a.0)))
        .and_then(|(id, s)| doc.get(*id).map(|n| (n, s.total)));
    let Some((top, top_score)) = best else {
        // Nothing scored: the whole body, pruned, is the best we have.
        return doc
            .root()
            .descendants()
            .filter(|n| element(*n).is_some_and(|e| e.name() == "body"))
            .take(1)
            .collect();
    };
    let (top, top_score) = prose_over_name(top, scores, stats).unwrap_or((top, top_score));
    let (top, top_score) = promote(top, top_score, scores, stats);
    let Some(parent) = top.parent() else {
        return vec![top];
    };
    let threshold = (top_score * 0.2).max(10.0);
    let top_template = element(top)
        .and_then(|e| e.attribute("class"))
        .and_then(template);
    let mut out = Vec::new();
    for sib in parent.children() {
        if sib.id() == top.id() {
            out.push(sib);
            continue;
        }
        if stats.is_dead(sib.id()) {
            continue;
        }
        let Some(e) = element(sib) else { continue };
        // Evidence, not the class prior: a class name alone ("content-header")
        // must not pull chrome into the article.
        let mut s = scores.get(&sib.id()).map_or(0.0, |s| s.evidence);
        let same =
            top_template.is_some() && e.attribute("class").and_then(template) == top_template;
        if same {
            s += top_score * 0.2;
        }
        let st = stats.get(sib.id());
        let keep = s >= threshold
            || (e.name() == "p" && {
                let ld = st.link_density();
                let text = inline_text(sib, stats);
                (st.text > 80 && ld < 0.25)
                    || (st.text > 0
                        && st.text <= 80
                        && ld == 0.0
                        && text.trim_end().ends_with(['.', '!', '?', '”', '"']))
            });
        if keep {
            out.push(sib);
        }
    }
    add_repeated_chunks(top, scores, stats, &mut out);
    out
}

/// The page's one `<main>` element or `role="main"` region (declarations
/// nested in one another count as one, the outermost); none when the page
/// has none or several apart.
pub fn main_region(doc: &Dom<'_>) -> Option<NodeId> {
    let mut regions = doc.root().descendants().filter(|n| {
        element(*n).is_some_and(|e| e.name() == "main" || e.attribute("role") == Some("main"))
    });
    let region = regions.next()?;
    if regions.any(|r| !r.ancestors().any(|a| a.id() == region.id())) {
        return None;
    }
    Some(region.id())
}

/// Whether chosen `roots` lie in the page's main `region`: one of them is
/// in it or holds it.
pub fn in_region(doc: &Dom<'_>, roots: &[N<'_>], region: NodeId) -> bool {
    roots
        .iter()
        .any(|r| within(doc, r.id(), region) || within(doc, region, r.id()))
}

/// Whether `id` is `region` or inside it.
pub fn within(doc: &Dom<'_>, id: NodeId, region: NodeId) -> bool {
    id == region
        || doc
            .get(id)
            .is_some_and(|n| n.ancestors().any(|a| a.id() == region))
}

/// How many times the best candidate's prose evidence another candidate
/// must hold to be taken instead.
const PROSE_OVER_NAME: f64 = 3.0;
/// ... and at least this much (a few paragraphs: three teaser cards beside
/// a near-empty block are no article either).
const PROSE_OVER_NAME_MIN: f64 = 5.0;

/// The best candidate by score, unless its lead comes from its name: when
/// another candidate, neither inside it nor around it and with little link
/// text, holds [`PROSE_OVER_NAME`] times its prose evidence, that one is the
/// article (a sidebar panel named `panel-body` over a wine region's
/// description, a market ticker named `band-content` over a slideshow).
fn prose_over_name<'a>(top: N<'a>, scores: &IdMap<Score>, stats: &Stats) -> Option<(N<'a>, f64)> {
    let own = scores.get(&top.id())?.evidence;
    let doc = top.dom();
    scores
        .iter()
        .filter(|(_, s)| s.evidence > PROSE_OVER_NAME * own && s.evidence >= PROSE_OVER_NAME_MIN)
        .filter(|(id, _)| stats.get(**id).link_density() < PROMOTE_MAX_LINK_DENSITY)
        .filter_map(|(id, s)| doc.get(*id).map(|n| (n, s)))
        .filter(|(n, _)| !n.contains(top) && !top.contains(*n))
        .max_by(|a, b| {
            a.1.evidence
                .total_cmp(&b.1.evidence)
                .then_with(|| b.0.id().cmp(&a.0.id()))
        })
        .map(|(n, s)| (n, s.total.max(0.0)))
}

/// The template an element's class names: its first class token (BEM
/// blocks such as `item item--body` and `item item--care` are one).
fn template(class: &str) -> Option<&str> {
    class.split_ascii_whitespace().next()
}

/// Candidates scoring at least this share of the top one are its
/// alternatives; [`PROMOTE_NEED`] of the [`PROMOTE_AMONG`] best under one
/// ancestor make that ancestor the article. Chosen on the WCXB development
/// set, where every domain fold gained (BENCHMARKS.md); a stricter ratio
/// (0.75, readability's) gains less, a looser one (0.33) costs Zyte pages.
const PROMOTE_RATIO: f64 = 0.5;
const PROMOTE_NEED: usize = 2;
const PROMOTE_AMONG: usize = 5;
/// An ancestor with more link text than this is a page section, not an article.
const PROMOTE_MAX_LINK_DENSITY: f64 = 0.35;

/// The article the best candidate belongs to: an ancestor that several
/// of the best candidates share ([`promote_to_alternatives`]), else one
/// that holds a series of blocks outscoring it ([`promote_to_series`]),
/// else the candidate itself.
fn promote<'a>(top: N<'a>, top_score: f64, scores: &IdMap<Score>, stats: &Stats) -> (N<'a>, f64) {
    promote_to_alternatives(top, top_score, scores, stats)
        .or_else(|| promote_to_series(top, top_score, scores, stats))
        .unwrap_or((top, top_score))
}

/// The ancestors of the top candidate that may be the article: up to, and
/// not including, `<body>`.
fn article_ancestors(top: N<'_>) -> impl Iterator<Item = N<'_>> {
    top.ancestors()
        .take_while(|a| element(*a).is_some_and(|e| !matches!(e.name(), "body" | "html")))
}

/// An ancestor of the top candidate as the article, with the score it
/// stands on; none when it has more link text than an article.
fn as_article<'a>(
    ancestor: N<'a>,
    top_score: f64,
    scores: &IdMap<Score>,
    stats: &Stats,
) -> Option<(N<'a>, f64)> {
    if stats.get(ancestor.id()).link_density() > PROMOTE_MAX_LINK_DENSITY {
        return None;
    }
    let s = scores
        .get(&ancestor.id())
        .map_or(top_score, |s| s.total.max(top_score));
    Some((ancestor, s))
}

/// An article split into sections that each score on their own (one
/// `<section>` per heading, a widget per block): when several of the best
/// candidates sit under one ancestor of the top one, that ancestor is the
/// article (readability's "alternative candidate ancestors").
fn promote_to_alternatives<'a>(
    top: N<'a>,
    top_score: f64,
    scores: &IdMap<Score>,
    stats: &Stats,
) -> Option<(N<'a>, f64)> {
    // Only the best few are needed: select them, then order them.
    let mut ranked: Vec<(&NodeId, &Score)> = scores.iter().collect();
    let order = |a: &(&NodeId, &Score), b: &(&NodeId, &Score)| {
        b.1.total.total_cmp(&a.1.total).then_with(|| a.0.cmp(b.0))
    };
    if ranked.len() > PROMOTE_AMONG + 1 {
        ranked.select_nth_unstable_by(PROMOTE_AMONG, order);
        ranked.truncate(PROMOTE_AMONG + 1);
    }
    ranked.sort_by(order);
    let alternatives: Vec<NodeId> = ranked
        .iter()
        .skip(1)
        .take(PROMOTE_AMONG)
        .filter(|(_, s)| s.total >= PROMOTE_RATIO * top_score)
        .map(|(id, _)| **id)
        .collect();
    if alternatives.len() < PROMOTE_NEED {
        return None;
    }
    let within = |id: NodeId, ancestor: NodeId| {
        top.dom()
            .get(id)
            .is_some_and(|n| n.ancestors().any(|a| a.id() == ancestor))
    };
    let ancestor = article_ancestors(top).find(|a| {
        alternatives
            .iter()
            .filter(|alt| within(**alt, a.id()))
            .count()
            >= PROMOTE_NEED
    })?;
    as_article(ancestor, top_score, scores, stats)
}

/// Candidates of one template that make a series: at least this many,
/// each scoring at least [`SERIES_MIN`] of the top one, together
/// [`SERIES_OUTSCORE`] times it (a series that merely matches the top one
/// is a list of teasers or takeaways, BENCHMARKS.md).
const SERIES_NEED: usize = 3;
const SERIES_MIN: f64 = 0.25;
const SERIES_OUTSCORE: f64 = 2.0;

/// A body written as a series of blocks of one template (a round-up's
/// product cards, each `div.inside-text` holding one review) while another
/// part of it scores best alone: when [`SERIES_NEED`] candidates of one tag
/// and class, all before the top one in the page and not of its own
/// template, together score [`SERIES_OUTSCORE`] times the top one, the
/// nearest ancestor of the top one that holds them is the article.
fn promote_to_series<'a>(
    top: N<'a>,
    top_score: f64,
    scores: &IdMap<Score>,
    stats: &Stats,
) -> Option<(N<'a>, f64)> {
    let doc = top.dom();
    let above: IdSet = top.ancestors().map(|a| a.id()).collect();
    let own_class = element(top).and_then(|e| e.attribute("class"));
    let mut series: BTreeMap<(&str, &str), Vec<(N<'a>, f64)>> = BTreeMap::new();
    for (id, s) in scores {
        // Only blocks before the top one (its own template is joined by
        // [`add_repeated_chunks`]; after the article come teasers).
        if *id >= top.id() || s.total < SERIES_MIN * top_score || above.contains(id) {
            continue;
        }
        let Some(n) = doc.get(*id) else { continue };
        let Some(e) = element(n) else { continue };
        let Some(class) = e.attribute("class").filter(|c| !c.trim().is_empty()) else {
            continue;
        };
        if Some(class) == own_class {
            continue;
        }
        series
            .entry((e.name(), class))
            .or_default()
            .push((n, s.total));
    }
    // The nearest ancestor holding enough of one series to outscore the top.
    let ancestor = article_ancestors(top).find(|a| {
        series.values().any(|members| {
            let inside: Vec<f64> = members
                .iter()
                .filter(|(m, _)| m.ancestors().any(|x| x.id() == a.id()))
                .map(|(_, s)| *s)
                .collect();
            inside.len() >= SERIES_NEED && inside.iter().sum::<f64>() >= SERIES_OUTSCORE * top_score
        })
    })?;
    as_article(ancestor, top_score, scores, stats)
}

/// How far up from the best candidate a repeated chunk may be joined.
const CHUNK_REACH: usize = 10;

/// Articles split into several containers of the same template (a body
/// interrupted by ads or embeds, each piece a `div.article__body`) are
/// joined: other elements with the top candidate's tag and class that hold
/// real paragraphs, little link text, and sit near it in the tree.
fn add_repeated_chunks<'a>(top: N<'a>, scores: &IdMap<Score>, stats: &Stats, out: &mut Vec<N<'a>>) {
    let Some(te) = element(top) else { return };
    let Some(class) = te.attribute("class").filter(|c| !c.trim().is_empty()) else {
        return;
    };
    let Some(region) = top
        .ancestors()
        .nth(CHUNK_REACH - 1)
        .or_else(|| top.ancestors().last())
    else {
        return;
    };
    let chunks: Vec<N<'a>> = region
        .descendants()
        .filter(|n| n.id() != top.id() && !stats.is_dead(n.id()))
        .filter(|n| {
            element(*n)
                .is_some_and(|e| e.name() == te.name() && e.attribute("class") == Some(class))
        })
        .filter(|n| {
            let st = stats.get(n.id());
            scores.get(&n.id()).is_some_and(|s| s.evidence >= 1.0) && st.link_density() < 0.3
        })
        .collect();
    if chunks.is_empty() {
        return;
    }
    // Keep only chunks not nested in, or containing, something already chosen.
    let chosen: IdSet = out.iter().map(|n| n.id()).collect();
    let mut add: Vec<N<'a>> = chunks
        .into_iter()
        .filter(|c| {
            !c.ancestors().any(|a| chosen.contains(&a.id()))
                && !out.iter().any(|o| o.ancestors().any(|a| a.id() == c.id()))
        })
        .collect();
    // Of chunks nested in one another, the outermost stands for all.
    let ids: IdSet = add.iter().map(|n| n.id()).collect();
    add.retain(|c| !c.ancestors().any(|a| ids.contains(&a.id())));
    out.extend(add);
    // Document order, for the text.
    let order: IdMap<usize> = region
        .descendants()
        .enumerate()
        .map(|(i, n)| (n.id(), i))
        .collect();
    out.sort_by_key(|n| order.get(&n.id()).copied().unwrap_or(usize::MAX));
}

/// How many levels above the chosen content a lead paragraph is looked for,
/// and how many earlier siblings at each level.
const LEAD_LEVELS: usize = 3;
const LEAD_SIBLINGS: usize = 4;

/// The lead (standfirst, teaser, intro) written just before the chosen
/// content in a container of its own (`div.dig-vorspann` before
/// `div.dig-text`, `div#lead` before `div.articleBody`): the article's
/// first paragraph, which the scoring leaves out because it is one block
/// apart. Earlier siblings of the first root and of its ancestors (up to
/// [`LEAD_LEVELS`], never above `<article>` or `<main>`) are added when
/// they read as a paragraph of prose: 40 to 1,000 characters, at least 8
/// words, under a fifth of it in links, ending a sentence, without a
/// headline, date, list, table, figure or navigation inside, and not named
/// like chrome. The walk stops at a block of links or at the headline:
/// what stands before it is the page's, not the article's.
pub fn add_lead<'a>(roots: &mut Vec<N<'a>>, stats: &Stats, classes: &Classes) {
    let Some(first) = roots.first().copied() else {
        return;
    };
    // A lead follows the headline: what stands before the page's first
    // <h1> (a left column, a top bar) is the page's.
    let Some(headline) = first
        .dom()
        .root()
        .descendants()
        .find(|n| element(*n).is_some_and(|e| e.name() == "h1"))
        .map(|h| h.id())
    else {
        return;
    };
    let chosen: IdSet = roots.iter().map(|n| n.id()).collect();
    let mut leads: Vec<N<'a>> = Vec::new();
    let mut node = first;
    'levels: for _ in 0..LEAD_LEVELS {
        let mut earlier: Vec<N<'a>> = Vec::new();
        let mut sib = node.dom().get(node.id()).and_then(|n| previous_sibling(n));
        let mut looked = 0;
        while let Some(s) = sib {
            sib = previous_sibling(s);
            let Some(e) = element(s) else { continue };
            // The article's own header (it holds the headline, or stands in
            // the <article>) is pruned as a tag, with the standfirst in it.
            if e.name() == "header" {
                let own = holds(s, &["h1"])
                    || s.ancestors()
                        .any(|a| element(a).is_some_and(|e| e.name() == "article"));
                if own {
                    earlier.extend(header_leads(s, classes));
                }
                if holds(s, &["h1"]) {
                    leads.extend(earlier);
                    break 'levels;
                }
                continue;
            }
            if stats.is_dead(s.id()) || chosen.contains(&s.id()) {
                continue;
            }
            looked += 1;
            if looked > LEAD_SIBLINGS {
                break;
            }
            let st = stats.get(s.id());
            if st.text == 0 {
                continue;
            }
            if st.link_density() > 0.5 || holds(s, &["h1"]) || e.name() == "h1" {
                leads.extend(earlier);
                break 'levels;
            }
            if is_lead(s, e, st, stats, classes) {
                earlier.push(s);
            }
        }
        leads.extend(earlier);
        let Some(parent) = node.parent() else { break };
        if element(node).is_some_and(|e| matches!(e.name(), "article" | "main"))
            || element(parent).is_none_or(|e| matches!(e.name(), "body" | "html"))
        {
            break;
        }
        node = parent;
    }
    // The article's header inside the chosen content: pruned as a tag with
    // its standfirst, which is read back (a lead inside a pruned header is
    // not in the content's text, however the content holds it).
    for root in roots.iter() {
        for h in root.descendants() {
            if element(h).is_some_and(|e| e.name() == "header")
                && stats.is_dead(h.id())
                && h.parent().is_some_and(|p| !stats.is_dead(p.id()))
                && (holds(h, &["h1"])
                    || h.ancestors()
                        .any(|a| element(a).is_some_and(|e| e.name() == "article")))
            {
                leads.extend(header_leads(h, classes));
            }
        }
    }
    if leads.is_empty() {
        return;
    }
    // Earliest first, before the chosen content.
    leads.retain(|l| l.id() > headline);
    leads.sort_by_key(|n| n.id());
    leads.dedup_by_key(|n| n.id());
    leads.retain(|l| {
        stats.is_dead(l.id()) || !roots.iter().any(|r| r.contains(*l) || l.contains(*r))
    });
    leads.append(roots);
    *roots = leads;
}

/// Names of the header's parts that are not its standfirst.
const NOT_LEAD: [&str; 10] = [
    "byline",
    "author",
    "date",
    "meta",
    "caption",
    "credit",
    "time",
    "tag",
    "categor",
    "breadcrumb",
];

/// The standfirst paragraphs of an article's header: `<p>` elements (or
/// `<div>`s holding no block) of
/// prose (as [`is_lead`] measures it, from the text itself: the header is
/// pruned, so it has no statistics), not named like a byline, date or
/// caption.
fn header_leads<'a>(header: N<'a>, classes: &Classes) -> Vec<N<'a>> {
    header
        .descendants()
        .filter(|d| {
            element(*d).is_some_and(|e| {
                e.name() == "p" || (e.name() == "div" && !super::has_block_child(*d))
            })
        })
        .filter(|p| {
            let named = |e: crate::extract::dom::Element<'_>| {
                let names = format!(
                    "{} {}",
                    e.attribute("class").unwrap_or_default(),
                    e.attribute("id").unwrap_or_default()
                )
                .to_ascii_lowercase();
                NOT_LEAD.iter().any(|w| names.contains(w))
            };
            if std::iter::once(*p)
                .chain(p.ancestors().take_while(|a| a.id() != header.id()))
                .filter_map(element)
                .any(named)
                || classes.weight(*p) < 0.0
                || holds(*p, &["time", "img"])
            {
                return false;
            }
            let (mut text, mut links) = (String::new(), 0usize);
            for d in p.descendants() {
                if let Some(t) = d.value().as_text() {
                    text.push_str(t);
                    if d.ancestors()
                        .any(|a| element(a).is_some_and(|e| e.name() == "a"))
                    {
                        links += t.chars().count();
                    }
                }
            }
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let chars = text.chars().count();
            (40..=1000).contains(&chars)
                && links * 5 < chars
                && text.split(' ').count() >= 8
                && text.ends_with(SENTENCE_END)
        })
        .collect()
}

/// How a sentence ends.
const SENTENCE_END: [char; 10] = ['.', '!', '?', '…', '"', '”', '“', '»', '«', ')'];

fn previous_sibling(n: N<'_>) -> Option<N<'_>> {
    let parent = n.parent()?;
    let mut prev = None;
    for c in parent.children() {
        if c.id() == n.id() {
            return prev;
        }
        prev = Some(c);
    }
    None
}

/// Whether `n` holds an element of one of `names`.
fn holds(n: N<'_>, names: &[&str]) -> bool {
    n.descendants()
        .skip(1)
        .any(|d| element(d).is_some_and(|e| names.contains(&e.name())))
}

fn is_lead(
    n: N<'_>,
    e: crate::extract::dom::Element<'_>,
    st: super::Stat,
    stats: &Stats,
    classes: &Classes,
) -> bool {
    if !(40..=1000).contains(&st.text)
        || st.link_density() >= 0.2
        || !matches!(e.name(), "p" | "div" | "section" | "h2")
        || classes.weight(n) < 0.0
        || holds(
            n,
            &[
                "h1", "time", "ul", "ol", "table", "figure", "nav", "form", "img",
            ],
        )
    {
        return false;
    }
    let text: String = n
        .descendants()
        .filter(|d| !stats.is_dead(d.id()))
        .filter_map(|d| d.value().as_text())
        .collect();
    let text = text.trim();
    // A deck (an <h2> right under the headline) need not end a sentence:
    // "Aktivisten trommeln für einen Mietenstopp und warnen Vermieter".
    text.split_whitespace().count() >= 8 && (text.ends_with(SENTENCE_END) || is_deck(n, e))
}

/// Whether `n` is an `<h2>` whose previous element is the `<h1>`.
fn is_deck(n: N<'_>, e: crate::extract::dom::Element<'_>) -> bool {
    if e.name() != "h2" {
        return false;
    }
    let mut sib = previous_sibling(n);
    while let Some(s) = sib {
        if let Some(se) = element(s) {
            return se.name() == "h1";
        }
        sib = previous_sibling(s);
    }
    false
}

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
fn has_plain_cell(table: N<'_>, stats: &Stats) -> bool {
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
fn in_sentence(n: N<'_>) -> bool {
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

fn has_heading(n: N<'_>) -> bool {
    n.descendants().any(|d| {
        element(d).is_some_and(|e| matches!(e.name(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::content::{PASSES, prune_junk};

    fn chosen(html: &str) -> Vec<String> {
        let doc = Dom::parse(html);
        let classes = Classes::of(&doc);
        let removed = prune_junk(&doc, &classes, &IdSet::default(), PASSES[0]);
        let stats = Stats::compute(doc.root(), &removed);
        let scores = score(doc.root(), &stats, &classes);
        pick(&doc, &scores, &stats)
            .iter()
            .filter_map(|n| {
                element(*n)
                    .and_then(|e| e.attribute("id"))
                    .map(str::to_string)
            })
            .collect()
    }

    const PARA: &str = "<p>A paragraph of the article, with commas, long enough to score, and more words to pass one hundred characters.</p>";

    #[test]
    fn blocks_of_one_template_are_joined() {
        // BEM modifiers differ (`item--body`, `item--care`); the block is one.
        let ids = chosen(&format!(
            "<body><div><div id=a class=\"item item--body\">{}</div>\
             <div id=b class=\"item item--care\"><p>Water it once a week, less in winter.</p></div>\
             <div id=c class=\"promo\"><p>Subscribe to our weekly garden letter.</p></div></div></body>",
            PARA.repeat(6)
        ));
        assert_eq!(ids, vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn plain_lists_inside_the_article_are_kept() {
        let html = format!(
            "<body><div id=article>{}<ul id=l><li><p>Benefits: cheap, quick to make.</p></li></ul>{}</div></body>",
            PARA.repeat(3),
            PARA.repeat(2)
        );
        let doc = Dom::parse(&html);
        let classes = Classes::of(&doc);
        let removed = prune_junk(&doc, &classes, &IdSet::default(), PASSES[0]);
        let stats = Stats::compute(doc.root(), &removed);
        let scores = score(doc.root(), &stats, &classes);
        let roots = pick(&doc, &scores, &stats);
        let cleaned = clean_inside(&roots, &scores, &stats, &classes);
        let list = doc
            .root()
            .descendants()
            .find(|n| element(*n).is_some_and(|e| e.attribute("id") == Some("l")))
            .unwrap();
        assert!(!cleaned.contains(&list.id()));
    }

    #[test]
    fn an_article_split_into_sections_is_read_whole() {
        // Each section wraps its paragraphs two levels deep, so no single
        // section's ancestor collects the others' scores (Webflow, Tailwind
        // `space-y` stacks): the sections' common ancestor is the article.
        let section = |i: usize| {
            format!(
                "<section class=\"s{i}\"><div class=\"w\"><div class=\"t\">{}</div></div></section>",
                PARA.repeat(2 + i)
            )
        };
        let body: String = (0..4).map(section).collect();
        let ids = chosen(&format!(
            "<body><nav id=nav><a href=/a>Home</a></nav><div id=article>{body}</div>\
             <footer id=foot>{}</footer></body>",
            "<a href=/x>Another story with a long headline, and a comma</a>".repeat(5)
        ));
        assert_eq!(ids, vec!["article".to_string()]);
    }

    /// A round-up: seven product cards, each review of five paragraphs two
    /// levels deep in its card (a third of the guide's score each, so the
    /// best candidates have no common ancestor), then a buying guide of
    /// sixteen paragraphs that scores best alone.
    fn round_up(cards_first: bool) -> Vec<String> {
        let cards: String = (0..7)
            .map(|i| {
                format!(
                    "<div class=card id=c{i}><h3>Pick {i}</h3><div class=wrap><div class=\"review open\">{}</div></div></div>",
                    PARA.repeat(5)
                )
            })
            .collect();
        let guide = format!("<div id=guide>{}</div>", PARA.repeat(16));
        let (first, second) = if cards_first {
            (cards.as_str(), guide.as_str())
        } else {
            (guide.as_str(), cards.as_str())
        };
        chosen(&format!(
            "<body><div id=article><p>Our picks, tested.</p>{first}{second}</div></body>"
        ))
    }

    #[test]
    fn a_series_of_cards_before_the_best_section_is_read_whole() {
        assert_eq!(round_up(true), vec!["article".to_string()]);
    }

    #[test]
    fn a_series_after_the_best_section_is_not_joined() {
        // After an article come teasers of the site's other stories.
        assert_eq!(round_up(false), vec!["guide".to_string()]);
    }

    #[test]
    fn the_article_beats_a_link_heavy_column() {
        let links: String = (0..30)
            .map(|i| {
                format!("<p><a href=/x{i}>Another story headline number {i}, with a comma</a></p>")
            })
            .collect();
        let html = format!(
            "<body><div id=links>{links}</div><div id=story>{}</div></body>",
            PARA.repeat(5)
        );
        assert_eq!(chosen(&html), vec!["story"]);
    }

    #[test]
    fn same_template_chunks_split_by_an_ad_are_joined() {
        let html = format!(
            "<body><div id=wrap><div class=grid><div class=body id=one>{p}{p}{p}</div></div><div class=ad>ad</div><div class=grid><div class=body id=two>{p}{p}</div></div></div></body>",
            p = PARA
        );
        assert_eq!(chosen(&html), vec!["one", "two"]);
    }

    #[test]
    fn text_between_line_breaks_scores_as_paragraphs() {
        // A container with a heading and its text written between <br>s: the
        // runs score the container itself.
        let html = format!(
            "<body><div id=nav><a href=/>Home</a></div><div id=story><h2>Heading</h2>{}</div></body>",
            "Words of the story, with commas, and enough of them to count for something.<br><br>"
                .repeat(6)
        );
        assert_eq!(chosen(&html), vec!["story"]);
    }
}

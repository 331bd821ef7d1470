//! Picking the article among the scored candidates: the best one, promoted
//! to the ancestor that holds the whole article (alternatives, series, the
//! prose that outweighs a name), with the chunks of the same template.

use std::collections::BTreeMap;

use crate::extract::dom::{Dom, NodeId};

use super::score::Score;
use super::{IdMap, IdSet, N, Stats, element, inline_text};

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
pub(super) const PROSE_OVER_NAME: f64 = 3.0;
/// ... and at least this much (a few paragraphs: three teaser cards beside
/// a near-empty block are no article either).
pub(super) const PROSE_OVER_NAME_MIN: f64 = 5.0;

/// The best candidate by score, unless its lead comes from its name: when
/// another candidate, neither inside it nor around it and with little link
/// text, holds [`PROSE_OVER_NAME`] times its prose evidence, that one is the
/// article (a sidebar panel named `panel-body` over a wine region's
/// description, a market ticker named `band-content` over a slideshow).
pub(super) fn prose_over_name<'a>(
    top: N<'a>,
    scores: &IdMap<Score>,
    stats: &Stats,
) -> Option<(N<'a>, f64)> {
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
pub(super) fn template(class: &str) -> Option<&str> {
    class.split_ascii_whitespace().next()
}

/// Candidates scoring at least this share of the top one are its
/// alternatives; [`PROMOTE_NEED`] of the [`PROMOTE_AMONG`] best under one
/// ancestor make that ancestor the article. Chosen on the WCXB development
/// set, where every domain fold gained (BENCHMARKS.md); a stricter ratio
/// (0.75, readability's) gains less, a looser one (0.33) costs Zyte pages.
pub(super) const PROMOTE_RATIO: f64 = 0.5;
pub(super) const PROMOTE_NEED: usize = 2;
pub(super) const PROMOTE_AMONG: usize = 5;
/// An ancestor with more link text than this is a page section, not an article.
pub(super) const PROMOTE_MAX_LINK_DENSITY: f64 = 0.35;

/// The article the best candidate belongs to: an ancestor that several
/// of the best candidates share ([`promote_to_alternatives`]), else one
/// that holds a series of blocks outscoring it ([`promote_to_series`]),
/// else the candidate itself.
pub(super) fn promote<'a>(
    top: N<'a>,
    top_score: f64,
    scores: &IdMap<Score>,
    stats: &Stats,
) -> (N<'a>, f64) {
    promote_to_alternatives(top, top_score, scores, stats)
        .or_else(|| promote_to_series(top, top_score, scores, stats))
        .unwrap_or((top, top_score))
}

/// The ancestors of the top candidate that may be the article: up to, and
/// not including, `<body>`.
pub(super) fn article_ancestors(top: N<'_>) -> impl Iterator<Item = N<'_>> {
    top.ancestors()
        .take_while(|a| element(*a).is_some_and(|e| !matches!(e.name(), "body" | "html")))
}

/// An ancestor of the top candidate as the article, with the score it
/// stands on; none when it has more link text than an article.
pub(super) fn as_article<'a>(
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
pub(super) fn promote_to_alternatives<'a>(
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
pub(super) const SERIES_NEED: usize = 3;
pub(super) const SERIES_MIN: f64 = 0.25;
pub(super) const SERIES_OUTSCORE: f64 = 2.0;

/// A body written as a series of blocks of one template (a round-up's
/// product cards, each `div.inside-text` holding one review) while another
/// part of it scores best alone: when [`SERIES_NEED`] candidates of one tag
/// and class, all before the top one in the page and not of its own
/// template, together score [`SERIES_OUTSCORE`] times the top one, the
/// nearest ancestor of the top one that holds them is the article.
pub(super) fn promote_to_series<'a>(
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
pub(super) const CHUNK_REACH: usize = 10;

/// Articles split into several containers of the same template (a body
/// interrupted by ads or embeds, each piece a `div.article__body`) are
/// joined: other elements with the top candidate's tag and class that hold
/// real paragraphs, little link text, and sit near it in the tree.
pub(super) fn add_repeated_chunks<'a>(
    top: N<'a>,
    scores: &IdMap<Score>,
    stats: &Stats,
    out: &mut Vec<N<'a>>,
) {
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

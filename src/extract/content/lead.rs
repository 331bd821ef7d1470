//! The lead: the standfirst or deck before the chosen text (after the
//! `<h1>`, in the article's header), added when the picked roots left it.

use super::classes::Classes;
use super::{IdSet, N, Stats, element};

/// How many levels above the chosen content a lead paragraph is looked for,
/// and how many earlier siblings at each level.
pub(super) const LEAD_LEVELS: usize = 3;
pub(super) const LEAD_SIBLINGS: usize = 4;

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
pub(super) const NOT_LEAD: [&str; 10] = [
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
pub(super) fn header_leads<'a>(header: N<'a>, classes: &Classes) -> Vec<N<'a>> {
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
pub(super) const SENTENCE_END: [char; 10] = ['.', '!', '?', '…', '"', '”', '“', '»', '«', ')'];

pub(super) fn previous_sibling(n: N<'_>) -> Option<N<'_>> {
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
pub(super) fn holds(n: N<'_>, names: &[&str]) -> bool {
    n.descendants()
        .skip(1)
        .any(|d| element(d).is_some_and(|e| names.contains(&e.name())))
}

pub(super) fn is_lead(
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
pub(super) fn is_deck(n: N<'_>, e: crate::extract::dom::Element<'_>) -> bool {
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

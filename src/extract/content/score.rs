//! Scoring paragraphs into candidates, picking the best with its siblings
//! and same-template chunks, and cleaning inside the chosen content.

use crate::extract::dom::Node;

use super::classes::Classes;
use super::{IdMap, N, Stats, element, has_block_child, inline_text};

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

#[cfg(test)]
mod tests {
    use super::super::{IdSet, clean_inside, pick};
    use super::*;
    use crate::extract::content::{PASSES, prune_junk};
    use crate::extract::dom::Dom;

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

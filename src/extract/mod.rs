//! Extraction: one HTML page in, one [`Article`] out (text and metadata).
//!
//! Invariant: `extract` does no I/O and never fails or panics on input: it
//! returns what it could find, possibly an article with empty text.
//! Invariant: the same bytes and options always give the same article
//! (extraction is deterministic, which hashing requires).
//!
//! Stages: [`metadata`] reads JSON-LD/OpenGraph/meta tags, [`content`]
//! finds the body, [`text`] turns it into paragraphs.

pub mod content;
pub mod dom;
pub mod metadata;
pub mod prefilter;
pub mod text;
pub mod tree;

use std::borrow::Cow;

use encoding_rs::Encoding;
use scraper::Selector;
use serde::{Deserialize, Serialize};

use crate::config::ExtractOverrides;
use dom::{Dom, NodeId};

/// Version of the extraction algorithm, recorded with every content hash.
/// Bump it whenever the output for some page changes: an upgrade then
/// re-baselines stored articles instead of flagging them as edited.
pub const EXTRACTOR_VERSION: &str = "newsledger-extract/15";

/// Pages larger than this are cut before parsing (a time bound: no article
/// needs more).
pub const MAX_PARSE_BYTES: usize = 8 * 1024 * 1024;

/// The article found on a page. `text` excludes the title; paragraphs are
/// separated by blank lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    pub title: Option<String>,
    pub byline: Option<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
    pub language: Option<String>,
    pub canonical_url: Option<String>,
    pub site_name: Option<String>,
    pub description: Option<String>,
    pub text: String,
    pub extractor_version: String,
    /// Why the text found may not be the article; `None` when nothing
    /// suggests it (see [`Weakness`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weak: Option<Weakness>,
    /// The text is the page's structured `articleBody` (JSON-LD), not its
    /// visible markup, which lacked it (a page rendered by script). Bytes
    /// the page served, but not text a reader saw without its script: the
    /// record says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_structured: bool,
}

/// Decodes a body: BOM, else charset from Content-Type, else `<meta
/// charset>` / `http-equiv`, else detection (chardetng), else UTF-8.
///
/// A BOM wins over the header, as in browsers (WHATWG "decode"): a page
/// saved with a UTF-8 BOM behind a stale `charset=iso-8859-1` header is
/// common, the reverse is not.
pub fn decode<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    let from_header = content_type
        .and_then(|ct| {
            ct.split(';').find_map(|p| {
                let p = p.trim();
                p.get(..8)
                    .filter(|k| k.eq_ignore_ascii_case("charset="))
                    .map(|_| p[8..].trim_matches(['"', '\'']).to_string())
            })
        })
        .and_then(|label| Encoding::for_label(label.as_bytes()));
    let from_bom = Encoding::for_bom(body).map(|(e, _)| e);
    let from_meta = || {
        let head = body.get(..4096).unwrap_or(body);
        let head = String::from_utf8_lossy(head).to_ascii_lowercase();
        let at = head.find("charset=")?;
        let rest = &head[at + 8..];
        let label: String = rest
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        Encoding::for_label(label.as_bytes())
    };
    let detect = || {
        // Bytes that are valid UTF-8 are UTF-8: legacy encodings with
        // non-ASCII text almost never validate, and this check is far
        // cheaper than statistical detection.
        if std::str::from_utf8(body).is_ok() {
            return encoding_rs::UTF_8;
        }
        let mut d = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        d.feed(
            body.get(..64 * 1024).unwrap_or(body),
            body.len() <= 64 * 1024,
        );
        d.guess(None, chardetng::Utf8Detection::Allow)
    };
    let enc = from_bom
        .or(from_header)
        .or_else(from_meta)
        .unwrap_or_else(detect);
    // Valid UTF-8 without a byte order mark is borrowed, not copied.
    let (text, _, _) = enc.decode(body);
    text
}

/// Extracts the article from a page. `url` is the page's final URL, used to
/// resolve a relative canonical link and as the canonical URL of last resort.
pub fn extract(html: &str, url: Option<&str>, overrides: &ExtractOverrides) -> Article {
    let mut stripped = String::new();
    let doc = Dom::from_tree(page_tree(html, &mut stripped));
    let meta = metadata::read(&doc);
    let Body {
        mut paras,
        evidence,
    } = body_paragraphs(&doc, overrides);

    // The headline is metadata, not body: drop it where the template repeats it.
    if let Some(title) = meta.title.as_deref() {
        let t = metadata::folded(title);
        while paras.first().is_some_and(|p| metadata::folded(p) == t) {
            paras.remove(0);
        }
    }

    // The publisher's own text of the article (JSON-LD `articleBody`) when
    // the page's markup did not give it: rendered by script, or a block
    // the search missed. Only a body of real length that the extracted
    // text mostly lacks replaces it.
    // An operator's `content_selector` is never overridden.
    let mut evidence = evidence;
    let mut from_structured = false;
    if evidence.is_some()
        && let Some(structured) = meta.body.as_deref()
        && let Some(better) = structured_body(structured, &paras)
    {
        paras = better;
        evidence = None;
        from_structured = true;
    }

    let canonical_url = meta
        .canonical_url
        .as_deref()
        .and_then(|c| match url.and_then(|u| url::Url::parse(u).ok()) {
            Some(base) => base.join(c).ok().map(|u| u.to_string()),
            None => url::Url::parse(c).ok().map(|u| u.to_string()),
        })
        .or_else(|| url.map(str::to_string));

    let published = meta
        .published
        .or_else(|| url.and_then(metadata::date_from_url));
    Article {
        title: meta.title,
        byline: meta.byline,
        published,
        modified: meta.modified,
        language: meta.language,
        canonical_url,
        site_name: meta.site_name,
        description: meta.description,
        weak: weakness(&paras, evidence),
        from_structured,
        text: paras.join("\n\n"),
        extractor_version: version_with(overrides),
    }
}

/// A structured body shorter than this (in words) is a summary, not the text.
const STRUCTURED_MIN_WORDS: usize = 80;
/// The structured body replaces the extracted text when less than this
/// share of its distinct words appears in it.
const STRUCTURED_COVERED: f64 = 0.3;

/// The paragraphs of the structured body, when it is long and the
/// extracted text lacks most of its words.
fn structured_body(structured: &str, paras: &[String]) -> Option<Vec<String>> {
    let words = |t: &str| -> std::collections::HashSet<String> {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let body = metadata::body_paragraphs(structured);
    let wanted = words(&body.join(" "));
    let total: usize = body.iter().map(|p| p.split_whitespace().count()).sum();
    if total < STRUCTURED_MIN_WORDS {
        return None;
    }
    let have = words(&paras.join(" "));
    let covered = wanted.iter().filter(|w| have.contains(*w)).count();
    ((covered as f64) < STRUCTURED_COVERED * wanted.len() as f64).then_some(body)
}

/// Why an extraction is doubtful: the extractor found text, but what it
/// found may not be the article. Recorded with the fetch, logged, and
/// counted per source in `status` and `health`, so that a source whose
/// pages keep extracting weakly is seen instead of watched blind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weakness {
    /// Under [`SHORT_TEXT`] characters in all.
    Short,
    /// Mostly short lines (names, links, labels): under [`PROSE_SHARE`] of
    /// the words stand in paragraphs of [`PROSE_WORDS`] words or more.
    List,
    /// The best block holds little prose ([`WEAK_EVIDENCE`]) on every pass.
    Weak,
}

impl Weakness {
    pub fn as_str(self) -> &'static str {
        match self {
            Weakness::Short => "short",
            Weakness::List => "list",
            Weakness::Weak => "weak",
        }
    }

    /// One line for a person: what the extractor saw.
    pub fn describe(self) -> &'static str {
        match self {
            Weakness::Short => "the text found is very short",
            Weakness::List => "the text found is mostly short lines (names, links, labels)",
            Weakness::Weak => "the best block on the page holds little prose",
        }
    }
}

/// Text under this many characters is [`Weakness::Short`].
pub const SHORT_TEXT: usize = 250;
/// Paragraphs of this many words or more are prose.
pub const PROSE_WORDS: usize = 10;
/// Text with a smaller share of its words in prose is [`Weakness::List`].
pub const PROSE_SHARE: f64 = 0.4;

/// The doubt about an extraction, if any (`evidence`: the best block's
/// prose evidence, `None` when the operator's selector chose the block).
fn weakness(paras: &[String], evidence: Option<f64>) -> Option<Weakness> {
    let chars: usize = paras.iter().map(|p| p.chars().count()).sum();
    if chars == 0 {
        return None;
    }
    if chars < SHORT_TEXT {
        return Some(Weakness::Short);
    }
    let (mut words, mut prose) = (0usize, 0usize);
    for p in paras {
        let n = p.split_whitespace().count();
        words += n;
        if n >= PROSE_WORDS {
            prose += n;
        }
    }
    if (prose as f64) < PROSE_SHARE * words as f64 {
        return Some(Weakness::List);
    }
    if evidence.is_some_and(|e| e < WEAK_EVIDENCE) {
        return Some(Weakness::Weak);
    }
    None
}

/// The version an article is tagged with: the engine's, and when a source
/// overrides extraction, a short hash of its overrides. Changing a source's
/// `content_selector` or `ignore_selectors` changes what is extracted just
/// as an upgrade does, so it re-baselines instead of flagging edits.
pub fn version_with(overrides: &ExtractOverrides) -> String {
    if overrides.content_selector.is_none() && overrides.ignore_selectors.is_empty() {
        return EXTRACTOR_VERSION.to_string();
    }
    let canonical = crate::canonical::canonical_json(&serde_json::json!({
        "content_selector": overrides.content_selector,
        "ignore_selectors": overrides.ignore_selectors,
    }));
    let hash = crate::canonical::hash_hex(canonical.as_bytes());
    format!("{EXTRACTOR_VERSION}+overrides.{}", &hash[..12])
}

/// Attribute lookup by name without interning it, for scraper's elements
/// (link discovery reads scraper's tree). `scraper`'s `attr` turns the
/// name into an atom (a hash) on every call and binary-searches attributes
/// comparing strings; a linear scan over a few attributes wins.
pub trait AttrExt {
    fn attribute(&self, name: &str) -> Option<&str>;
}

impl AttrExt for scraper::node::Element {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attrs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// A strict pass that yields at least this many characters is kept;
/// otherwise the next, less strict pass is tried and the longest result wins.
const ENOUGH_TEXT: usize = 500;

/// Below this prose evidence (see [`content::Found`]) the best block of a
/// pass is doubtful: a column of teasers or a widget, not an article.
const WEAK_EVIDENCE: f64 = 5.0;

/// What the body search found: paragraphs, and the prose evidence of the
/// best block they came from (`None` when the operator's selector chose).
struct Body {
    paras: Vec<String>,
    evidence: Option<f64>,
}

/// A pass's result kept while a less strict pass is tried.
struct Held {
    paras: Vec<String>,
    len: usize,
    evidence: f64,
    in_main: bool,
}

fn body_paragraphs(doc: &Dom<'_>, overrides: &ExtractOverrides) -> Body {
    // An operator's selectors are CSS: they are matched on scraper's copy
    // of the tree (same ids), made once and only for a source that has them.
    let ignore_selectors: Vec<Selector> = overrides
        .ignore_selectors
        .iter()
        .filter_map(|s| Selector::parse(s).ok())
        .collect();
    let content_selector = overrides
        .content_selector
        .as_deref()
        .and_then(|s| Selector::parse(s).ok());
    let mut selectors: Vec<&Selector> = ignore_selectors.iter().collect();
    selectors.extend(content_selector.as_ref());
    let mut matched = doc.select_css(&selectors);
    let roots: Option<Vec<NodeId>> = content_selector.as_ref().and_then(|_| matched.pop());
    let ignore: content::IdSet = matched.into_iter().flatten().collect();
    if let Some(roots) = roots
        && let Some((roots, removed)) = content::find_selected(doc, &roots, &ignore)
    {
        return Body {
            paras: text::paragraphs(&roots, &removed),
            evidence: None,
        };
    }
    let classes = content::Classes::of(doc);
    // A pass that finds enough text is taken unless what it found is
    // doubtful, and then the next, less strict pass is tried:
    // - it lies outside the page's declared main region (`<main>`): the
    //   class rules may have pruned the article inside it (tabs,
    //   accordions, a container named "sidebar-layout"); a later pass that
    //   reads from the main region wins;
    // - its best block holds little prose ([`WEAK_EVIDENCE`]: teasers, a
    //   widget): a later pass whose best block holds twice the prose wins.
    // Either way the later pass must find at least half as much text: a
    // less strict pass also lets chrome back in (a consent dialog's
    // paragraphs are prose too).
    let main = content::main_region(doc);
    let mut held: Option<Held> = None;
    let mut best = Body {
        paras: Vec::new(),
        evidence: Some(0.0),
    };
    let mut best_len = 0;
    for pass in content::PASSES {
        // Reader comments stand in only for a page whose text is doubtful.
        if !pass.comments && held.as_ref().is_none_or(|h| h.evidence >= WEAK_EVIDENCE) {
            continue;
        }
        let found = content::find(doc, &classes, &ignore, pass);
        let paras = text::paragraphs(&found.roots, &found.removed);
        let len: usize = paras.iter().map(|p| p.chars().count()).sum();
        let evidence = found.evidence;
        if len >= ENOUGH_TEXT {
            let in_main = main.is_none_or(|m| content::in_region(doc, &found.roots, m));
            let strong = evidence >= WEAK_EVIDENCE;
            let take = match &held {
                None => in_main && strong,
                Some(h) => {
                    len * 2 >= h.len
                        && ((in_main && !h.in_main)
                            || (h.evidence < WEAK_EVIDENCE
                                && strong
                                && evidence >= 2.0 * h.evidence))
                }
            };
            if take {
                return Body {
                    paras,
                    evidence: Some(evidence),
                };
            }
            held.get_or_insert(Held {
                paras,
                len,
                evidence,
                in_main,
            });
            continue;
        }
        if len > best_len {
            best_len = len;
            best = Body {
                paras,
                evidence: Some(evidence),
            };
        }
    }
    match held {
        Some(h) => Body {
            paras: h.paras,
            evidence: Some(h.evidence),
        },
        None => best,
    }
}

/// The tree the extractor reads: the page as the prefilter leaves it,
/// parsed in one pass. A page whose prefiltered text could pass
/// [`MAX_PARSE_BYTES`] is prefiltered first (into `stripped`) and cut there.
pub(crate) fn page_tree<'a>(html: &'a str, stripped: &'a mut String) -> tree::Tree<'a> {
    if html.len() <= MAX_PARSE_BYTES {
        return tree::parse_stripped(html, prefilter::RAW_ELEMENTS);
    }
    *stripped = prefilter::strip(html);
    tree::parse(truncate_at_char(stripped, MAX_PARSE_BYTES))
}

fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_from_meta_is_honoured() {
        let body =
            b"<html><head><meta charset=\"windows-1254\"></head><body>\xdeehir</body></html>";
        assert!(decode(body, None).contains("Şehir"));
        assert!(decode(body, Some("text/html; charset=windows-1254")).contains("Şehir"));
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let depth = 10_000;
        let html = format!(
            "{}<p>deep text, with a comma, and more words here</p>{}",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        // Run on a thread with a small stack to prove the walks are iterative.
        let article = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || extract(&html, None, &ExtractOverrides::default()))
            .unwrap()
            .join()
            .unwrap();
        assert!(article.text.contains("deep text"));
    }

    #[test]
    fn an_operators_selectors_choose_and_prune_the_text() {
        let para = |w: &str| {
            format!(
                "<p>{w} {}</p>",
                "words of the story, with commas. ".repeat(20)
            )
        };
        let html = format!(
            "<html><body><div id=main>{}{}<div class=promo>{}</div></div>\
             <div id=side><p>Side column text</p><div class=promo>Side promo</div></div></body></html>",
            para("First"),
            para("Second"),
            para("Promoted")
        );
        let with = |content: Option<&str>, ignore: &[&str]| {
            let o = ExtractOverrides {
                content_selector: content.map(str::to_string),
                ignore_selectors: ignore.iter().map(|s| s.to_string()).collect(),
            };
            extract(&html, None, &o).text
        };
        let side = with(Some("#side"), &[]);
        assert!(
            side.contains("Side column text") && side.contains("Side promo"),
            "{side}"
        );
        assert!(!side.contains("First"), "{side}");
        let side = with(Some("#side"), &[".promo", "b"]);
        assert!(
            side.contains("Side column text") && !side.contains("Side promo"),
            "{side}"
        );
        let main = with(None, &[".promo"]);
        assert!(main.contains("First") && main.contains("Second"), "{main}");
        assert!(!main.contains("Promoted"), "{main}");
        // A selector that matches nothing leaves the general algorithm.
        let none = with(Some("#missing"), &[]);
        assert!(none.contains("First"), "{none}");
    }

    fn prose(topic: &str, n: usize) -> String {
        (0..n)
            .map(|i| {
                format!(
                    "<p>Paragraph {i} about {topic}: the council met on Tuesday, heard the residents, \
                     weighed the costs of the repairs, and voted to keep the bridge open until spring.</p>"
                )
            })
            .collect()
    }

    #[test]
    fn the_lead_in_a_block_of_its_own_before_the_body_is_the_articles() {
        let html = format!(
            "<html><body><div class=teaser><p>Yesterday's story: the mayor resigned after a long, bitter dispute over the budget.</p></div>\
             <div class=story><h1>The bridge stays open</h1>\
             <div class=vorspann><p>The council voted to keep the old bridge open until spring, against the engineers' advice.</p></div>\
             <div class=text>{}</div></div><div class=share><a href=/s>Share</a> <a href=/t>Tweet</a></div></body></html>",
            prose("the bridge", 5)
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(
            a.text
                .starts_with("The council voted to keep the old bridge open until spring"),
            "{}",
            a.text
        );
        // What stands before the headline is the page's, not the article's.
        assert!(!a.text.contains("mayor resigned"), "{}", a.text);
        // A standfirst in the article's <header> (pruned as a tag) is read;
        // its byline and date lines are not.
        let html = format!(
            "<html><body><article><header><h1>The bridge stays open</h1>\
             <p class=entry__subtitle>The council voted to keep the old bridge open until spring, against the engineers' advice.</p>\
             <p class=byline>By a reporter of ours, who wrote this piece for the paper today.</p></header>\
             <div class=text>{}</div></article></body></html>",
            prose("the bridge", 5)
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(a.text.starts_with("The council voted"), "{}", a.text);
        assert!(!a.text.contains("By a reporter"), "{}", a.text);
    }

    #[test]
    fn a_short_article_read_by_a_lenient_pass_leaves_its_share_bar_out() {
        // Under 500 characters: every pass is tried and the longest wins,
        // which is a pass without class pruning.
        let html = "<html><body><div class=post><p>The council voted on Tuesday to keep the old bridge open until spring, \
             against the engineers' advice, and the mayor said so.</p><p>Repairs begin in April, with a budget of two million.</p>\
             <div class=sharedaddy><h3>Share this:</h3><a href=/f>Facebook</a> <a href=/t>Twitter</a></div>\
             <div id=comments-form class=comment-respond><p>Leave a reply</p></div></div></body></html>";
        let a = extract(html, None, &ExtractOverrides::default());
        assert!(a.text.contains("Repairs begin in April"), "{}", a.text);
        assert!(!a.text.contains("Share this"), "{}", a.text);
        assert!(!a.text.contains("Leave a reply"), "{}", a.text);
    }

    #[test]
    fn prose_wins_over_a_well_named_panel() {
        // The side panel's class ("panel-body", "content") earns it the
        // higher score; the description beside it holds the prose.
        let html = format!(
            "<html><body><div class=row><div class=col-md-3><div class='panel-body content'>\
             <p>Order by phone, Monday to Friday, from nine to five.</p><p>Delivery, within Germany, in two days.</p></div></div>\
             <div class=col-md-9><div class=wrap><div class=beschreibung>{}</div></div></div></div></body></html>",
            prose("the wine region", 6)
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(
            a.text.contains("Paragraph 5 about the wine region"),
            "{}",
            a.text
        );
        assert!(!a.text.contains("Order by phone"), "{}", a.text);
        assert!(!a.text.contains("Delivery"), "{}", a.text);
    }

    #[test]
    fn data_tables_short_code_and_sentences_around_links_are_kept() {
        let html = format!(
            "<html><body><article>{}<table><tr><td><a href=/a>Aluminium frames for the large windows</a></td><td>12</td></tr>\
             <tr><td><a href=/b>Steel beams for the bridge deck</a></td><td>40</td></tr></table>\
             <div><pre><code>make all</code></pre></div>\
             <p>Read <a href=/report>the engineers' full report on the state of the bridge</a>; it was published by the council on Monday.</p>\
             {}</article></body></html>",
            prose("the bridge", 3),
            prose("the deck", 2)
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(
            a.text.contains("Steel beams for the bridge deck\n\n40"),
            "{}",
            a.text
        );
        assert!(a.text.contains("make all"), "{}", a.text);
        assert!(
            a.text.contains("it was published by the council on Monday"),
            "{}",
            a.text
        );
    }

    #[test]
    fn a_link_inside_a_sentence_is_part_of_it() {
        let html = format!(
            "<html><body><article><p>Branches of <span class=rtr><a href='/t/jpm'>JPMorgan Chase</a></span> \
             gathered, and the <span><a href='/t/x'>bank</a></span> said so, with more words to make it prose.</p>{}</article></body></html>",
            prose("the bank", 4)
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(
            a.text
                .contains("Branches of JPMorgan Chase gathered, and the bank said so"),
            "{}",
            a.text
        );
    }

    #[test]
    fn soft_hyphens_and_zero_width_spaces_are_not_text() {
        let html = format!(
            "<html><body><article><p>Die Wehr&shy;an&shy;lage in Hor\u{200b}ka, ein Denk&shy;mal \
             der Ge\u{2060}schichte, and more words to make a paragraph.</p>{}</article></body></html>",
            prose("the castle", 3)
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(
            a.text
                .contains("Die Wehranlage in Horka, ein Denkmal der Geschichte"),
            "{}",
            a.text
        );
        // Decomposed letters are composed (NFC).
        let a = extract(
            &format!(
                "<html><body><article><p>Die Tu\u{308}r und die Kinder, and more words to make a paragraph.</p>{}</article></body></html>",
                prose("the door", 3)
            ),
            None,
            &ExtractOverrides::default(),
        );
        assert!(a.text.contains("Die Tür und die Kinder"), "{}", a.text);
        // Joiners that shape a script are kept.
        let a = extract(
            "<html><body><p>می\u{200c}خواهم and a paragraph of enough words to be read as text here.</p></body></html>",
            None,
            &ExtractOverrides::default(),
        );
        assert!(a.text.contains('\u{200c}'), "{}", a.text);
    }

    #[test]
    fn an_article_in_the_declared_main_region_beats_enough_text_outside_it() {
        // The strict pass prunes the container the article sits in (its
        // layout is named "sidebar-layout") and finds a box of prose about
        // the publisher outside <main>; the next pass reads the article
        // inside <main>.
        let about: String = (0..4)
            .map(|i| format!("<p>About us {i}: the association, founded in 1987, works for civil rights, data protection, and a world worth living in, and it lives on donations.</p>"))
            .collect();
        let html = format!(
            "<html><body><main><div class='o-row c-fixed-sidebar-layout--140'><div class=o-col>{}</div></div></main>\
             <div class=box><div class=info-box>{about}</div></div></body></html>",
            prose("the bridge", 8)
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(
            a.text.contains("Paragraph 7 about the bridge"),
            "{}",
            a.text
        );
        assert!(!a.text.contains("About us"), "{}", a.text);
        assert_eq!(a.weak, None);
        // Without a declared main region, nothing says the box is not it.
        let plain = html.replace("<main>", "<div>").replace("</main>", "</div>");
        let b = extract(&plain, None, &ExtractOverrides::default());
        assert!(b.text.contains("About us"), "{}", b.text);
    }

    #[test]
    fn a_column_of_teasers_does_not_win_over_an_article_its_layout_names_sidebar() {
        let html = include_str!("../../tests/fixtures/upgrade-14/sidebar-layout.html");
        let a = extract(html, None, &ExtractOverrides::default());
        assert!(a.text.contains("national security"), "{}", a.text);
        assert!(!a.text.contains("Ransomware attacks"), "{}", a.text);
        assert_eq!(a.weak, None);
    }

    #[test]
    fn the_publishers_structured_body_stands_in_for_a_page_rendered_by_script() {
        let body: Vec<String> = (0..6)
            .map(|i| format!("Paragraph {i} of the opinion piece: the president's playbook, her critics said, was written for another island and another decade."))
            .collect();
        let ld = serde_json::json!({
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": "A playbook",
            "articleBody": body.join("\n"),
        });
        let page = |dom: &str| {
            format!(
                "<html><head><script type=\"application/ld+json\">{ld}</script></head><body>{dom}</body></html>"
            )
        };
        let o = ExtractOverrides::default();
        // The markup holds only the chrome the script fills in.
        let shell = page(
            "<div id=app><div class=related><p>Read more: the week in review, with all the stories you may have missed.</p></div></div>",
        );
        let a = extract(&shell, None, &o);
        assert_eq!(a.text, body.join("\n\n"));
        assert_eq!(a.weak, None);
        assert!(a.from_structured);
        // Markup that holds the article keeps the extractor's reading.
        let dom: String = body.iter().map(|p| format!("<p>{p} Shown.</p>")).collect();
        let a = extract(&page(&format!("<article>{dom}</article>")), None, &o);
        assert!(a.text.contains("Shown."), "{}", a.text);
        assert!(!a.from_structured);
        // Markup left in the structured body is read as paragraphs.
        assert_eq!(
            metadata::body_paragraphs("<p>One &amp; two</p><p>Three<br/>four</p>"),
            ["One & two", "Three", "four"]
        );
    }

    #[test]
    fn doubtful_extractions_say_why() {
        let o = ExtractOverrides::default();
        let names: String = (0..40)
            .map(|i| format!("<li>Dr. Signatory Number{i}, Professor of Law</li>"))
            .collect();
        let list = extract(
            &format!("<html><body><ul>{names}</ul></body></html>"),
            None,
            &o,
        );
        assert_eq!(list.weak, Some(Weakness::List), "{}", list.text);
        let short = extract(
            "<html><body><p>Geboren 1983, ist seit 2015 Redakteur bei der Zeitung.</p></body></html>",
            None,
            &o,
        );
        assert_eq!(short.weak, Some(Weakness::Short), "{}", short.text);
        let article = extract(
            &format!(
                "<html><body><article>{}</article></body></html>",
                prose("the bridge", 8)
            ),
            None,
            &o,
        );
        assert_eq!(article.weak, None, "{}", article.text);
        // A page of one-sentence teasers: enough text, little prose per block.
        let teasers: String = (0..8)
            .map(|i| format!("<div class=card><h3><a href='/s/{i}'>Story {i} of the week</a></h3><p>One sentence that sums up story number {i} for readers.</p></div>"))
            .collect();
        let weak = extract(
            &format!("<html><body><div class=grid>{teasers}</div></body></html>"),
            None,
            &o,
        );
        assert!(weak.weak.is_some(), "{}", weak.text);
        // Serialized only when present: articles without doubt read as before.
        assert!(!serde_json::to_string(&article).unwrap().contains("weak"));
        assert!(
            serde_json::to_string(&list)
                .unwrap()
                .contains("\"weak\":\"list\"")
        );
    }

    #[test]
    fn empty_and_garbage_input_give_an_empty_article() {
        for input in ["", "\0\0\0", "<!-- -->", "<html><body></body></html>"] {
            let a = extract(input, None, &ExtractOverrides::default());
            assert_eq!(a.text, "", "{input:?}");
            assert_eq!(a.extractor_version, EXTRACTOR_VERSION);
        }
    }

    #[test]
    fn a_date_and_author_printed_in_an_aside_are_read_but_not_its_text() {
        let para = "The council voted on Tuesday to close the bridge for repairs. ".repeat(8);
        let html = format!(
            "<html><body><main><h1>Bridge closes</h1><p>{para}</p><p>{para}</p></main>\
             <aside class='meta'><h3>Published</h3><p><time datetime='2024-08-30T12:00:00Z'>August 30, 2024</time></p>\
             <div class='post-author'>Lisa D. Ellis</div><p>Related: other stories here</p></aside></body></html>"
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert_eq!(a.published.as_deref(), Some("2024-08-30T12:00:00Z"));
        assert_eq!(a.byline.as_deref(), Some("Lisa D. Ellis"));
        assert!(!a.text.contains("Related"), "{}", a.text);
    }

    #[test]
    fn an_article_is_judged_by_its_own_text_not_the_link_lists_and_figures_in_it() {
        // The column holds a short article, then downloads, keyword links
        // and a gallery whose figures each carry a "download" link: more
        // link text than the article has. A teaser box elsewhere holds less
        // prose but no links.
        let links: String = (0..5)
            .map(|i| {
                format!("<li><a href=/pub/{i}>Publication number {i} on the rural regions, PDF file, 2 MB</a></li>")
            })
            .collect();
        let figures: String = (0..4)
            .map(|i| format!("<figure><img src=/g{i}.png><div><a href=/g{i}.png>Download the graphic</a></div></figure>"))
            .collect();
        let html = format!(
            "<html><body><div class=layout><div class=column><h1>The forum on rural regions</h1>\
             <p>Volunteers keep the villages alive, the minister said, opening the forum in Berlin on Wednesday.</p>\
             <p>Two days of talks, with mayors, associations and researchers, asked how the state can help them, and what it costs.</p>\
             <p>Clubs, fire brigades and choirs find fewer people to lead them, and the paperwork grows every year.</p>\
             <p>The ministry will fund a foundation for volunteers, with thirty million a year, from next spring on.</p>\
             <div class=downloads><ul>{links}</ul></div>{figures}\
             <div class=keywords><a href=/k/1>Volunteers</a> <a href=/k/2>Villages</a> <a href=/k/3>Rural regions</a></div></div>\
             <div class=aside><div class=box><p>Our office is open from Monday to Friday, nine to five, and on Saturday mornings.</p>\
             <p>Visitors, please register at the gate, with an identity card, before noon, or call us.</p></div></div></div></body></html>"
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(
            a.text.contains("Volunteers keep the villages alive"),
            "{}",
            a.text
        );
        assert!(!a.text.contains("Our office is open"), "{}", a.text);
    }

    #[test]
    fn a_forum_threads_posts_are_its_text_when_nothing_else_is() {
        // The posts are named like reader comments, pruned in every pass
        // but the last; a page whose other blocks are short is read from
        // them. An article with comments under it keeps them out.
        let posts: String = (0..4)
            .map(|i| {
                format!(
                    "<div class=commentText>Post {i}: since the update to version 13 my phone cannot reach the store \
                     over mobile data, although the setting allows it, and a restart did not help either.</div>"
                )
            })
            .collect();
        let panels: String = (0..8)
            .map(|i| format!("<section class=panel><div>Poll {i}: which phone do you use at home and which one does your family use?</div></section>"))
            .collect();
        let html = format!(
            "<html><body><main><h1>No store over mobile data</h1>{posts}</main>{panels}</body></html>"
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(a.text.contains("Post 0: since the update"), "{}", a.text);
        let html = format!(
            "<html><body><article><h1>The bridge stays open</h1>{}</article>\
             <div class=comments>{posts}</div></body></html>",
            prose("the bridge", 5)
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(
            a.text.contains("Paragraph 4 about the bridge"),
            "{}",
            a.text
        );
        assert!(!a.text.contains("since the update"), "{}", a.text);
    }

    #[test]
    fn a_deck_under_the_headline_and_a_summary_in_the_articles_header_are_its_lead() {
        // A deck need not end a sentence.
        let html = format!(
            "<html><body><article><h1>No money left for the rent</h1>\
             <h2>Activists in the United States call for a rent freeze in the crisis and warn landlords</h2>\
             <div class=content>{}</div></article></body></html>",
            prose("the rent", 5)
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(
            a.text.starts_with("Activists in the United States"),
            "{}",
            a.text
        );
        // A summary in a <div> of the article's header, which the chosen
        // content holds.
        let html = format!(
            "<html><body><main><article><header><div class=title><h1>Drilling until it gets hot</h1></div>\
             <div class=intro><div class=summary>Banks and investors around the world finance ventures that harm the climate.</div>\
             <div class=byline>By a reporter of ours, who wrote this piece for the paper today.</div></div></header>\
             <section class=page>{}</section></article></main></body></html>",
            prose("the banks", 5)
        );
        let a = extract(&html, None, &ExtractOverrides::default());
        assert!(a.text.starts_with("Banks and investors"), "{}", a.text);
        assert!(!a.text.contains("By a reporter"), "{}", a.text);
        assert_eq!(
            a.text.matches("Banks and investors").count(),
            1,
            "{}",
            a.text
        );
    }
}

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
pub mod eval;
pub mod metadata;
pub mod prefilter;
pub mod text;
pub mod tree;
pub mod wcxb;

use std::borrow::Cow;

use encoding_rs::Encoding;
use scraper::Selector;
use serde::{Deserialize, Serialize};

use crate::config::ExtractOverrides;
use dom::{Dom, NodeId};

/// Version of the extraction algorithm, recorded with every content hash.
/// Bump it whenever the output for some page changes: an upgrade then
/// re-baselines stored articles instead of flagging them as edited.
pub const EXTRACTOR_VERSION: &str = "newsledger-extract/14";

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
    let mut paras = body_paragraphs(&doc, overrides);

    // The headline is metadata, not body: drop it where the template repeats it.
    if let Some(title) = meta.title.as_deref() {
        let t = metadata::folded(title);
        while paras.first().is_some_and(|p| metadata::folded(p) == t) {
            paras.remove(0);
        }
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
        text: paras.join("\n\n"),
        extractor_version: version_with(overrides),
    }
}

/// The version an article is tagged with: the engine's, and when a source
/// overrides extraction, a short hash of its overrides. Changing a source's
/// `content_selector` or `ignore_selectors` changes what is extracted just
/// as an upgrade does, so it re-baselines instead of flagging edits.
pub fn version_with(overrides: &ExtractOverrides) -> String {
    if overrides.content_selector.is_none() && overrides.ignore_selectors.is_empty() {
        return EXTRACTOR_VERSION.to_string();
    }
    let canonical = crate::ledger::entry::canonical_json(&serde_json::json!({
        "content_selector": overrides.content_selector,
        "ignore_selectors": overrides.ignore_selectors,
    }));
    let hash = crate::ledger::blobs::hash_hex(canonical.as_bytes());
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

fn body_paragraphs(doc: &Dom<'_>, overrides: &ExtractOverrides) -> Vec<String> {
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
        return text::paragraphs(&roots, &removed);
    }
    let mut best: Vec<String> = Vec::new();
    let mut best_len = 0;
    let classes = content::Classes::of(doc);
    for pass in content::PASSES {
        let (roots, removed) = content::find(doc, &classes, &ignore, pass);
        let paras = text::paragraphs(&roots, &removed);
        let len: usize = paras.iter().map(|p| p.chars().count()).sum();
        if len >= ENOUGH_TEXT {
            return paras;
        }
        if len > best_len {
            best_len = len;
            best = paras;
        }
    }
    best
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
}

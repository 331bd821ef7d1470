//! The article's header as a reader sees it: the short lines of text
//! around the first `<h1>` (bylines, dates, "Updated …"), in page order.
//! Dates and bylines are read from these lines when the structured data
//! is missing or disagrees with what the page shows.

use std::borrow::Cow;

use crate::extract::dom::{Dom, Edge, Element};

use super::folded;
use crate::extract::prefilter::contains_ci;

/// Text read before the first `<h1>` that still counts as its header
/// (dates and bylines printed above the headline), in characters.
const BEFORE_HEADLINE: usize = 400;
/// Text read after the start of the first `<h1>`.
const AFTER_HEADLINE: usize = 1500;

/// One text node (or one `<time>` element) of the header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line<'d> {
    /// The text, whitespace collapsed: the page's own text when it needs
    /// no folding (most text nodes), else a folded copy.
    pub text: Cow<'d, str>,
    /// After the headline started (not above it).
    pub below: bool,
    /// Inside the first `<h1>`.
    pub headline: bool,
    /// A `<time>` element: its `datetime` attribute, if any.
    pub time: Option<Option<String>>,
    /// Inside a link to an author page (`/author/…`, `rel=author`).
    pub author_link: bool,
    /// Inside an element whose class or itemprop names an author.
    pub author_box: bool,
}

/// Elements whose text is never the article's header.
fn skipped(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "nav"
            | "footer"
            | "aside"
            | "select"
            | "title"
    )
}

/// Paths of author pages; each starts with `/` or `?`.
const AUTHOR_PATHS: &[&str] = &[
    "/author/",
    "/authors/",
    "/writer/",
    "/writers/",
    "/contributor/",
    "/contributors/",
    "/byline/",
    "/staff/",
    "/people/",
    "/team/",
    "/profile/",
    "/user/",
    "/u/",
    "?author=",
];

/// The second bytes of [`AUTHOR_PATHS`], either case, as a table.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build"
)]
const AUTHOR_PATH_SECOND: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < AUTHOR_PATHS.len() {
        let b = AUTHOR_PATHS[i].as_bytes()[1];
        table[b.to_ascii_lowercase() as usize] = true;
        table[b.to_ascii_uppercase() as usize] = true;
        i += 1;
    }
    table
};

fn is_author_link(v: Element<'_>) -> bool {
    if v.name() != "a" {
        return false;
    }
    v.attribute("rel")
        .is_some_and(|r| r.split_ascii_whitespace().any(|t| t == "author"))
        || v.attribute("href").is_some_and(|h| {
            // Only at a `/` or `?` can a path start: one scan for those.
            let b = h.as_bytes();
            // The byte after it must be a path's second byte (a cheap test
            // first: hrefs are full of `/`).
            b.iter().enumerate().any(|(i, c)| {
                (*c == b'/' || *c == b'?')
                    && b.get(i + 1)
                        .and_then(|n| AUTHOR_PATH_SECOND.get(usize::from(*n)))
                        == Some(&true)
                    && AUTHOR_PATHS.iter().any(|p| {
                        b.get(i..i + p.len())
                            .is_some_and(|w| w.eq_ignore_ascii_case(p.as_bytes()))
                    })
            })
        })
}

/// Class words that make an "author" element a bio, a picture or someone
/// else's words rather than the byline.
const NOT_BYLINE_CLASSES: &[&str] = &[
    "bio",
    "desc",
    "about",
    "avatar",
    "image",
    "photo",
    "comment",
    "review",
    "testimonial",
    "quote",
];

fn is_author_box(v: Element<'_>) -> bool {
    v.attribute("itemprop").is_some_and(|p| p == "author")
        || v.attribute("class").is_some_and(|c| {
            (contains_ci(c, "author") || contains_ci(c, "byline"))
                && !NOT_BYLINE_CLASSES.iter().any(|x| contains_ci(c, x))
        })
}

/// `text` already reads as [`push_folded`] would write it: no white space
/// but single ASCII spaces between other characters. One pass over the
/// bytes; only the lead bytes of multi-byte white space (U+0085, U+00A0,
/// U+1680, U+2000–U+3000) are decoded.
fn is_folded(text: &str) -> bool {
    let b = text.as_bytes();
    if b.first() == Some(&b' ') || b.last() == Some(&b' ') {
        return false;
    }
    let mut space = false;
    for (i, c) in b.iter().enumerate() {
        match c {
            b' ' if space => return false,
            b' ' => space = true,
            b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => return false,
            0xC2 | 0xE1..=0xE3
                if text
                    .get(i..)
                    .and_then(|t| t.chars().next())
                    .is_some_and(char::is_whitespace) =>
            {
                return false;
            }
            _ => space = false,
        }
    }
    true
}

/// `text` with runs of whitespace folded to one space, trimmed (appended
/// to `out`); returns the number of characters appended.
fn push_folded(out: &mut String, text: &str) -> usize {
    let mut chars = 0;
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        out.push_str(word);
        chars += word.chars().count();
    }
    chars
}

/// The header's lines: from [`BEFORE_HEADLINE`] characters above the first
/// `<h1>` to [`AFTER_HEADLINE`] below its start. A page without an `<h1>`
/// (headlines in an `<h2>`, or a styled `<p>`) is anchored on the first
/// text that reads exactly as one of its `titles` (that line is then
/// marked `headline`); with neither there is no header.
pub fn lines<'d>(doc: &'d Dom<'_>, titles: &[&str]) -> Vec<Line<'d>> {
    let (seen, h1_at) = walk(doc, true);
    let anchor = || {
        let want: Vec<String> = titles
            .iter()
            .map(|t| folded(t))
            .filter(|t| !t.is_empty())
            .collect();
        seen.iter()
            .find(|(_, l)| want.contains(&folded(&l.text)))
            .map(|(at, _)| *at)
    };
    let anchored = if h1_at.is_none() { anchor() } else { None };
    let Some(h) = h1_at.or(anchored) else {
        return Vec::new();
    };
    seen.into_iter()
        .filter(|(at, _)| *at + BEFORE_HEADLINE >= h && *at <= h + AFTER_HEADLINE)
        .map(|(at, l)| Line {
            below: at >= h,
            headline: l.headline || anchored == Some(at),
            ..l
        })
        .collect()
}

/// Every line of the page, as if all were under the headline: where the
/// last resorts look for a labelled date ("Posted on April 13, 2023" at the
/// end of the article, pages without an `<h1>`).
pub fn page_lines<'d>(doc: &'d Dom<'_>) -> Vec<Line<'d>> {
    walk(doc, false)
        .0
        .into_iter()
        .map(|(_, l)| Line { below: true, ..l })
        .collect()
}

/// The page's lines with their text offsets, and the offset of the first
/// `<h1>`; with `window`, the walk stops [`AFTER_HEADLINE`] past it.
/// Without it no offset is read, so text borrowed as it stands is not
/// counted (the offsets are then meaningless).
fn walk<'d>(doc: &'d Dom<'_>, window: bool) -> (Vec<(usize, Line<'d>)>, Option<usize>) {
    // (text offset, line) for every line until the window closes.
    let mut seen: Vec<(usize, Line<'d>)> = Vec::new();
    let mut offset = 0usize;
    let mut h1_at: Option<usize> = None;
    let mut in_h1 = false;
    let mut skip = 0usize;
    let mut author_link = 0usize;
    let mut author_box = 0usize;
    // (author link, author box) of each open element, innermost last.
    let mut open: Vec<(bool, bool)> = Vec::new();
    // An open <time>: its datetime, the offset where it opened, its text.
    let mut time: Option<(Option<String>, usize, String)> = None;
    for edge in doc.root().traverse() {
        if window && h1_at.is_some_and(|h| offset > h + AFTER_HEADLINE) {
            break;
        }
        match edge {
            Edge::Open(node) => {
                if let Some(el) = node.element() {
                    let name = el.name();
                    if skipped(name) {
                        skip += 1;
                    } else if skip == 0 {
                        if name == "h1" && h1_at.is_none() {
                            h1_at = Some(offset);
                            in_h1 = true;
                        }
                        if name == "time" && time.is_none() {
                            let attr = el.attribute("datetime").and_then(super::normalize_date);
                            time = Some((attr, offset, String::new()));
                        }
                    }
                    // Inside a skipped element no line is kept, so its
                    // marks cannot matter.
                    let flags = if skip == 0 {
                        (is_author_link(el), is_author_box(el))
                    } else {
                        (false, false)
                    };
                    author_link += usize::from(flags.0);
                    author_box += usize::from(flags.1);
                    open.push(flags);
                } else if skip == 0
                    && let Some(text) = node.value().as_text()
                {
                    let (t, chars) = if is_folded(text) {
                        if text.is_empty() {
                            continue;
                        }
                        let chars = if window { text.chars().count() } else { 0 };
                        (Cow::Borrowed(text), chars)
                    } else {
                        if text.trim().is_empty() {
                            continue;
                        }
                        // Sized once: folding never lengthens the text.
                        let mut t = String::with_capacity(text.len());
                        let chars = push_folded(&mut t, text);
                        if t.is_empty() {
                            continue;
                        }
                        (Cow::Owned(t), chars)
                    };
                    if let Some((_, _, inner)) = time.as_mut() {
                        inner.push(' ');
                        inner.push_str(&t);
                    } else {
                        seen.push((
                            offset,
                            Line {
                                below: false,
                                headline: in_h1,
                                time: None,
                                author_link: author_link > 0,
                                author_box: author_box > 0,
                                text: t,
                            },
                        ));
                    }
                    offset += chars + 1;
                }
            }
            Edge::Close(node) => {
                if let Some(el) = node.element() {
                    let name = el.name();
                    let (link, boxed) = open.pop().unwrap_or_default();
                    author_link = author_link.saturating_sub(usize::from(link));
                    author_box = author_box.saturating_sub(usize::from(boxed));
                    if skipped(name) {
                        skip = skip.saturating_sub(1);
                    } else if skip == 0 {
                        if name == "h1" {
                            in_h1 = false;
                        }
                        if name == "time"
                            && let Some((attr, at, inner)) = time.take()
                        {
                            seen.push((
                                at,
                                Line {
                                    text: Cow::Owned(inner.trim().to_string()),
                                    time: Some(attr),
                                    ..Line::default()
                                },
                            ));
                        }
                    }
                }
            }
        }
    }
    (seen, h1_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The author-link and author-box tests as first written (lowercased
    /// copies searched for each pattern): the allocation-free ones must
    /// agree with them on any attribute value.
    fn reference(rel: &str, href: &str, class: &str) -> (bool, bool) {
        let h = href.to_ascii_lowercase();
        let link = rel.split_ascii_whitespace().any(|t| t == "author")
            || AUTHOR_PATHS.iter().any(|p| h.contains(p));
        let c = class.to_ascii_lowercase();
        let boxed = (c.contains("author") || c.contains("byline"))
            && !NOT_BYLINE_CLASSES.iter().any(|x| c.contains(x));
        (link, boxed)
    }

    proptest::proptest! {
        #[test]
        fn author_links_and_boxes_match_the_reference(
            href in "(/|\\?|Author/|AUTHOR|/u/|/U|=|author=|staff/|x|é|-){0,8}",
            class in "(author|Byline|BIO|photo|post-|x| |é|AuThOr-Desc){0,5}",
        ) {
            let html = format!(
                "<a rel=\"nofollow\" href=\"{href}\" class=\"{class}\">Name</a>"
            );
            let doc = Dom::parse(&html);
            let a = crate::extract::dom::first_named(&doc, "a")
                .element()
                .expect("the link");
            let (h, c) = (
                a.attribute("href").unwrap_or_default(),
                a.attribute("class").unwrap_or_default(),
            );
            proptest::prop_assert_eq!(
                (is_author_link(a), is_author_box(a)),
                reference("nofollow", h, c)
            );
        }

        /// A text is borrowed as it stands exactly when folding would
        /// leave it unchanged (every kind of white space, ASCII or not).
        #[test]
        fn text_is_borrowed_only_when_folding_changes_nothing(
            text in "( |  |a|Zé|’|\\.|\t|\n|\r|\u{0B}|\u{0C}|\u{85}|\u{A0}|\u{1680}|\u{2003}|\u{2028}|\u{202F}|\u{3000}|\u{2019}|\u{E000}){0,8}",
        ) {
            let mut folded = String::new();
            push_folded(&mut folded, &text);
            proptest::prop_assert_eq!(is_folded(&text), folded == text);
        }
    }
}

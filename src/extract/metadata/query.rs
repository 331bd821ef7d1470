//! The metadata selectors: each a CSS selector matched by hand, with the
//! CSS it mirrors (the conformance tests hold each to scraper's engine).

use crate::extract::dom::{Dom, Element, NodeRef, Space};

/// The elements metadata looks for outside the structured data. Each is
/// the CSS selector [`Query::css`] gives, matched by hand: one pass over
/// the document's ids, no selector engine. `tests/dom.rs` checks every
/// query against scraper's matching of its selector on the corpora.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    Title,
    H1,
    /// `<time>` with a `datetime`.
    Time,
    /// Author names marked as such.
    AuthorLink,
    /// Byline containers, when no structured author was found.
    AuthorBox,
    /// Microdata publication dates: `content` or `datetime`, else the text.
    ItempropDate,
    /// Containers whose text may be a visible date.
    DateBox,
}

impl Query {
    pub const ALL: [Query; 7] = [
        Query::Title,
        Query::H1,
        Query::Time,
        Query::AuthorLink,
        Query::AuthorBox,
        Query::ItempropDate,
        Query::DateBox,
    ];

    /// The CSS selector this query matches as.
    pub fn css(self) -> &'static str {
        match self {
            Query::Title => "title",
            Query::H1 => "h1",
            Query::Time => "time[datetime]",
            Query::AuthorLink => {
                r#"a[rel~="author"], [itemprop="author"] [itemprop="name"], .byline .author, .author-name"#
            }
            Query::AuthorBox => {
                r#"[itemprop="author"], .byline, .author, .post-author, .entry-author, article address, [rel="author"]"#
            }
            Query::ItempropDate => r#"[itemprop="datePublished"]"#,
            Query::DateBox => {
                r#"[class*="date"], [class*="posted"], [class*="published"], [class*="byline"], [class*="meta"] time, [id*="date"]"#
            }
        }
    }

    /// Whether the element `n` matches.
    pub fn matches(self, n: NodeRef<'_>) -> bool {
        let Some(e) = n.element() else {
            return false;
        };
        // `rel` is one of the attributes HTML compares without case.
        let rel_is = |e: Element<'_>, word: &str, whole: bool| {
            e.attribute("rel").is_some_and(|r| {
                let same = |v: &str| {
                    if e.space() == Space::Html {
                        v.eq_ignore_ascii_case(word)
                    } else {
                        v == word
                    }
                };
                if whole {
                    same(r)
                } else {
                    r.split(CSS_SPACE).any(same)
                }
            })
        };
        let attr_is = |e: Element<'_>, name: &str, value: &str| e.attribute(name) == Some(value);
        let attr_has = |e: Element<'_>, name: &str, part: &str| {
            e.attribute(name).is_some_and(|v| v.contains(part))
        };
        match self {
            Query::Title => e.name() == "title",
            Query::H1 => e.name() == "h1",
            Query::Time => e.name() == "time" && e.attribute("datetime").is_some(),
            Query::AuthorLink => {
                (e.name() == "a" && rel_is(e, "author", false))
                    || (attr_is(e, "itemprop", "name")
                        && element_ancestors(n).any(|a| attr_is(a, "itemprop", "author")))
                    || (e.has_class("author")
                        && element_ancestors(n).any(|a| a.has_class("byline")))
                    || e.has_class("author-name")
            }
            Query::AuthorBox => {
                attr_is(e, "itemprop", "author")
                    || ["byline", "author", "post-author", "entry-author"]
                        .iter()
                        .any(|c| e.has_class(c))
                    || (e.name() == "address"
                        && element_ancestors(n).any(|a| a.name() == "article"))
                    || rel_is(e, "author", true)
            }
            Query::ItempropDate => attr_is(e, "itemprop", "datePublished"),
            Query::DateBox => {
                ["date", "posted", "published", "byline"]
                    .iter()
                    .any(|w| attr_has(e, "class", w))
                    || (e.name() == "time"
                        && element_ancestors(n).any(|a| attr_has(a, "class", "meta")))
                    || attr_has(e, "id", "date")
            }
        }
    }

    /// The matching elements, in document order.
    pub fn select<'d>(self, doc: &'d Dom<'d>) -> impl Iterator<Item = NodeRef<'d>> + 'd {
        doc.root().descendants().filter(move |n| self.matches(*n))
    }
}

/// White space between the words of an attribute, as CSS splits them.
pub(super) const CSS_SPACE: [char; 5] = [' ', '\t', '\n', '\r', '\x0C'];

/// The element's ancestors that are elements, up to the first that is not
/// (the document, or a template's content): what a CSS descendant
/// combinator looks at.
pub(super) fn element_ancestors<'d>(n: NodeRef<'d>) -> impl Iterator<Item = Element<'d>> + 'd {
    n.ancestors().map_while(|a| a.element())
}

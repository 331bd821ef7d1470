//! What class and id names say about an element: chrome (`sidebar`,
//! `related`, `promo`), reader comments, content (`article-body`), or only
//! styling (utility classes that name no part of the page); read once per
//! page into [`Classes`], with the prose check that keeps a chrome-named
//! block of the article's own flow.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{IdBuild, IdSet, element};
use crate::extract::dom::{Dom, Edge, Element, NodeRef};

#[allow(
    clippy::expect_used,
    reason = "a static regex, checked by the unit tests"
)]
static UNLIKELY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)-ad-|^ad-|\bads?\b|advert|banner|breadcrumb|combx|comment|community|cookie|disqus|extra|footer|gdpr|legends|menu|related|recent|remark|replies|rss|share|sharing|shoutbox|sidebar|skyscraper|social|sponsor|supplemental|pagination|pager|popup|modal|newsletter|subscribe|promo|widget|tag-?cloud|\btags\b|post-?nav|nav-?links|navigation|navbar|masthead|toolbar|print|signup|outbrain|taboola|most-?(read|popular|viewed)|trending|read-?more|also-?read|author-?(bio|box|info)|caption|credit|byline-share|wp-caption-text",
    )
    .expect("static regex")
});

/// Reader comments: never article text, however content-like their class
/// ("comment-content", `<article class="comment-body">`). Pruned in every pass.
#[allow(
    clippy::expect_used,
    reason = "a static regex, checked by the unit tests"
)]
static COMMENTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(^|[\s_-])comments?([\s_-]|$)|commentlist|comment-?(body|content|list|respond|form|meta|author|text|wrap|area|section|thread)|disqus|^respond$").expect("static regex")
});

#[allow(
    clippy::expect_used,
    reason = "a static regex, checked by the unit tests"
)]
static MAYBE_OK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)and|article|body|column|content|main|shadow|story|entry|post-text")
        .expect("static regex")
});

#[allow(
    clippy::expect_used,
    reason = "a static regex, checked by the unit tests"
)]
static POSITIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)article|body|content|entry|hentry|h-entry|main|page|pagination|post|text|blog|story|prose|articlebody").expect("static regex")
});

#[allow(
    clippy::expect_used,
    reason = "a static regex, checked by the unit tests"
)]
static NEGATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)-ad-|hidden|^hid$|\bhid\b|banner|combx|comment|com-|contact|foot|footer|footnote|gdpr|masthead|media|meta|outbrain|promo|related|recent|scroll|share|shoutbox|sidebar|skyscraper|sponsor|shopping|social|tags|tool|widget|newsletter|subscribe|caption|byline|author").expect("static regex")
});

/// Page-builder class names that name structure, not chrome: Elementor
/// calls every block `elementor-widget-*`, text included; CKEditor 5 wraps
/// embedded grids and figures of the body in `ck-widget`.
const STRUCTURAL_PREFIXES: &[(&str, &str)] = &[
    ("elementor-widget", "elementor-block"),
    ("ck-widget", "ck-block"),
];

fn descriptive(token: &str) -> bool {
    DESCRIPTIVE_PREFIXES.iter().any(|p| {
        token.len() > p.len()
            && token
                .get(..p.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(p))
    })
}

/// Class tokens that describe the post, not the element's role: state
/// flags (`has-comments`, `no-sidebar`) and taxonomy (`tag-social-media`,
/// `category-newsletter`, `post-type-text`). A post that has comments is
/// not a comment section.
const DESCRIPTIVE_PREFIXES: &[&str] = &[
    "has-",
    "no-",
    "with-",
    "tag-",
    "category-",
    "format-",
    "post-type-",
    "type-",
    "status-",
];

/// A class token that styles a box and names no role, alone or under a
/// variant: a Tailwind overflow or scroll utility (`overflow-hidden`,
/// `prose-table:overflow-x-auto`, `scroll-mt-20`), whose words `hidden`
/// and `scroll` are what the negative pattern looks for in hidden boxes
/// and tickers; a text utility ([`text_utility`]) or a Bootstrap
/// `justify-content-*`, whose words `text` and `content` the positive one
/// looks for. A variant that hides a box at some size (`lg:hidden`) is
/// kept: that box is chrome for some readers.
fn styling(token: &str) -> bool {
    let utility = token.rsplit(':').next().unwrap_or(token);
    let utility = utility.strip_suffix('!').unwrap_or(utility);
    if let Some(rest) = utility.strip_prefix("overflow-") {
        let rest = rest
            .strip_prefix("x-")
            .or_else(|| rest.strip_prefix("y-"))
            .unwrap_or(rest);
        return ["hidden", "scroll", "auto", "clip", "visible"].contains(&rest);
    }
    if let Some(rest) = utility.strip_prefix("text-") {
        return text_utility(rest);
    }
    if utility.starts_with("justify-content-") || utility.starts_with("align-content-") {
        return true;
    }
    if let Some(rest) = utility.strip_prefix("scroll-") {
        return ["smooth", "auto"].contains(&rest)
            || rest.strip_prefix(['m', 'p']).is_some_and(|r| {
                let r = r
                    .strip_prefix(['t', 'r', 'b', 'l', 'x', 'y', 's', 'e'])
                    .unwrap_or(r);
                r.starts_with('-')
            });
    }
    false
}

/// What follows `text-` in a Tailwind or Bootstrap utility that sets a
/// size, an alignment or a colour (`text-sm`, `text-center`,
/// `text-gray-600`, `text-[20px]`, `text-muted`): it styles any text, a
/// footer's as well as an article's.
fn text_utility(rest: &str) -> bool {
    const WORDS: &str = "xs sm base md lg xl left center right justify start end white black \
        transparent current inherit muted primary secondary success danger warning info light dark \
        body nowrap wrap balance pretty clip ellipsis";
    const COLOURS: &str = "slate gray grey zinc neutral stone red orange amber yellow lime green \
        emerald teal cyan sky blue indigo violet purple fuchsia pink rose primary secondary muted \
        accent foreground";
    let named = |list: &str, word: &str| list.split_ascii_whitespace().any(|w| w == word);
    if rest.starts_with('[') || named(WORDS, rest) {
        return true;
    }
    // `2xl` to `9xl`
    if rest.len() == 3 && rest.ends_with("xl") && rest.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    // `gray-600`, `primary-500`, `muted-foreground`, `cyan-900/80`
    rest.split_once('-').is_some_and(|(colour, shade)| {
        named(COLOURS, colour)
            && (shade.starts_with(|c: char| c.is_ascii_digit()) || shade == "foreground")
    })
}

/// A class token that styles the element's paragraphs, headings or lists
/// through an arbitrary variant (`[&_p]:mb-4`, `[&>ul]:list-disc`): the
/// element is a rich-text container, as Tailwind Typography's `prose` is.
fn styles_its_text(token: &str) -> bool {
    let Some(selector) = token
        .strip_prefix("[&")
        .and_then(|t| t.split_once("]:"))
        .map(|(s, _)| s)
    else {
        return false;
    };
    let tag = selector.trim_start_matches(['_', '>']);
    matches!(
        tag,
        "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "ul" | "ol" | "li" | "blockquote"
    )
}

/// `class` without CSS comments: a template that writes its utilities
/// with `/* HEADINGS ... */` notes between them has words in its class
/// list that name nothing on the page.
fn without_comments(class: &str) -> std::borrow::Cow<'_, str> {
    if !class.contains("/*") {
        return class.into();
    }
    let mut out = String::with_capacity(class.len());
    let mut rest = class;
    while let Some(start) = rest.find("/*") {
        out.push_str(rest.get(..start).unwrap_or(""));
        out.push(' ');
        rest = rest
            .get(start + 2..)
            .and_then(|r| r.find("*/").and_then(|end| r.get(end + 2..)))
            .unwrap_or("");
    }
    out.push_str(rest);
    out.into()
}

fn class_and_id(e: Element<'_>) -> String {
    let mut s = String::new();
    let filtered: String;
    // Tokens that say nothing of the element's role.
    let silent = |t: &str| descriptive(t) || styling(t);
    let class = e.attribute("class").map(without_comments);
    let class = match class.as_deref() {
        Some(c) if c.split_ascii_whitespace().any(silent) => {
            filtered = c
                .split_ascii_whitespace()
                .filter(|t| !silent(t))
                .collect::<Vec<_>>()
                .join(" ");
            Some(filtered.as_str())
        }
        other => other,
    };
    if let Some(c) = class {
        if STRUCTURAL_PREFIXES.iter().any(|(p, _)| c.contains(p)) {
            let mut c = c.to_string();
            for (p, with) in STRUCTURAL_PREFIXES {
                c = c.replace(p, with);
            }
            s.push_str(&c);
        } else {
            s.push_str(c);
        }
    }
    if e.attribute("class")
        .is_some_and(|c| c.split_ascii_whitespace().any(styles_its_text))
    {
        s.push_str(" prose");
    }
    if let Some(i) = e.attribute("id") {
        // No leading space for an element with an id alone: the patterns
        // anchored at the start (`^respond$`, `^ad-`) must see it.
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(i);
    }
    s
}

/// What the class/id patterns say about one `class id` string.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ClassFlags {
    pub(super) unlikely: bool,
    pub(super) maybe_ok: bool,
    pub(super) comments: bool,
    pub(super) strong_content: bool,
    pub(super) positive: bool,
    pub(super) negative: bool,
}

/// Entries kept in the per-thread pattern cache before it is cleared.
const CLASS_CACHE_LIMIT: usize = 20_000;

thread_local! {
    /// Pattern results by `class id` string: pages repeat a few hundred
    /// class strings over thousands of elements, and the patterns are pure.
    static CLASS_CACHE: std::cell::RefCell<HashMap<u64, ClassFlags, IdBuild>> = std::cell::RefCell::new(HashMap::default());
}

/// A 64-bit hash of an element's class and id (8 bytes per step), the key
/// of the pattern cache: no allocation on a hit.
fn class_key(class: &str, id: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = (class.len() as u64) << 32 | id.len() as u64;
    for part in [class.as_bytes(), id.as_bytes()] {
        for chunk in part.chunks(8) {
            let mut buf = [0u8; 8];
            for (b, c) in buf.iter_mut().zip(chunk) {
                *b = *c;
            }
            h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
        }
        h = h.rotate_left(17).wrapping_mul(K);
    }
    h
}

pub(super) fn class_flags(e: Element<'_>) -> ClassFlags {
    let (class, id) = (e.attribute("class"), e.attribute("id"));
    if class.is_none() && id.is_none() {
        return ClassFlags::default();
    }
    let key = class_key(class.unwrap_or(""), id.unwrap_or(""));
    CLASS_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(f) = cache.get(&key) {
            return *f;
        }
        let ci = class_and_id(e);
        let f = ClassFlags {
            unlikely: UNLIKELY.is_match(&ci),
            maybe_ok: MAYBE_OK.is_match(&ci),
            comments: COMMENTS.is_match(&ci),
            strong_content: STRONG_CONTENT.is_match(&ci),
            positive: POSITIVE.is_match(&ci),
            negative: NEGATIVE.is_match(&ci),
        };
        if cache.len() >= CLASS_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, f);
        f
    })
}

/// +25 for content-like class/id names, −25 for chrome-like ones.
pub fn class_weight(e: Element<'_>) -> f64 {
    weight_of(e, class_flags(e))
}

fn weight_of(e: Element<'_>, f: ClassFlags) -> f64 {
    let mut w = 0.0;
    if f.negative {
        w -= 25.0;
    }
    if f.positive {
        w += 25.0;
    }
    if e.attribute("itemprop")
        .is_some_and(|p| p.contains("articleBody"))
    {
        w += 50.0;
    }
    w
}

#[allow(
    clippy::expect_used,
    reason = "a static regex, checked by the unit tests"
)]
static STRONG_CONTENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)article-?body|articlebody|article-?content|article-?text|post-?body|post-?content|entry-?content|story-?body|story-?content|body-?text|main-?content|hentry|h-entry|rich-?text").expect("static regex")
});

/// What the class and id names say about each element of a page: read
/// once per page, since every pass and stage asks of each element again.
pub struct Classes {
    /// By node id; elements without class or id, and other nodes, have none.
    flags: Vec<ClassFlags>,
    /// Elements that contain (or are) a strongly marked content container
    /// (`itemprop=articleBody`, `entry-content`, `post-body`, `<article>`…):
    /// a chrome-like class name on such an element ("widget Blog",
    /// "theiaStickySidebar") does not prune it.
    pub(super) protected: IdSet,
}

impl Classes {
    pub fn of(doc: &Dom<'_>) -> Classes {
        let mut flags = vec![ClassFlags::default(); doc.len()];
        let mut protected = IdSet::default();
        for n in doc.root().descendants() {
            let Some(e) = element(n) else { continue };
            let f = class_flags(e);
            if let Some(slot) = flags.get_mut(n.id().index()) {
                *slot = f;
            }
            let marked = e.name() == "article"
                || e.attribute("itemprop")
                    .is_some_and(|p| p.contains("articleBody"))
                || f.strong_content;
            if !marked {
                continue;
            }
            // One pass up the tree per marker, stopping where another went.
            let mut cur = Some(n);
            while let Some(c) = cur {
                if !protected.insert(c.id()) {
                    break;
                }
                cur = c.parent();
            }
        }
        Classes { flags, protected }
    }

    pub(super) fn flags(&self, n: NodeRef<'_>) -> ClassFlags {
        self.flags.get(n.id().index()).copied().unwrap_or_default()
    }

    /// Whether an element is named like chrome (the strict pass prunes it
    /// by class), is not a marked content container, and holds no prose of
    /// the article's flow ([`holds_prose`]).
    pub fn chrome_without_prose(&self, n: NodeRef<'_>) -> bool {
        let f = self.flags(n);
        f.unlikely && !f.maybe_ok && !self.protected.contains(&n.id()) && !holds_prose(n)
    }

    /// Whether the element is named like reader comments.
    pub fn comments(&self, n: NodeRef<'_>) -> bool {
        self.flags(n).comments
    }

    /// [`class_weight`] of an element node (0 for other nodes).
    pub fn weight(&self, n: NodeRef<'_>) -> f64 {
        element(n).map_or(0.0, |e| weight_of(e, self.flags(n)))
    }
}

/// Words a paragraph needs, outside links, to read as prose.
const PROSE_WORDS: usize = 25;
/// Such paragraphs a block needs to be the article's own text.
const PROSE_PARAGRAPHS: usize = 2;
/// Nodes read inside one block before giving up: a chrome-named block is
/// looked into only this far (nested ones cannot make the walk quadratic).
const PROSE_SCAN: usize = 4096;

/// A block named like chrome (`c-product-widget`, `promo-card`) that is part
/// of the article's flow: its parent holds paragraphs of its own, and it
/// holds [`PROSE_PARAGRAPHS`] paragraphs of [`PROSE_WORDS`] words outside
/// links. Round-ups write each reviewed product's text in such a widget
/// between the article's paragraphs; a widget of chrome (related links,
/// a newsletter box, an author's bio) holds links, short teasers or one
/// paragraph.
pub(super) fn holds_prose(node: NodeRef<'_>) -> bool {
    let is_p = |n: NodeRef<'_>| named(n, "p");
    // Its own paragraphs first: a menu's many items, each named like
    // chrome, have none, and their siblings are then never read.
    node.descendants()
        .take(PROSE_SCAN)
        .filter(|d| is_p(*d) && has_words(*d, PROSE_WORDS))
        .nth(PROSE_PARAGRAPHS - 1)
        .is_some()
        && node
            .parent()
            .is_some_and(|parent| parent.children().any(|c| is_p(c) && has_words(c, 1)))
}

/// Whether `n` is a `name` element.
fn named(n: NodeRef<'_>, name: &str) -> bool {
    n.element().is_some_and(|e| e.name() == name)
}

/// Whether `p` holds `need` words outside links: one walk with a link
/// depth, which stops as soon as it has counted them.
fn has_words(p: NodeRef<'_>, need: usize) -> bool {
    let is_link = |d: NodeRef<'_>| named(d, "a");
    let (mut n, mut in_link) = (0usize, 0usize);
    for edge in p.traverse().take(2 * PROSE_SCAN) {
        match edge {
            Edge::Open(d) if is_link(d) => in_link += 1,
            Edge::Close(d) if is_link(d) => in_link = in_link.saturating_sub(1),
            Edge::Open(d) if in_link == 0 => {
                if let Some(t) = d.value().as_text() {
                    n += t.split_whitespace().take(need - n).count();
                    if n >= need {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(html: &str, tag: &str) -> Element<'static> {
        crate::extract::dom::first_named(crate::extract::dom::leak(html), tag)
            .element()
            .unwrap()
    }

    #[test]
    fn class_weight_reads_names() {
        assert!(class_weight(first("<div class=\"entry-content\">x</div>", "div")) > 0.0);
        assert!(class_weight(first("<div class=\"widget\">x</div>", "div")) < 0.0);
        assert_eq!(class_weight(first("<div>x</div>", "div")), 0.0);
    }

    #[test]
    fn styling_utilities_and_css_comments_name_no_role() {
        let weight =
            |class: &str| class_weight(first(&format!("<div class=\"{class}\">x</div>"), "div"));
        // A Tailwind article container: its utilities clip tables and offset
        // headings (`hidden`, `scroll`), its notes name spacing.
        let prose = "prose prose-lg /* TABLES - clipped, with generous spacing */ \
                     prose-table:overflow-hidden prose-headings:scroll-mt-20";
        assert!(weight(prose) > 0.0, "{}", weight(prose));
        // Overflow, scroll and text utilities style a box or any text.
        let utilities = "overflow-hidden overflow-x-auto md:overflow-y-scroll scroll-mt-20 \
             scroll-smooth lg:scroll-pt-4! text-sm text-center text-gray-600 md:text-2xl \
             text-[20px] text-muted-foreground justify-content-center";
        for utility in utilities.split_ascii_whitespace() {
            assert!(styling(utility), "{utility}");
            assert_eq!(weight(utility), 0.0, "{utility}");
        }
        // What hides a box, or names a scroller, still counts against it.
        for chrome in [
            "hidden",
            "lg:hidden",
            "news-scroll",
            "scroller",
            "scroll-ticker",
            "scroll-box",
        ] {
            assert!(!styling(chrome), "{chrome}");
            assert!(weight(chrome) < 0.0, "{chrome}");
        }
        // A container that styles its own paragraphs and lists through a
        // variant is rich text; a class that names text is still content.
        for named in ["text-block", "article-text", "text", "text-content"] {
            assert!(!styling(named), "{named}");
            assert!(weight(named) > 0.0, "{named}");
        }
        assert!(styles_its_text("[&_p]:mb-4") && styles_its_text("[&>ul]:list-disc"));
        assert!(!styles_its_text("[&_svg]:w-4") && !styles_its_text("hover:underline"));
        assert!(weight("max-w-none [&_h4]:text-lg [&_ol]:list-decimal") > 0.0);
        assert_eq!(without_comments("a /* b */ c /* d"), "a   c  ");
        assert_eq!(without_comments("no comment"), "no comment");
    }
}

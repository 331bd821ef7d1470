//! Pruning before scoring: tags, roles, hidden elements, reader comments,
//! and chrome-named classes (never on ancestors of marked content).

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::extract::dom::{Dom, Edge, Element, Node, NodeRef};
use regex::Regex;

use super::{IdBuild, IdSet, Pass, element};

/// ARIA roles of page chrome.
const JUNK_ROLES: &[&str] = &[
    "navigation",
    "complementary",
    "banner",
    "contentinfo",
    "dialog",
    "alertdialog",
    "menu",
    "menubar",
    "search",
    "toolbar",
    "tablist",
];

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
struct ClassFlags {
    unlikely: bool,
    maybe_ok: bool,
    comments: bool,
    strong_content: bool,
    positive: bool,
    negative: bool,
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

fn class_flags(e: Element<'_>) -> ClassFlags {
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

/// React's streaming server rendering sends the page's content in
/// `<div hidden id="S:0">` segments that a script moves into place: hidden
/// in the HTML, the whole article once the page runs. The number after
/// `S:` is written in hexadecimal (`S:a` is the eleventh segment).
fn is_streamed_segment(e: Element<'_>) -> bool {
    e.name() == "div"
        && e.attribute("id").is_some_and(|id| {
            id.strip_prefix("S:")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_hexdigit()))
        })
}

/// A dialog: `role="dialog"`, `aria-modal`, or a class token that names a
/// modal (`modal`, `login-modal`; not `modal-enabled`, a container whose
/// images open in one). A login or consent dialog is
/// never the article, even written as an `<article>` (which is otherwise
/// never pruned by its name).
fn is_dialog(e: Element<'_>) -> bool {
    e.attribute("role")
        .is_some_and(|r| matches!(r.trim(), "dialog" | "alertdialog"))
        || e.attribute("aria-modal") == Some("true")
        || e.attribute("class").is_some_and(|c| {
            c.split_ascii_whitespace().any(|t| {
                let t = t.to_ascii_lowercase();
                t == "modal" || t.ends_with("-modal") || t.ends_with("_modal")
            })
        })
}

fn is_hidden(e: Element<'_>) -> bool {
    if e.attribute("aria-hidden") == Some("true") {
        return true;
    }
    if is_collapsed_panel(e) || (e.attribute("hidden").is_some() && is_streamed_segment(e)) {
        return false;
    }
    if e.attribute("hidden").is_some() {
        return true;
    }
    e.attribute("style").is_some_and(|s| {
        let s: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        s.contains("display:none") || s.contains("visibility:hidden")
    })
}

/// A collapsed accordion panel: ARIA's accordion pattern gives each panel
/// `role="region"` and hides it (`hidden`, `display: none`) until its
/// heading's button opens it. Its text is the article's, one click away.
fn is_collapsed_panel(e: Element<'_>) -> bool {
    e.attribute("role")
        .is_some_and(|r| r.trim().eq_ignore_ascii_case("region"))
}

/// An element the page itself marks as the article's rich text (site
/// builders such as Webflow put the body in a `<header class="w-richtext">`).
fn is_body_container(e: Element<'_>) -> bool {
    e.attribute("itemprop")
        .is_some_and(|p| p.contains("articleBody"))
        || e.attribute("class").is_some_and(|c| {
            [
                "richtext",
                "rich-text",
                "entry-content",
                "post-content",
                "article-body",
            ]
            .iter()
            .any(|w| crate::extract::prefilter::contains_ci(c, w))
        })
}

/// Why an element is dropped before scoring, if it is.
pub fn junk_reason(e: Element<'_>, pass: Pass) -> Option<&'static str> {
    junk_reason_of(e, || class_flags(e), pass)
}

/// [`junk_reason`] with the element's class flags from `flags` (asked only
/// when the tag alone does not decide).
fn junk_reason_of(
    e: Element<'_>,
    flags: impl FnOnce() -> ClassFlags,
    pass: Pass,
) -> Option<&'static str> {
    let name = e.name();
    if e.is_junk_tag() && !(matches!(name, "header" | "aside") && is_body_container(e)) {
        return Some("tag");
    }
    if matches!(name, "html" | "body" | "main") {
        return None;
    }
    let flags = flags();
    if flags.comments && pass.comments {
        return Some("comments");
    }
    if is_dialog(e) {
        return Some("dialog");
    }
    if name == "article" {
        return None;
    }
    if e.attribute("role")
        .is_some_and(|r| JUNK_ROLES.contains(&r.trim()))
    {
        return Some("role");
    }
    if is_hidden(e) {
        return Some("hidden");
    }
    if e.attribute("itemprop")
        .is_some_and(|p| p.contains("articleBody"))
    {
        return None;
    }
    if pass.class_pruning && flags.unlikely && !flags.maybe_ok {
        return Some("class");
    }
    None
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
    protected: IdSet,
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

    fn flags(&self, n: NodeRef<'_>) -> ClassFlags {
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

/// The set of pruned subtrees' roots.
pub type Removed = IdSet;

/// An unclosed `<aside>`, `<nav>` or `<header>` swallows the rest of the
/// page when parsed (html5ever nests everything after it inside): one that
/// holds most of the page's text and its `<main>`, `<article>` or `<h1>`
/// is a markup error, not chrome (a mega-menu holds only links). A
/// `<header>` section that holds the article's rich text (Webflow's
/// `header.section_… > div.w-richtext`) is the article's section.
fn wraps_the_page(node: NodeRef<'_>, page_text: impl FnOnce() -> usize) -> bool {
    let Node::Element(e) = node.value() else {
        return false;
    };
    if !matches!(e.name(), "aside" | "nav" | "header") {
        return false;
    }
    // One walk: its text, and whether it holds the page's main content or
    // (for a header) marked rich text.
    let (mut text, mut holds_main, mut rich_text) = (0usize, false, false);
    for d in node.descendants().skip(1) {
        match d.value() {
            Node::Text(t) => text += t.len(),
            Node::Element(inner) => {
                holds_main |= matches!(inner.name(), "main" | "article" | "h1");
                rich_text |= is_body_container(inner);
            }
            _ => {}
        }
    }
    (e.name() == "header" && rich_text) || (holds_main && 2 * text > page_text())
}

/// A `role="tablist"` around its own `tabpanel`s is an accordion of the
/// article's sections (ARIA puts tabs in a tablist, panels beside it).
fn holds_panels(node: NodeRef<'_>) -> bool {
    matches!(node.value(), Node::Element(e) if e.attribute("role").is_some_and(|r| r.trim() == "tablist"))
        && node.descendants().any(
            |d| matches!(d.value(), Node::Element(e) if e.attribute("role").is_some_and(|r| r.trim() == "tabpanel")),
        )
}

/// Bytes of text under `node`, whitespace included.
fn text_len(node: NodeRef<'_>) -> usize {
    node.descendants()
        .filter_map(|d| d.value().as_text().map(|t| t.len()))
        .sum()
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
fn holds_prose(node: NodeRef<'_>) -> bool {
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

/// Marks chrome that is never content (see [`junk_reason`]), plus what
/// the source's `ignore_selectors` matched (`ignored`).
pub fn prune_junk<'d>(doc: &'d Dom<'_>, classes: &Classes, ignored: &IdSet, pass: Pass) -> Removed {
    let protected = &classes.protected;
    // The page's text, measured only if some chrome element needs it.
    let page_text = std::cell::OnceCell::new();
    let page_len = || *page_text.get_or_init(|| text_len(doc.root()));
    let mut removed = Removed::default();
    // The last chrome-named block kept as prose: the names of its own
    // parts (`c-product-widget__content`) are its name, and the walk is in
    // document order, so its parts come right after it.
    let mut prose: Option<NodeRef<'d>> = None;
    let mut kept_as_prose = |node: NodeRef<'d>| {
        if prose.is_some_and(|p| p.contains(node)) {
            return true;
        }
        let kept = holds_prose(node);
        if kept {
            prose = Some(node);
        }
        kept
    };
    for node in doc.root().descendants() {
        if let Node::Element(e) = node.value()
            && let Some(reason) = junk_reason_of(e, || classes.flags(node), pass)
            && !(reason == "class" && (protected.contains(&node.id()) || kept_as_prose(node)))
            && !(reason == "tag" && wraps_the_page(node, page_len))
            && !(reason == "role" && holds_panels(node))
        {
            removed.insert(node.id());
        }
    }
    removed.extend(ignored.iter().copied());
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::content::PASSES;

    fn first(html: &str, tag: &str) -> Element<'static> {
        crate::extract::dom::first_named(crate::extract::dom::leak(html), tag)
            .element()
            .unwrap()
    }

    fn pruned_ids(html: &str, pass: Pass) -> Vec<String> {
        let doc = Dom::parse(html);
        let removed = prune_junk(&doc, &Classes::of(&doc), &IdSet::default(), pass);
        doc.root()
            .descendants()
            .filter(|n| removed.contains(&n.id()))
            .filter_map(|n| match n.value() {
                Node::Element(e) => e.attribute("id").map(str::to_string),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn markup_errors_and_post_classes_do_not_prune_the_article() {
        // A post that has comments (`has-comments`) is no comment section;
        // taxonomy classes (`tag-social-media`) say nothing of the element.
        let post = r#"<article id=a class="BlogItem has-comments tag-social-media category-newsletter"><p>Text.</p></article>
                      <div id=c class="comments-area"><p>A reply.</p></div>"#;
        for pass in PASSES {
            let comments = if pass.comments {
                vec!["c".to_string()]
            } else {
                vec![]
            };
            assert_eq!(pruned_ids(post, pass), comments, "{pass:?}");
        }
        // An unclosed <aside> nests the whole page inside it.
        let unclosed = r#"<body><aside id=banner><a href=/x>Announcement</a><main id=m><p>Text.</p></main></body>"#;
        assert!(pruned_ids(unclosed, PASSES[0]).is_empty());
        assert_eq!(
            pruned_ids(
                r#"<aside id=side><p>More stories</p></aside><main><p>The article's text, much longer than the aside.</p></main>"#,
                PASSES[0]
            ),
            vec!["side".to_string()]
        );
        // A mega-menu with more text than the article is still chrome.
        let menu = format!(
            "<nav id=menu>{}</nav><div><p>A short article.</p></div>",
            "<a href=/x>Reviews and advice, expert tips for 10,000 products</a>".repeat(20)
        );
        assert_eq!(pruned_ids(&menu, PASSES[0]), vec!["menu".to_string()]);
        // A dialog is pruned in every pass, even written as an <article>;
        // a container whose images open in a modal is not a dialog.
        let dialog = r#"<div><article id=login class="login-modal dark"><p>Sign in</p></article><div id=box class="box modal-enabled"><p>Text.</p></div></div>"#;
        for pass in &PASSES[1..] {
            assert_eq!(pruned_ids(dialog, *pass), vec!["login".to_string()]);
        }
        assert!(pruned_ids(dialog, PASSES[0]).contains(&"login".to_string()));
        // An element with an id alone is matched by the anchored patterns.
        let reply = r#"<div><div id=respond><p>Leave a reply</p></div><p>Text.</p></div>"#;
        assert_eq!(pruned_ids(reply, PASSES[0]), vec!["respond".to_string()]);
        // A tablist around its own panels is an accordion of sections;
        // CKEditor's `ck-widget` wraps parts of the body.
        let accordion = r#"<div id=t role=tablist><div role=tabpanel><p>Transcript.</p></div></div>
            <div id=tabs role=tablist><a role=tab>One</a><a role=tab>Two</a></div>
            <div id=w class="ck-widget bs_grid"><p>Body.</p></div>"#;
        assert_eq!(pruned_ids(accordion, PASSES[0]), vec!["tabs".to_string()]);
        // Webflow puts the article's rich text in a <header> section.
        let webflow = r#"<header id=site><a href=/>Logo</a></header>
            <header id=h class="section_blog"><div class="blog-rt w-richtext"><p>Text.</p></div></header>"#;
        assert_eq!(pruned_ids(webflow, PASSES[0]), vec!["site".to_string()]);
    }

    #[test]
    fn chrome_is_pruned_and_content_is_kept() {
        let strict = PASSES[0];
        assert_eq!(
            junk_reason(first("<nav>x</nav>", "nav"), strict),
            Some("tag")
        );
        assert_eq!(
            junk_reason(first("<div role=navigation>x</div>", "div"), strict),
            Some("role")
        );
        assert_eq!(
            junk_reason(first("<div hidden>x</div>", "div"), strict),
            Some("hidden")
        );
        // A collapsed accordion panel is the article's, one click away;
        // a region hidden from assistive technology is not.
        for panel in [
            r#"<div role=region hidden>x</div>"#,
            r#"<div role="Region " style="display: none">x</div>"#,
        ] {
            assert_eq!(junk_reason(first(panel, "div"), strict), None, "{panel}");
        }
        assert_eq!(
            junk_reason(
                first(r#"<div role=region aria-hidden=true>x</div>"#, "div"),
                strict
            ),
            Some("hidden")
        );
        // React's streamed segments, numbered in hexadecimal.
        for segment in ["S:0", "S:a", "S:1f"] {
            let html = format!(r#"<div hidden id="{segment}">x</div>"#);
            assert_eq!(junk_reason(first(&html, "div"), strict), None, "{segment}");
        }
        for not_segment in ["S:", "S:g", "s:1", "S:1 x"] {
            let html = format!(r#"<div hidden id="{not_segment}">x</div>"#);
            assert_eq!(
                junk_reason(first(&html, "div"), strict),
                Some("hidden"),
                "{not_segment}"
            );
        }
        assert_eq!(
            junk_reason(
                first("<div class=\"comment-content\">x</div>", "div"),
                strict
            ),
            Some("comments")
        );
        assert_eq!(
            junk_reason(first("<div class=\"sidebar\">x</div>", "div"), strict),
            Some("class")
        );
        assert_eq!(
            junk_reason(first("<div class=\"sidebar\">x</div>", "div"), PASSES[1]),
            None,
            "relaxed pass"
        );
        assert_eq!(
            junk_reason(
                first("<div class=\"related-content\">x</div>", "div"),
                strict
            ),
            None,
            "content-like name wins"
        );
        assert_eq!(
            junk_reason(
                first(
                    "<div class=\"share\" itemprop=\"articleBody\">x</div>",
                    "div"
                ),
                strict
            ),
            None
        );
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

    #[test]
    fn marked_content_protects_its_ancestors() {
        let doc = Dom::parse(
            "<div class=\"widget Blog\"><div class=\"post-body\"><p>text</p></div></div><div class=\"widget\">w</div>",
        );
        let removed = prune_junk(&doc, &Classes::of(&doc), &IdSet::default(), PASSES[0]);
        let divs: Vec<_> = crate::extract::dom::all_named(&doc, "div")
            .map(|d| d.id())
            .collect();
        assert!(!removed.contains(&divs[0]), "ancestor of post-body kept");
        assert!(removed.contains(&divs[2]), "plain widget pruned");
    }

    /// Round-ups (WCXB 0010, 4430) write each product's review in a
    /// `c-product-widget` between the article's own paragraphs; the word
    /// "widget" pruned them, and the page kept its intro only.
    #[test]
    fn a_chrome_named_block_of_prose_in_the_articles_flow_is_kept() {
        let long = "The range aced every test we threw at it, boiling water with impressive speed and keeping steady oven temperatures while it baked several batches evenly on every rack.";
        let short = "Sign up for our newsletter and get the best deals.";
        let linked = format!("<a href=/x>{long}</a>");
        let page = |parent_p: &str, inner: &str| {
            format!(
                r#"<div id=body class=feature>{parent_p}<div id=w class="c-product-widget"><div id=p class="c-product-widget__product">{inner}</div></div></div>"#
            )
        };
        let intro = format!("<p>{long}</p>");
        let two = format!("<p>{long}</p><p>{long}</p>");
        let pass = PASSES[0];
        // Between the article's paragraphs, two paragraphs of prose: kept,
        // with its own chrome-named parts.
        assert!(pruned_ids(&page(&intro, &two), pass).is_empty());
        // The same block where its parent holds no paragraph of its own
        // (a sidebar's widget): pruned.
        assert_eq!(pruned_ids(&page("", &two), pass), ["w", "p"]);
        // One paragraph of prose (a bio, a newsletter box), short ones, or
        // paragraphs of links: pruned.
        for inner in [
            format!("<p>{long}</p><p>{short}</p>"),
            format!("<p>{short}</p><p>{short}</p><p>{short}</p>"),
            format!("<p>{linked}</p><p>{linked}</p>"),
        ] {
            assert_eq!(
                pruned_ids(&page(&intro, &inner), pass),
                ["w", "p"],
                "{inner}"
            );
        }
        // Without class pruning nothing is pruned by its name anyway.
        assert!(pruned_ids(&page("", &two), PASSES[1]).is_empty());
    }
}

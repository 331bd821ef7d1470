//! Finding the article body: readability-style candidate scoring over the
//! DOM, after pruning what is never content, then pruning inside the winner.
//!
//! Each step is its own function so that it can be read and tested alone:
//! [`prune_junk`] (tags, roles, hidden and boilerplate-named elements),
//! [`Stats::compute`] (text and link lengths, bottom-up), [`score`]
//! (paragraph scores propagated to ancestors), [`pick`] (best candidate and
//! its related siblings), and [`clean_inside`] (link lists, share bars and
//! other conditional junk inside the chosen content).
//!
//! Invariant: every walk is iterative; nesting depth cannot overflow the stack.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ego_tree::{NodeId, NodeRef};
use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};

type N<'a> = NodeRef<'a, Node>;

/// FxHash-style hasher for node ids: SipHash on every `NodeId` lookup was a
/// tenth of extraction time, and these maps never see untrusted keys
/// (ids are indices the parser assigned).
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type IdBuild = std::hash::BuildHasherDefault<IdHasher>;
/// A map keyed by node id.
pub type IdMap<V> = HashMap<NodeId, V, IdBuild>;
/// A set of node ids.
pub type IdSet = HashSet<NodeId, IdBuild>;

/// Tags whose content is never article text.
const JUNK_TAGS: &[&str] = &[
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "object",
    "embed",
    "button",
    "select",
    "input",
    "textarea",
    "nav",
    "aside",
    "footer",
    "header",
    "figcaption",
    "head",
    "link",
    "meta",
    "dialog",
    "menu",
    "label",
    "option",
];

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

/// Block-level tags: they start a new paragraph in the text.
pub const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "ul",
    "ol",
    "li",
    "table",
    "tr",
    "blockquote",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "figure",
    "dl",
    "dt",
    "dd",
    "address",
    "hr",
    "br",
    "center",
    "details",
    "summary",
    "form",
    "fieldset",
    "tbody",
    "thead",
    "tfoot",
    "td",
    "th",
];

static UNLIKELY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)-ad-|^ad-|\bads?\b|advert|banner|breadcrumb|combx|comment|community|cookie|disqus|extra|footer|gdpr|legends|menu|related|recent|remark|replies|rss|share|sharing|shoutbox|sidebar|skyscraper|social|sponsor|supplemental|pagination|pager|popup|modal|newsletter|subscribe|promo|widget|tag-?cloud|\btags\b|post-?nav|nav-?links|navigation|navbar|masthead|toolbar|print|signup|outbrain|taboola|most-?(read|popular|viewed)|trending|read-?more|also-?read|author-?(bio|box|info)|caption|credit|byline-share|wp-caption-text",
    )
    .expect("static regex")
});

/// Reader comments: never article text, however content-like their class
/// ("comment-content", `<article class="comment-body">`). Pruned in every pass.
static COMMENTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(^|[\s_-])comments?([\s_-]|$)|commentlist|comment-?(body|content|list|respond|form|meta|author|text|wrap|area|section|thread)|disqus|^respond$").expect("static regex")
});

static MAYBE_OK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)and|article|body|column|content|main|shadow|story|entry|post-text")
        .expect("static regex")
});

static POSITIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)article|body|content|entry|hentry|h-entry|main|page|pagination|post|text|blog|story|prose|articlebody").expect("static regex")
});

static NEGATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)-ad-|hidden|^hid$|\bhid\b|banner|combx|comment|com-|contact|foot|footer|footnote|gdpr|masthead|media|meta|outbrain|promo|related|recent|scroll|share|shoutbox|sidebar|skyscraper|sponsor|shopping|social|tags|tool|widget|newsletter|subscribe|caption|byline|author").expect("static regex")
});

fn class_and_id(e: &scraper::node::Element) -> String {
    let mut s = String::new();
    if let Some(c) = e.attr("class") {
        s.push_str(c);
    }
    if let Some(i) = e.attr("id") {
        s.push(' ');
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
            buf[..chunk.len()].copy_from_slice(chunk);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
        }
        h = h.rotate_left(17).wrapping_mul(K);
    }
    h
}

fn class_flags(e: &scraper::node::Element) -> ClassFlags {
    let (class, id) = (e.attr("class"), e.attr("id"));
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
pub fn class_weight(e: &scraper::node::Element) -> f64 {
    let f = class_flags(e);
    let mut w = 0.0;
    if f.negative {
        w -= 25.0;
    }
    if f.positive {
        w += 25.0;
    }
    if e.attr("itemprop")
        .is_some_and(|p| p.contains("articleBody"))
    {
        w += 50.0;
    }
    w
}

fn is_hidden(e: &scraper::node::Element) -> bool {
    if e.attr("hidden").is_some() || e.attr("aria-hidden") == Some("true") {
        return true;
    }
    e.attr("style").is_some_and(|s| {
        let s: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        s.contains("display:none") || s.contains("visibility:hidden")
    })
}

/// How strict one extraction pass is. A page whose strict pass finds too
/// little text is read again with less pruning (readability's retry): a
/// main container named "sidebar-layout" or "Page-ad-margins" is common.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Drop elements whose class or id looks like chrome.
    pub class_pruning: bool,
    /// Prune link lists and junk containers inside the chosen content.
    pub clean_inside: bool,
}

/// The passes, strictest first.
pub const PASSES: [Pass; 3] = [
    Pass {
        class_pruning: true,
        clean_inside: true,
    },
    Pass {
        class_pruning: false,
        clean_inside: true,
    },
    Pass {
        class_pruning: false,
        clean_inside: false,
    },
];

/// Why an element is dropped before scoring, if it is.
pub fn junk_reason(e: &scraper::node::Element, pass: Pass) -> Option<&'static str> {
    let name = e.name();
    if JUNK_TAGS.contains(&name) {
        return Some("tag");
    }
    if matches!(name, "html" | "body" | "main") {
        return None;
    }
    let flags = class_flags(e);
    if flags.comments {
        return Some("comments");
    }
    if name == "article" {
        return None;
    }
    if e.attr("role")
        .is_some_and(|r| JUNK_ROLES.contains(&r.trim()))
    {
        return Some("role");
    }
    if is_hidden(e) {
        return Some("hidden");
    }
    if e.attr("itemprop")
        .is_some_and(|p| p.contains("articleBody"))
    {
        return None;
    }
    if pass.class_pruning && flags.unlikely && !flags.maybe_ok {
        return Some("class");
    }
    None
}

static STRONG_CONTENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)article-?body|articlebody|article-?content|article-?text|post-?body|post-?content|entry-?content|story-?body|story-?content|body-?text|main-?content|hentry|h-entry").expect("static regex")
});

/// Elements that contain (or are) a strongly marked content container
/// (`itemprop=articleBody`, `entry-content`, `post-body`, `<article>`…):
/// a chrome-like class name on such an element ("widget Blog",
/// "theiaStickySidebar") does not prune it. One pass up the tree per marker.
fn content_ancestors(doc: &Html) -> IdSet {
    let mut out = IdSet::default();
    for n in doc.tree.root().descendants() {
        let Some(e) = element(n) else { continue };
        let marked = e.name() == "article"
            || e.attr("itemprop")
                .is_some_and(|p| p.contains("articleBody"))
            || class_flags(e).strong_content;
        if !marked {
            continue;
        }
        let mut cur = Some(n);
        while let Some(c) = cur {
            if !out.insert(c.id()) {
                break;
            }
            cur = c.parent();
        }
    }
    out
}

/// The set of pruned subtrees' roots.
pub type Removed = IdSet;

/// Marks chrome that is never content (see [`junk_reason`]), plus whatever
/// the source's `ignore_selectors` name.
pub fn prune_junk(doc: &Html, ignore: &[Selector], pass: Pass) -> Removed {
    let protected = content_ancestors(doc);
    let mut removed = Removed::default();
    for node in doc.tree.root().descendants() {
        if let Node::Element(e) = node.value()
            && let Some(reason) = junk_reason(e, pass)
            && !(reason == "class" && protected.contains(&node.id()))
        {
            removed.insert(node.id());
        }
    }
    for sel in ignore {
        removed.extend(doc.select(sel).map(|e| e.id()));
    }
    removed
}

/// Text measurements of one element's live (unpruned) subtree.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stat {
    /// Characters of text, whitespace runs counted as one.
    pub text: usize,
    /// Characters of text inside links.
    pub links: usize,
    /// Number of `<p>` elements.
    pub paragraphs: usize,
    /// Number of `<li>` elements.
    pub items: usize,
    /// Number of `<img>` elements.
    pub images: usize,
}

impl Stat {
    pub fn link_density(&self) -> f64 {
        if self.text == 0 {
            0.0
        } else {
            self.links as f64 / self.text as f64
        }
    }
}

/// Bottom-up text statistics for every live node.
pub struct Stats {
    /// Preorder index of each node under the root.
    index: IdMap<usize>,
    stats: Vec<Stat>,
    dead: Vec<bool>,
}

fn collapsed_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_space = true;
    for c in s.chars() {
        if c.is_whitespace() {
            if !in_space {
                n += 1;
                in_space = true;
            }
        } else {
            n += 1;
            in_space = false;
        }
    }
    n
}

impl Stats {
    pub fn compute(root: N<'_>, removed: &Removed) -> Stats {
        // One preorder walk records each node's index, parent and liveness;
        // a reverse sweep then adds children into parents. One hash insert
        // per node, no other hashing.
        let mut index: IdMap<usize> = IdMap::default();
        let mut nodes: Vec<N<'_>> = Vec::new();
        let mut parent: Vec<Option<usize>> = Vec::new();
        let mut dead: Vec<bool> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        for edge in root.traverse() {
            match edge {
                ego_tree::iter::Edge::Open(n) => {
                    let i = nodes.len();
                    let p = open.last().copied();
                    index.insert(n.id(), i);
                    dead.push(removed.contains(&n.id()) || p.is_some_and(|p| dead[p]));
                    parent.push(p);
                    nodes.push(n);
                    open.push(i);
                }
                ego_tree::iter::Edge::Close(_) => {
                    open.pop();
                }
            }
        }
        let mut stats = vec![Stat::default(); nodes.len()];
        for i in (0..nodes.len()).rev() {
            if dead[i] {
                continue;
            }
            match nodes[i].value() {
                Node::Text(t) => stats[i].text += collapsed_len(t),
                Node::Element(e) => match e.name() {
                    "a" => stats[i].links = stats[i].text,
                    "p" => stats[i].paragraphs += 1,
                    "li" => stats[i].items += 1,
                    "img" => stats[i].images += 1,
                    _ => {}
                },
                _ => {}
            }
            if let Some(p) = parent[i] {
                let st = stats[i];
                let ps = &mut stats[p];
                ps.text += st.text;
                ps.links += st.links;
                ps.paragraphs += st.paragraphs;
                ps.items += st.items;
                ps.images += st.images;
            }
        }
        Stats { index, stats, dead }
    }

    pub fn get(&self, id: NodeId) -> Stat {
        self.index
            .get(&id)
            .map(|i| self.stats[*i])
            .unwrap_or_default()
    }

    pub fn is_dead(&self, id: NodeId) -> bool {
        self.index.get(&id).is_none_or(|i| self.dead[*i])
    }
}

fn element(n: N<'_>) -> Option<&scraper::node::Element> {
    match n.value() {
        Node::Element(e) => Some(e),
        _ => None,
    }
}

fn has_block_child(n: N<'_>) -> bool {
    n.children()
        .any(|c| element(c).is_some_and(|e| BLOCK_TAGS.contains(&e.name()) && e.name() != "br"))
}

/// Text of a small element (paragraph-sized: its subtree is inline only).
fn inline_text(n: N<'_>, stats: &Stats) -> String {
    let mut s = String::new();
    for d in n.descendants() {
        if stats.is_dead(d.id()) {
            continue;
        }
        if let Node::Text(t) = d.value() {
            s.push_str(t);
        }
    }
    s
}

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
pub fn score(root: N<'_>, stats: &Stats) -> IdMap<Score> {
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
                add_paragraph(&mut scores, parent, st.text, &inline_text(n, stats));
            }
            continue;
        }
        // Text written straight into a container between its blocks
        // ("text<br><br>more text<div>…</div>") is a paragraph of that container.
        let in_blocks: usize = n
            .children()
            .filter(|c| element(*c).is_some_and(|ce| BLOCK_TAGS.contains(&ce.name())))
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
                    add_paragraph(&mut scores, n, run.chars().count(), &run);
                }
            }
        }
    }
    // Link-heavy candidates are navigation, whatever their text.
    for (id, s) in scores.iter_mut() {
        let keep = 1.0 - stats.get(*id).link_density();
        s.total *= keep;
        s.evidence *= keep;
    }
    scores
}

/// Adds one paragraph's score to `first` (full), its parent (half) and
/// grandparent (a sixth), creating their entries from a tag and class prior.
fn add_paragraph(scores: &mut IdMap<Score>, first: N<'_>, len: usize, text: &str) {
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
            tag + class_weight(ae)
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
            Node::Element(e) if BLOCK_TAGS.contains(&e.name()) => {
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
pub fn pick<'a>(doc: &'a Html, scores: &IdMap<Score>, stats: &Stats) -> Vec<N<'a>> {
    let best = scores
        .iter()
        .max_by(|a, b| a.1.total.total_cmp(&b.1.total).then_with(|| b.0.cmp(a.0)))
        .and_then(|(id, s)| doc.tree.get(*id).map(|n| (n, s.total)));
    let Some((top, top_score)) = best else {
        // Nothing scored: the whole body, pruned, is the best we have.
        return doc
            .tree
            .root()
            .descendants()
            .filter(|n| element(*n).is_some_and(|e| e.name() == "body"))
            .take(1)
            .collect();
    };
    let Some(parent) = top.parent() else {
        return vec![top];
    };
    let threshold = (top_score * 0.2).max(10.0);
    let top_class = element(top).and_then(|e| e.attr("class")).unwrap_or("");
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
        if !top_class.is_empty() && e.attr("class") == Some(top_class) {
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

/// How far up from the best candidate a repeated chunk may be joined.
const CHUNK_REACH: usize = 6;

/// Articles split into several containers of the same template (a body
/// interrupted by ads or embeds, each piece a `div.article__body`) are
/// joined: other elements with the top candidate's tag and class that hold
/// real paragraphs, little link text, and sit near it in the tree.
fn add_repeated_chunks<'a>(top: N<'a>, scores: &IdMap<Score>, stats: &Stats, out: &mut Vec<N<'a>>) {
    let Some(te) = element(top) else { return };
    let Some(class) = te.attr("class").filter(|c| !c.trim().is_empty()) else {
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
            element(*n).is_some_and(|e| e.name() == te.name() && e.attr("class") == Some(class))
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

/// Conditional cleaning inside the chosen content: containers that look
/// like link lists, share bars, galleries or forms are pruned.
pub fn clean_inside(roots: &[N<'_>], scores: &IdMap<Score>, stats: &Stats) -> Removed {
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
            let st = stats.get(n.id());
            let weight = class_weight(e);
            if weight + scores.get(&n.id()).map_or(0.0, |s| s.total) < 0.0 && st.text < 500 {
                removed.insert(n.id());
                continue;
            }
            let ld = st.link_density();
            let text = st.text;
            // A paragraph or list that is mostly links is navigation ("Related: …").
            if ld > 0.5 && text < 300 && !matches!(tag, "blockquote") {
                removed.insert(n.id());
                continue;
            }
            if tag == "p" || tag == "span" || tag == "blockquote" {
                continue;
            }
            let p = st.paragraphs as f64;
            let bad = (st.images > 1 && p / (st.images as f64) < 0.5 && text < 200)
                || (!matches!(tag, "ul" | "ol") && st.items as f64 > p + 1.0 && ld > 0.3)
                || (text < 25 && (st.images == 0 || st.images > 2) && !has_heading(n))
                || (weight < 25.0 && ld > 0.33 && text < 1000)
                || (weight >= 25.0 && ld > 0.5);
            if bad {
                removed.insert(n.id());
            }
        }
    }
    removed
}

fn has_heading(n: N<'_>) -> bool {
    n.descendants().any(|d| {
        element(d).is_some_and(|e| matches!(e.name(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6"))
    })
}

/// The roots chosen by the operator's `content_selector`, with only their
/// `ignore_selectors` and never-content tags pruned inside; `None` when the
/// selector matches nothing (the general algorithm then runs).
pub fn find_selected<'a>(
    doc: &'a Html,
    content: &Selector,
    ignore: &[Selector],
) -> Option<(Vec<N<'a>>, Removed)> {
    let roots: Vec<N<'a>> = doc.select(content).map(|e| *e).collect();
    if roots.is_empty() {
        return None;
    }
    let mut removed = Removed::default();
    for r in &roots {
        for d in r.descendants() {
            if element(d).is_some_and(|e| JUNK_TAGS.contains(&e.name())) || doc_ignored(ignore, d) {
                removed.insert(d.id());
            }
        }
    }
    Some((roots, removed))
}

/// Finds the article content of a parsed page in one pass: the roots to
/// read text from and every pruned subtree.
pub fn find<'a>(doc: &'a Html, ignore: &[Selector], pass: Pass) -> (Vec<N<'a>>, Removed) {
    let mut removed = prune_junk(doc, ignore, pass);
    let stats = Stats::compute(doc.tree.root(), &removed);
    let scores = score(doc.tree.root(), &stats);
    let roots = pick(doc, &scores, &stats);
    if pass.clean_inside {
        removed.extend(clean_inside(&roots, &scores, &stats));
    }
    (roots, removed)
}

fn doc_ignored(ignore: &[Selector], n: N<'_>) -> bool {
    ElementRef::wrap(n).is_some_and(|e| ignore.iter().any(|s| s.matches(&e)))
}

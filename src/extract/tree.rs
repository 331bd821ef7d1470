//! The document tree: what [`super::extract`] parses pages with, in place of
//! html5ever's tokenizer and tree builder (measured 4–5× as fast as html5ever
//! and scraper's tree; BENCHMARKS.md). [`parse_stripped`] builds it in one
//! pass over the page, the tokenizer making the prefilter's decisions as it
//! reads each tag; [`parse`] reads any HTML as written.
//!
//! Nodes live in one arena and refer to each other by index; names, attribute
//! values and text borrow from the input unless a character reference or a
//! carriage return had to be rewritten. The tokenizer finds tags with `memchr`
//! instead of walking character by character. Tree construction follows the
//! HTML standard where it shapes real pages: `<html>`/`<head>`/`<body>` and
//! what goes in the head; void and raw-text elements; the end tags a `<p>`,
//! `<li>`, `<dd>`/`<dt>`, `<option>`, `<button>` or heading implies; end tags
//! closing only what is in scope; the `<tbody>`/`<tr>` a table implies and
//! table end tags in table scope; foster parenting of what a table cannot
//! hold; a stray `</p>` as an empty paragraph; the list of formatting elements
//! with reopening, the Noah's Ark clause and the adoption agency.
//!
//! Not modelled: the table insertion modes as such (the body rules run with
//! foster parenting, so tag soup inside a table, `<table><div><table>`, can
//! nest differently), `<select>`, `<frameset>`, foreign content beyond the
//! SVG/MathML namespaces and attribute names, and quirks mode. The extractor
//! reads the tree laid out in document order ([`super::dom`]).
//! `tests/tree_conformance.rs` compares it with html5ever's node for node:
//! the committed and Zyte pages and random tag soup without tables
//! identical, a WCXB sample at ≥ 93 % (all 1,497 pages: 96 %; every page's
//! extraction output byte-identical to html5ever's).

use std::borrow::Cow;

/// "No node" in the links between nodes.
pub const NONE: u32 = u32::MAX;

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind<'a> {
    Document,
    /// A lower-case name and its attributes' range in [`Tree::attrs`].
    Element {
        name: Cow<'a, str>,
        attrs: (u32, u32),
    },
    Text(Cow<'a, str>),
}

/// One node and its links (indices into [`Tree::nodes`], [`NONE`] for none).
#[derive(Debug, Clone)]
pub struct Node<'a> {
    pub parent: u32,
    pub first_child: u32,
    pub last_child: u32,
    pub next: u32,
    pub kind: Kind<'a>,
}

/// A parsed document: node 0 is the root.
#[derive(Debug, Clone)]
pub struct Tree<'a> {
    pub nodes: Vec<Node<'a>>,
    /// Every element's attributes (lower-case names, decoded values), each
    /// element's in one run, first of a duplicated name kept.
    pub attrs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Tree<'a> {
    pub fn node(&self, i: u32) -> Option<&Node<'a>> {
        self.nodes.get(i as usize)
    }

    /// The element's name, `None` for other nodes.
    pub fn name(&self, i: u32) -> Option<&str> {
        match &self.node(i)?.kind {
            Kind::Element { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The children of node `i`, in order.
    pub fn children(&self, i: u32) -> impl Iterator<Item = u32> + '_ {
        let first = self.node(i).map_or(NONE, |n| n.first_child);
        std::iter::successors((first != NONE).then_some(first), move |c| {
            self.node(*c).map(|n| n.next).filter(|n| *n != NONE)
        })
    }
}

/// Elements without content.
const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
];
/// Elements whose content is text up to their end tag.
const RAW_TEXT: &[&str] = &[
    "iframe", "noembed", "noframes", "noscript", "script", "style", "textarea", "title", "xmp",
];
/// Start tags that close an open `<p>`.
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "li",
    "listing",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "plaintext",
    "pre",
    "search",
    "section",
    "summary",
    "table",
    "ul",
    "xmp",
];
/// The standard's "special" elements: an end tag for another element does
/// not close past them.
const SPECIAL: &[&str] = &[
    "address",
    "body",
    "head",
    "html",
    "applet",
    "area",
    "article",
    "aside",
    "base",
    "basefont",
    "bgsound",
    "blockquote",
    "br",
    "button",
    "caption",
    "center",
    "col",
    "colgroup",
    "dd",
    "details",
    "dir",
    "div",
    "dl",
    "dt",
    "embed",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "iframe",
    "img",
    "input",
    "keygen",
    "li",
    "link",
    "listing",
    "main",
    "marquee",
    "menu",
    "meta",
    "nav",
    "noembed",
    "noframes",
    "noscript",
    "object",
    "ol",
    "p",
    "param",
    "plaintext",
    "pre",
    "script",
    "search",
    "section",
    "select",
    "source",
    "style",
    "summary",
    "table",
    "tbody",
    "td",
    "template",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "track",
    "ul",
    "wbr",
    "xmp",
];
/// Elements that bound a scope: nothing outside them is "in scope".
const SCOPE: &[&str] = &[
    "applet", "caption", "html", "marquee", "object", "table", "td", "template", "th",
];
/// Formatting elements, reopened after a block closed them.
const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];
/// Elements that put a marker on the list of formatting elements.
const MARKERS: &[&str] = &[
    "applet", "caption", "marquee", "object", "td", "template", "th",
];
const HEADINGS: &[&str] = &["h1", "h2", "h3", "h4", "h5", "h6"];
/// Start tags (besides those that close a `<p>`) before which the
/// formatting elements a block closed are not reopened.
const NOT_REOPENING: &[&str] = &[
    "base", "basefont", "bgsound", "caption", "col", "colgroup", "frameset", "iframe", "link",
    "meta", "noembed", "noframes", "noscript", "param", "rb", "rp", "rt", "rtc", "script",
    "source", "style", "tbody", "td", "template", "tfoot", "th", "thead", "title", "tr", "track",
];
const TABLE_SECTIONS: &[&str] = &["tbody", "tfoot", "thead"];

/// The lists above as bits, looked up once per tag by [`tag_bits`]: the
/// builder asks several of them of every start and end tag.
const B_VOID: u16 = 1;
const B_CLOSES_P: u16 = 1 << 1;
const B_SPECIAL: u16 = 1 << 2;
const B_FORMATTING: u16 = 1 << 3;
const B_MARKERS: u16 = 1 << 4;
const B_HEADINGS: u16 = 1 << 5;
const B_NOT_REOPENING: u16 = 1 << 6;
const B_TABLE_SECTIONS: u16 = 1 << 7;

/// Each list with its bit.
const BIT_LISTS: [(u16, &[&str]); 8] = [
    (B_VOID, VOID),
    (B_CLOSES_P, CLOSES_P),
    (B_SPECIAL, SPECIAL),
    (B_FORMATTING, FORMATTING),
    (B_MARKERS, MARKERS),
    (B_HEADINGS, HEADINGS),
    (B_NOT_REOPENING, NOT_REOPENING),
    (B_TABLE_SECTIONS, TABLE_SECTIONS),
];

/// Which of several name lists each name is in, as bits: one hash lookup
/// per name instead of a scan of each list (the builder's tag lists here,
/// the extractor's tag classes in [`super::dom`]).
pub(crate) struct ListBits(
    std::collections::HashMap<&'static str, u16, std::hash::BuildHasherDefault<NameHasher>>,
);

/// FNV-1a, folded: tag names are a few bytes, and SipHash (the default)
/// cost more than the rest of the lookup (6 % of extraction). The keys are
/// fixed lists, so a page cannot choose names that collide in the table
/// to slow it: an unknown name costs one probe like any other.
#[derive(Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        NameHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

impl ListBits {
    pub(crate) fn new(lists: &[(u16, &[&'static str])]) -> ListBits {
        let mut bits = std::collections::HashMap::default();
        for (bit, list) in lists {
            for name in *list {
                *bits.entry(*name).or_insert(0) |= bit;
            }
        }
        ListBits(bits)
    }

    /// The bits of the lists `name` is in.
    pub(crate) fn of(&self, name: &str) -> u16 {
        self.0.get(name).copied().unwrap_or(0)
    }
}

static TAG_BITS: std::sync::LazyLock<ListBits> =
    std::sync::LazyLock::new(|| ListBits::new(&BIT_LISTS));

/// The builder's lists `name` is in, as bits.
fn tag_bits(name: &str) -> u16 {
    TAG_BITS.of(name)
}

/// Whether `name` is in `list`. Names are checked by length and first
/// byte before their bytes are compared: the builder asks this of every
/// tag several times, and a plain `contains` spent most of its time
/// calling `memcmp` on names that could not match.
pub(crate) fn is(list: &[&str], name: &str) -> bool {
    let (len, first) = (name.len(), name.as_bytes().first());
    list.iter()
        .any(|x| x.len() == len && x.as_bytes().first() == first && *x == name)
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// `s` with its character references decoded (`&amp;`, `&#8217;`,
/// `&copy` without its semicolon); in an attribute, a reference without
/// its semicolon followed by a letter, digit or `=` stays as written.
pub fn decode(s: &str, in_attribute: bool) -> Cow<'_, str> {
    let s = newlines(s);
    let Some(first) = memchr::memchr(b'&', s.as_bytes()) else {
        return s;
    };
    let mut out = String::with_capacity(s.len());
    out.push_str(s.get(..first).unwrap_or_default());
    let mut rest = s.get(first..).unwrap_or_default();
    while let Some(amp) = memchr::memchr(b'&', rest.as_bytes()) {
        out.push_str(rest.get(..amp).unwrap_or_default());
        rest = rest.get(amp..).unwrap_or_default();
        let used = match reference(rest, in_attribute) {
            Some((chars, used)) => {
                out.extend(chars.into_iter().flatten());
                used
            }
            None => {
                out.push('&');
                1
            }
        };
        rest = rest.get(used..).unwrap_or_default();
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `s` with `\r\n` and a lone `\r` as `\n`, as the standard reads input.
pub fn newlines(s: &str) -> Cow<'_, str> {
    if memchr::memchr(b'\r', s.as_bytes()).is_none() {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
}

/// The code point a numeric reference stands for (C1 controls as
/// windows-1252, invalid ones as U+FFFD).
fn numeric(n: u32) -> char {
    const C1: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    let n = match n {
        0 => 0xFFFD,
        0x80..=0x9F => C1.get((n - 0x80) as usize).copied().unwrap_or(0xFFFD),
        n => n,
    };
    char::from_u32(n).unwrap_or('\u{FFFD}')
}

/// The reference at the start of `s` (which starts with `&`): its one or
/// two characters and the bytes it took; `None` when it is no reference.
fn reference(s: &str, in_attribute: bool) -> Option<([Option<char>; 2], usize)> {
    let b = s.as_bytes();
    if b.get(1) == Some(&b'#') {
        let hex = matches!(b.get(2), Some(b'x' | b'X'));
        let start = if hex { 3 } else { 2 };
        let digits = b
            .get(start..)?
            .iter()
            .take_while(|c| {
                if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 {
            return None;
        }
        let n = u32::from_str_radix(s.get(start..start + digits)?, if hex { 16 } else { 10 })
            .unwrap_or(0x11_0000);
        let n = if n > 0x10_FFFF || (0xD800..=0xDFFF).contains(&n) {
            0xFFFD
        } else {
            n
        };
        let used = start + digits + usize::from(b.get(start + digits) == Some(&b';'));
        return Some(([Some(numeric(n)), None], used));
    }
    // Named: the longest name in the table (the longest is 32 bytes).
    let alnum = b
        .get(1..)?
        .iter()
        .take(40)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let chars = |(a, c): (u32, u32)| [char::from_u32(a), char::from_u32(c).filter(|_| c != 0)];
    // The table also lists every prefix of a name, as (0, 0).
    let named = |name: &str| {
        web_atoms::NAMED_ENTITIES
            .get(name)
            .copied()
            .filter(|v| v.0 != 0)
    };
    if b.get(1 + alnum) == Some(&b';')
        && let Some(v) = named(s.get(1..alnum + 2)?)
    {
        return Some((chars(v), alnum + 2));
    }
    (1..=alnum).rev().find_map(|len| {
        let v = named(s.get(1..1 + len)?)?;
        let next = b.get(1 + len);
        if in_attribute && next.is_some_and(|n| n.is_ascii_alphanumeric() || *n == b'=') {
            return None;
        }
        Some((chars(v), 1 + len))
    })
}

type Attrs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// A formatting element that is open or may be reopened, or a marker.
#[derive(Debug, Clone)]
enum Formatting {
    Marker,
    Element { node: u32 },
}

/// Where the builder is in the document's outline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    BeforeHead,
    InHead,
    AfterHead,
    InBody,
}

/// Elements that belong in `<head>` when they come before the body.
const HEAD_CONTENT: &[&str] = &[
    "base", "basefont", "bgsound", "link", "meta", "noframes", "noscript", "script", "style",
    "template", "title",
];

struct Builder<'a> {
    nodes: Vec<Node<'a>>,
    mode: Mode,
    html: u32,
    head: u32,
    body: u32,
    attrs: Attrs<'a>,
    /// Open elements, innermost last.
    open: Vec<u32>,
    formatting: Vec<Formatting>,
    /// A comment (not kept) stands between the last node and what comes
    /// next: text after it is a new text node, as in html5ever's tree.
    after_comment: bool,
    /// The token being placed is content a table cannot hold.
    fostering: bool,
}

impl<'a> Builder<'a> {
    fn name(&self, i: u32) -> &str {
        match self.nodes.get(i as usize).map(|n| &n.kind) {
            Some(Kind::Element { name, .. }) => name,
            _ => "",
        }
    }

    fn current(&self) -> u32 {
        self.open.last().copied().unwrap_or(0)
    }

    fn current_name(&self) -> &str {
        self.name(self.current())
    }

    /// A comment: not kept, but it separates the text around it.
    fn comment(&mut self) {
        self.after_comment = true;
    }

    /// Where content that does not belong in a table goes while a table,
    /// its section or row is the current node: just before the table
    /// (the standard's foster parenting). `(parent, table)`.
    fn foster_place(&self) -> Option<(u32, u32)> {
        if !matches!(
            self.current_name(),
            "table" | "tbody" | "tfoot" | "thead" | "tr"
        ) {
            return None;
        }
        let table = *self.open.iter().rev().find(|i| self.name(**i) == "table")?;
        let parent = self.nodes.get(table as usize)?.parent;
        (parent != NONE).then_some((parent, table))
    }

    /// The node just before `child` among its parent's children.
    fn previous_sibling(&self, parent: u32, child: u32) -> u32 {
        let mut prev = NONE;
        let mut c = self
            .nodes
            .get(parent as usize)
            .map_or(NONE, |n| n.first_child);
        while c != NONE && c != child {
            prev = c;
            c = self.nodes.get(c as usize).map_or(NONE, |n| n.next);
        }
        prev
    }

    fn append(&mut self, kind: Kind<'a>) -> u32 {
        self.after_comment = false;
        if self.fostering
            && let Some((parent, table)) = self.foster_place()
        {
            let id = self.nodes.len() as u32;
            self.nodes.push(Node {
                parent,
                first_child: NONE,
                last_child: NONE,
                next: table,
                kind,
            });
            let prev = self.previous_sibling(parent, table);
            if let Some(p) = self.nodes.get_mut(prev as usize) {
                p.next = id;
            } else if let Some(p) = self.nodes.get_mut(parent as usize) {
                p.first_child = id;
            }
            return id;
        }
        let parent = self.current();
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            parent,
            first_child: NONE,
            last_child: NONE,
            next: NONE,
            kind,
        });
        self.link_last(parent, id);
        id
    }

    /// Links `child` (whose own `parent` is set) as `parent`'s last child.
    fn link_last(&mut self, parent: u32, child: u32) {
        let last = self
            .nodes
            .get(parent as usize)
            .map_or(NONE, |p| p.last_child);
        if let Some(p) = self.nodes.get_mut(parent as usize) {
            p.last_child = child;
            if last == NONE {
                p.first_child = child;
            }
        }
        if let Some(l) = self.nodes.get_mut(last as usize) {
            l.next = child;
        }
    }

    /// Text in body, merged into a text node just before it; character
    /// references decoded unless `decode_refs` is false (a lone `<`).
    fn text_in_body(&mut self, t: &'a str, decode_refs: bool) {
        if t.is_empty() {
            return;
        }
        let mut t = if decode_refs {
            decode(t, false)
        } else {
            newlines(t)
        };
        // The standard drops U+0000 from text in the body.
        if t.contains('\0') {
            t = Cow::Owned(t.replace('\0', ""));
            if t.is_empty() {
                return;
            }
        }
        // Text other than white space cannot stand in a table.
        let content = t.bytes().any(|b| !is_space(b));
        self.fostering = content;
        self.reopen_formatting();
        self.fostering = false;
        let fostered = if content { self.foster_place() } else { None };
        let last = match fostered {
            Some((parent, table)) => self.previous_sibling(parent, table),
            None => {
                let parent = self.current();
                self.nodes
                    .get(parent as usize)
                    .map_or(NONE, |p| p.last_child)
            }
        };
        if let Some(Node {
            kind: Kind::Text(prev),
            ..
        }) = self.nodes.get_mut(last as usize)
            && !self.after_comment
        {
            prev.to_mut().push_str(&t);
            return;
        }
        self.fostering = fostered.is_some();
        self.append(Kind::Text(t));
        self.fostering = false;
    }

    /// Adds the attributes `element` lacks (a second `<html>` or `<body>`).
    fn merge_attributes(&mut self, element: u32, attrs: Attrs<'a>) {
        let Some(Kind::Element { attrs: range, .. }) =
            self.nodes.get(element as usize).map(|n| n.kind.clone())
        else {
            return;
        };
        let mut all: Attrs<'a> = self
            .attrs
            .get(range.0 as usize..range.1 as usize)
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        for (k, v) in attrs {
            if !all.iter().any(|(n, _)| *n == k) {
                all.push((k, v));
            }
        }
        if all.len() == (range.1 - range.0) as usize {
            return;
        }
        let start = self.attrs.len() as u32;
        self.attrs.extend(all);
        let end = self.attrs.len() as u32;
        if let Some(Node {
            kind: Kind::Element { attrs, .. },
            ..
        }) = self.nodes.get_mut(element as usize)
        {
            *attrs = (start, end);
        }
    }

    /// An element the outline implies (or a tag opened), pushed.
    /// Stores a tag's attributes, the first of a repeated name kept.
    fn push_attributes(&mut self, attrs: Attrs<'a>) -> (u32, u32) {
        let start = self.attrs.len() as u32;
        for (k, v) in attrs {
            let seen = self
                .attrs
                .get(start as usize..)
                .is_some_and(|a| a.iter().any(|(n, _)| *n == k));
            if !seen {
                self.attrs.push((k, v));
            }
        }
        (start, self.attrs.len() as u32)
    }

    fn open_element(&mut self, name: &'static str, attrs: Attrs<'a>) -> u32 {
        let attrs = self.push_attributes(attrs);
        let id = self.append(Kind::Element {
            name: Cow::Borrowed(name),
            attrs,
        });
        self.open.push(id);
        id
    }

    fn ensure_html(&mut self, attrs: Attrs<'a>) {
        if self.html == NONE {
            self.html = self.open_element("html", attrs);
        } else {
            self.merge_attributes(self.html, attrs);
        }
    }

    /// Moves the outline on to the body (implying `<head>` and `<body>`).
    fn enter_body(&mut self, attrs: Attrs<'a>) {
        self.ensure_html(Vec::new());
        if self.head == NONE {
            self.head = self.open_element("head", Vec::new());
        }
        if self.mode == Mode::InHead || self.mode == Mode::BeforeHead {
            self.open.retain(|i| *i != self.head);
        }
        self.body = self.open_element("body", attrs);
        self.mode = Mode::InBody;
    }

    fn text(&mut self, t: &'a str, decode_refs: bool) {
        if self.mode != Mode::InBody {
            let space = t.bytes().take_while(|b| is_space(*b)).count();
            let (lead, rest) = t.split_at(space);
            match self.mode {
                Mode::InHead | Mode::AfterHead if !lead.is_empty() => {
                    self.text_in_body(lead, false);
                }
                _ => {}
            }
            if rest.is_empty() {
                return;
            }
            self.enter_body(Vec::new());
            self.text_in_body(rest, decode_refs);
            return;
        }
        self.text_in_body(t, decode_refs);
    }

    fn start(&mut self, name: Cow<'a, str>, attrs: Attrs<'a>) {
        if self.mode == Mode::InBody {
            self.start_in_body(name, attrs);
            return;
        }
        match &*name {
            "html" => {
                self.ensure_html(attrs);
                return;
            }
            "head" if self.head == NONE => {
                self.ensure_html(Vec::new());
                self.head = self.open_element("head", attrs);
                self.mode = Mode::InHead;
                return;
            }
            "head" => return,
            "body" => {
                self.enter_body(attrs);
                return;
            }
            n if is(HEAD_CONTENT, n) => {
                self.ensure_html(Vec::new());
                if self.head == NONE {
                    self.head = self.open_element("head", Vec::new());
                    self.mode = Mode::InHead;
                }
                let void = is(VOID, n);
                // After the head: into the head all the same.
                if !self.open.contains(&self.head) {
                    self.open.push(self.head);
                }
                let attrs = self.push_attributes(attrs);
                let id = self.append(Kind::Element { name, attrs });
                if self.mode == Mode::AfterHead {
                    self.open.retain(|i| *i != self.head);
                }
                if !void {
                    self.open.push(id);
                }
                return;
            }
            _ => {}
        }
        self.enter_body(Vec::new());
        self.start_in_body(name, attrs);
    }

    fn end(&mut self, name: &str) {
        if self.mode == Mode::InBody {
            self.end_in_body(name);
            return;
        }
        // The end of an element opened in the head (`</title>`).
        if self.current_name() == name && !matches!(name, "html" | "head") {
            self.open.pop();
            return;
        }
        match name {
            "head" if self.mode == Mode::InHead => {
                self.open.retain(|i| *i != self.head);
                self.mode = Mode::AfterHead;
            }
            "body" | "html" | "br" => {
                self.enter_body(Vec::new());
                self.end_in_body(name);
            }
            _ => {}
        }
    }

    /// Position in `open` of the innermost open element named in
    /// `targets`, searching inwards-out and giving up at an element for
    /// which `bound` holds (the standard's scopes).
    fn find_open(&self, targets: &[&str], bound: impl Fn(&str) -> bool) -> Option<usize> {
        for (k, &i) in self.open.iter().enumerate().rev() {
            let n = self.name(i);
            if is(targets, n) {
                return Some(k);
            }
            if bound(n) {
                return None;
            }
        }
        None
    }

    /// The innermost open `name` in scope (`extra` bounds the scope too).
    fn in_scope(&self, name: &str, extra: &[&str]) -> Option<usize> {
        self.find_open(&[name], |n| is(SCOPE, n) || is(extra, n))
    }

    /// The innermost open element of `targets` in table scope (cells do not
    /// bound it; `extra` does).
    fn in_table_scope(&self, targets: &[&str], extra: &[&str]) -> Option<usize> {
        self.find_open(targets, |n| {
            matches!(n, "html" | "template") || is(extra, n)
        })
    }

    fn close_p(&mut self) {
        // Most block start tags come with no `<p>` open at all: a plain scan
        // for one is far cheaper than the scope walk, which checks every
        // open element against the scope lists.
        if !self.open.iter().any(|i| self.name(*i) == "p") {
            return;
        }
        if let Some(k) = self.in_scope("p", &["button"]) {
            self.open.truncate(k);
        }
    }

    /// Reopens the formatting elements a block closed (`<p><b>x<p>y`: the
    /// second paragraph's text is bold too).
    fn reopen_formatting(&mut self) {
        let Some(Formatting::Element { node }) = self.formatting.last() else {
            return;
        };
        if self.open.contains(node) {
            return;
        }
        // Back to the first entry after a marker or an open element.
        let mut from = self.formatting.len() - 1;
        while from > 0 {
            match self.formatting.get(from - 1) {
                Some(Formatting::Element { node }) if !self.open.contains(node) => from -= 1,
                _ => break,
            }
        }
        for k in from..self.formatting.len() {
            let Some(Formatting::Element { node }) = self.formatting.get(k).cloned() else {
                continue;
            };
            let Some(copy) = self.copied(node) else {
                continue;
            };
            let id = self.append(copy);
            self.open.push(id);
            if let Some(f) = self.formatting.get_mut(k) {
                *f = Formatting::Element { node: id };
            }
        }
    }

    /// The standard's "Noah's Ark" clause: at most three entries for the
    /// same tag with the same attributes after the last marker (it also
    /// bounds what reopening costs on hostile input).
    fn noahs_ark(&mut self, new: u32) {
        let same = |b: &Self, other: u32| {
            let (
                Some(Kind::Element {
                    name: n1,
                    attrs: a1,
                }),
                Some(Kind::Element {
                    name: n2,
                    attrs: a2,
                }),
            ) = (
                b.nodes.get(new as usize).map(|n| &n.kind),
                b.nodes.get(other as usize).map(|n| &n.kind),
            )
            else {
                return false;
            };
            let attrs =
                |r: &(u32, u32)| b.attrs.get(r.0 as usize..r.1 as usize).unwrap_or_default();
            let (x, y) = (attrs(a1), attrs(a2));
            n1 == n2 && x.len() == y.len() && x.iter().all(|a| y.contains(a))
        };
        let mut matches = Vec::new();
        for (k, f) in self.formatting.iter().enumerate().rev() {
            match f {
                Formatting::Marker => break,
                Formatting::Element { node } if same(self, *node) => matches.push(k),
                Formatting::Element { .. } => {}
            }
        }
        if matches.len() >= 3
            && let Some(earliest) = matches.last()
        {
            self.formatting.remove(*earliest);
        }
    }

    fn clear_formatting_to_marker(&mut self) {
        while let Some(f) = self.formatting.pop() {
            if matches!(f, Formatting::Marker) {
                break;
            }
        }
    }

    /// Pops open elements down to (and without) position `k`.
    fn pop_to(&mut self, k: usize) {
        while self.open.len() > k {
            if let Some(i) = self.open.pop()
                && is(MARKERS, self.name(i))
            {
                self.clear_formatting_to_marker();
            }
        }
    }

    fn start_in_body(&mut self, name: Cow<'a, str>, attrs: Attrs<'a>) {
        // The standard reads `<image>` as `<img>`.
        let name = if name == "image" {
            Cow::Borrowed("img")
        } else {
            name
        };
        let n: &str = &name;
        let bits = tag_bits(n);
        if matches!(n, "html" | "body") {
            self.merge_attributes(if n == "html" { self.html } else { self.body }, attrs);
            return;
        }
        if n == "head" {
            return;
        }
        // A form inside an open form is ignored.
        if n == "form" && self.open.iter().any(|i| self.name(*i) == "form") {
            return;
        }
        // Table parts outside a table are ignored.
        if matches!(
            n,
            "caption" | "col" | "colgroup" | "tbody" | "td" | "tfoot" | "th" | "thead" | "tr"
        ) && !self.open.iter().any(|i| self.name(*i) == "table")
        {
            return;
        }
        if bits & B_CLOSES_P != 0 {
            self.close_p();
        }
        if bits & B_HEADINGS != 0 && is(HEADINGS, self.current_name()) {
            self.pop_to(self.open.len() - 1);
        }
        if matches!(n, "li" | "dd" | "dt") {
            let same: &[&str] = if n == "li" { &["li"] } else { &["dd", "dt"] };
            if let Some(k) = self.find_open(same, |m| {
                is(SPECIAL, m) && !matches!(m, "address" | "div" | "p")
            }) {
                self.pop_to(k);
            }
        }
        if matches!(n, "option" | "optgroup") && self.current_name() == "option" {
            self.pop_to(self.open.len() - 1);
        }
        if matches!(n, "td" | "th" | "tr") {
            self.close_cells(n == "tr");
            // A row straight inside a table has an implied body, a cell
            // straight inside a table or its body an implied row.
            if self.current_name() == "table" {
                self.push_implied("tbody");
            }
            if n != "tr" && is(TABLE_SECTIONS, self.current_name()) {
                self.push_implied("tr");
            }
        }
        // A new table section closes the open one (with its rows and cells):
        // the search is in table scope, which cells do not bound.
        if bits & B_TABLE_SECTIONS != 0
            && let Some(k) = self.in_table_scope(TABLE_SECTIONS, &["table"])
        {
            self.pop_to(k);
        }
        if n == "a"
            && let Some(e) = self.formatting_entry("a")
        {
            let a = self.formatting_node(e);
            self.adoption_agency("a");
            if let Some(e) = self.formatting_entry_of(a) {
                self.formatting.remove(e);
            }
            if let Some(k) = self.open.iter().position(|i| *i == a) {
                self.open.remove(k);
            }
        }
        let table_part = matches!(
            n,
            "caption"
                | "col"
                | "colgroup"
                | "table"
                | "tbody"
                | "td"
                | "tfoot"
                | "th"
                | "thead"
                | "tr"
                | "script"
                | "style"
                | "template"
        );
        let in_table = self.foster_place().is_some();
        if n == "button"
            && let Some(k) = self.in_scope("button", &[])
        {
            self.pop_to(k);
        }
        if n == "nobr" {
            self.reopen_formatting();
            if self.in_scope("nobr", &[]).is_some() {
                self.adoption_agency("nobr");
            }
        }
        if n == "form" && in_table {
            // A form straight inside a table is an empty element there.
            let (start, end) = self.push_attributes(attrs);
            self.append(Kind::Element {
                name,
                attrs: (start, end),
            });
            return;
        }
        self.fostering = in_table && !table_part;
        let block = bits & B_CLOSES_P != 0 && n != "xmp";
        if !block && bits & B_NOT_REOPENING == 0 {
            self.reopen_formatting();
        }
        let (start, end) = self.push_attributes(attrs);
        let void = bits & B_VOID != 0;
        let formatting = bits & B_FORMATTING != 0;
        let marker = bits & B_MARKERS != 0;
        let id = self.append(Kind::Element {
            name,
            attrs: (start, end),
        });
        self.fostering = false;
        if !void {
            self.open.push(id);
        }
        if formatting {
            self.noahs_ark(id);
            self.formatting.push(Formatting::Element { node: id });
        }
        if marker {
            self.formatting.push(Formatting::Marker);
        }
    }

    fn push_implied(&mut self, name: &'static str) {
        let id = self.append(Kind::Element {
            name: Cow::Borrowed(name),
            attrs: (self.attrs.len() as u32, self.attrs.len() as u32),
        });
        self.open.push(id);
    }

    /// A new cell closes the open cell; a new row the open row (with its
    /// cell and whatever is open in it).
    fn close_cells(&mut self, row: bool) {
        let found = if row {
            self.in_table_scope(&["tr"], &["table", "tbody", "tfoot", "thead"])
        } else {
            self.in_table_scope(&["td", "th"], &["table", "tr"])
        };
        if let Some(k) = found {
            self.pop_to(k);
        }
    }

    fn end_in_body(&mut self, name: &str) {
        let bits = tag_bits(name);
        if matches!(name, "html" | "head" | "body") {
            return;
        }
        if name == "br" {
            self.start_in_body(Cow::Borrowed("br"), Vec::new());
            return;
        }
        if name == "p" && self.in_scope("p", &["button"]).is_none() {
            // A stray </p> is an empty paragraph.
            self.start_in_body(Cow::Borrowed("p"), Vec::new());
        }
        if bits & B_FORMATTING != 0 {
            if !self.adoption_agency(name) {
                self.end_other(name);
            }
            return;
        }
        if matches!(
            name,
            "table" | "tbody" | "thead" | "tfoot" | "tr" | "td" | "th" | "caption"
        ) {
            // Table end tags look in table scope, which cells do not bound.
            let extra: &[&str] = if name == "table" { &[] } else { &["table"] };
            if let Some(k) = self.in_table_scope(&[name], extra) {
                self.pop_to(k);
            }
            return;
        }
        if bits & B_SPECIAL != 0 {
            let extra: &[&str] = match name {
                "li" => &["ol", "ul"],
                "p" => &["button"],
                _ => &[],
            };
            let found = if bits & B_HEADINGS != 0 {
                self.find_open(HEADINGS, |n| is(SCOPE, n))
            } else {
                self.in_scope(name, extra)
            };
            if let Some(k) = found {
                self.pop_to(k);
            }
            return;
        }
        self.end_other(name);
    }

    /// The standard's "any other end tag": closes the innermost open
    /// `name` unless a special element is open inside it.
    fn end_other(&mut self, name: &str) {
        if let Some(k) = self.find_open(&[name], |m| is(SPECIAL, m)) {
            self.pop_to(k);
        }
    }

    /// The entry in the formatting list for the last `name` after the last
    /// marker.
    fn formatting_entry(&self, name: &str) -> Option<usize> {
        for (k, f) in self.formatting.iter().enumerate().rev() {
            match f {
                Formatting::Marker => return None,
                Formatting::Element { node } if self.name(*node) == name => return Some(k),
                Formatting::Element { .. } => {}
            }
        }
        None
    }

    fn formatting_node(&self, k: usize) -> u32 {
        match self.formatting.get(k) {
            Some(Formatting::Element { node }) => *node,
            _ => NONE,
        }
    }

    /// Element `of`'s name with a copy of its attributes.
    fn copied(&mut self, of: u32) -> Option<Kind<'a>> {
        let Some(Kind::Element { name, attrs }) =
            self.nodes.get(of as usize).map(|n| n.kind.clone())
        else {
            return None;
        };
        let copy = self
            .attrs
            .get(attrs.0 as usize..attrs.1 as usize)
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        let start = self.attrs.len() as u32;
        self.attrs.extend(copy);
        Some(Kind::Element {
            name,
            attrs: (start, self.attrs.len() as u32),
        })
    }

    /// A copy of element `of`, not yet in the tree.
    fn copy_element(&mut self, of: u32) -> u32 {
        let Some(kind) = self.copied(of) else {
            return NONE;
        };
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            parent: NONE,
            first_child: NONE,
            last_child: NONE,
            next: NONE,
            kind,
        });
        id
    }

    /// Takes `child` out of its parent's children.
    fn detach(&mut self, child: u32) {
        let Some(parent) = self.nodes.get(child as usize).map(|n| n.parent) else {
            return;
        };
        let next = self.nodes.get(child as usize).map_or(NONE, |n| n.next);
        let mut prev = NONE;
        let mut c = self
            .nodes
            .get(parent as usize)
            .map_or(NONE, |n| n.first_child);
        while c != NONE && c != child {
            prev = c;
            c = self.nodes.get(c as usize).map_or(NONE, |n| n.next);
        }
        if c == NONE {
            return;
        }
        if let Some(p) = self.nodes.get_mut(prev as usize) {
            p.next = next;
        } else if let Some(p) = self.nodes.get_mut(parent as usize) {
            p.first_child = next;
        }
        if let Some(p) = self.nodes.get_mut(parent as usize)
            && p.last_child == child
        {
            p.last_child = prev;
        }
        if let Some(n) = self.nodes.get_mut(child as usize) {
            n.parent = NONE;
            n.next = NONE;
        }
    }

    /// Makes `child` (detached first) the last child of `parent`.
    fn append_to(&mut self, parent: u32, child: u32) {
        self.detach(child);
        if let Some(n) = self.nodes.get_mut(child as usize) {
            n.parent = parent;
        }
        self.link_last(parent, child);
    }

    /// The standard's adoption agency for a formatting end tag `name` (and
    /// for an `<a>` inside an open `<a>`): a formatting element closed with
    /// blocks open inside it stays on those blocks' content as a copy.
    /// Returns false when `name` has no formatting entry (then it is an
    /// ordinary end tag).
    fn adoption_agency(&mut self, name: &str) -> bool {
        if self.current_name() == name
            && !self
                .formatting
                .iter()
                .any(|f| matches!(f, Formatting::Element { node } if *node == self.current()))
        {
            self.open.pop();
            return true;
        }
        for _ in 0..8 {
            let Some(entry) = self.formatting_entry(name) else {
                return false;
            };
            let element = self.formatting_node(entry);
            let Some(at) = self.open.iter().rposition(|i| *i == element) else {
                self.formatting.remove(entry);
                return true;
            };
            if self.in_scope(name, &[]) != Some(at) {
                return true;
            }
            let furthest = self
                .open
                .iter()
                .enumerate()
                .skip(at + 1)
                .find(|(_, i)| is(SPECIAL, self.name(**i)))
                .map(|(k, i)| (k, *i));
            let Some((furthest_at, furthest_block)) = furthest else {
                self.open.truncate(at);
                self.formatting.remove(entry);
                return true;
            };
            let common = self.open.get(at.wrapping_sub(1)).copied().unwrap_or(0);
            let mut bookmark = entry;
            let mut node_at = furthest_at;
            let mut last = furthest_block;
            let mut inner = 0;
            loop {
                inner += 1;
                node_at -= 1;
                let node = self.open.get(node_at).copied().unwrap_or(NONE);
                if node == element {
                    break;
                }
                let listed = self
                    .formatting
                    .iter()
                    .position(|f| matches!(f, Formatting::Element { node: n } if *n == node));
                if inner > 3
                    && let Some(l) = listed
                {
                    self.formatting.remove(l);
                    if l < bookmark {
                        bookmark -= 1;
                    }
                }
                let listed = self
                    .formatting
                    .iter()
                    .position(|f| matches!(f, Formatting::Element { node: n } if *n == node));
                let Some(l) = listed else {
                    self.open.remove(node_at);
                    continue;
                };
                let copy = self.copy_element(node);
                if let Some(f) = self.formatting.get_mut(l) {
                    *f = Formatting::Element { node: copy };
                }
                if let Some(o) = self.open.get_mut(node_at) {
                    *o = copy;
                }
                if last == furthest_block {
                    bookmark = l + 1;
                }
                self.append_to(copy, last);
                last = copy;
            }
            self.append_to(common, last);
            let copy = self.copy_element(element);
            let mut c = self
                .nodes
                .get(furthest_block as usize)
                .map_or(NONE, |n| n.first_child);
            while c != NONE {
                let next = self.nodes.get(c as usize).map_or(NONE, |n| n.next);
                self.append_to(copy, c);
                c = next;
            }
            self.append_to(furthest_block, copy);
            let entry = self.formatting_entry_of(element);
            if let Some(e) = entry {
                self.formatting.remove(e);
                if e < bookmark {
                    bookmark -= 1;
                }
            }
            self.formatting.insert(
                bookmark.min(self.formatting.len()),
                Formatting::Element { node: copy },
            );
            if let Some(k) = self.open.iter().position(|i| *i == element) {
                self.open.remove(k);
            }
            let below = self
                .open
                .iter()
                .position(|i| *i == furthest_block)
                .map_or(self.open.len(), |k| k + 1);
            self.open.insert(below, copy);
        }
        true
    }

    fn formatting_entry_of(&self, element: u32) -> Option<usize> {
        self.formatting
            .iter()
            .position(|f| matches!(f, Formatting::Element { node } if *node == element))
    }
}

fn find(h: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(h.get(from..)?, needle).map(|p| p + from)
}

/// The end of a tag name starting at `at`.
fn name_end(b: &[u8], at: usize) -> usize {
    at + b
        .get(at..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| !is_space(**c) && **c != b'/' && **c != b'>')
        .count()
}

/// Parses the attributes from `at` to the end of the tag: each name and
/// value (as written), and the index just past the tag's `>`.
fn attributes(b: &[u8], mut i: usize, mut each: impl FnMut(usize, usize, usize, usize)) -> usize {
    let at = |i: usize| b.get(i).copied();
    loop {
        while at(i).is_some_and(|c| is_space(c) || c == b'/') {
            i += 1;
        }
        match at(i) {
            None => return b.len(),
            Some(b'>') => return i + 1,
            _ => {}
        }
        let name = i;
        i += 1; // a name may start with '='
        while at(i).is_some_and(|c| !is_space(c) && !matches!(c, b'/' | b'>' | b'=')) {
            i += 1;
        }
        let name_end = i;
        while at(i).is_some_and(is_space) {
            i += 1;
        }
        if at(i) != Some(b'=') {
            each(name, name_end, name_end, name_end);
            continue;
        }
        i += 1;
        while at(i).is_some_and(is_space) {
            i += 1;
        }
        match at(i) {
            Some(q @ (b'"' | b'\'')) => {
                let start = i + 1;
                let end = memchr::memchr(q, b.get(start..).unwrap_or_default())
                    .map_or(b.len(), |e| start + e);
                each(name, name_end, start, end);
                i = (end + 1).min(b.len());
            }
            _ => {
                let start = i;
                while at(i).is_some_and(|c| !is_space(c) && c != b'>') {
                    i += 1;
                }
                each(name, name_end, start, i);
            }
        }
    }
}

/// Parses `html` (any HTML) into a [`Tree`].
pub fn parse(html: &str) -> Tree<'_> {
    parse_with(html, None)
}

/// Parses `html` into the tree [`parse`] builds from the prefilter's output
/// for it (`prefilter::strip_with(html, raw_elements)`), in one pass: the
/// tokenizer makes the prefilter's decisions as it reads each tag, so the
/// page is neither scanned nor copied twice (BENCHMARKS.md). `tests/
/// prefilter_fold.rs` compares the two trees on every WCXB and Zyte page
/// and on random tag soup.
pub fn parse_stripped<'a>(html: &'a str, raw_elements: &[&str]) -> Tree<'a> {
    parse_with(html, Some(raw_elements))
}

fn parse_with<'a>(html: &'a str, mut strip: Option<&[&str]>) -> Tree<'a> {
    // Sized once from the page's `<`s: nodes per `<` average 0.80 on the
    // ingest bench's pages and 1.08 on WCXB's (at most 1.76), attributes
    // 0.42 and 0.60; a page above these grows its vectors as before.
    let tags = memchr::memchr_iter(b'<', html.as_bytes()).count();
    let mut nodes = Vec::with_capacity(tags + tags / 4 + 1);
    nodes.push(Node {
        parent: NONE,
        first_child: NONE,
        last_child: NONE,
        next: NONE,
        kind: Kind::Document,
    });
    let mut b = Builder {
        nodes,
        mode: Mode::BeforeHead,
        html: NONE,
        head: NONE,
        body: NONE,
        attrs: Vec::with_capacity(tags * 2 / 3),
        open: Vec::new(),
        formatting: Vec::new(),
        after_comment: false,
        fostering: false,
    };
    let bytes = html.as_bytes();
    let s = |from: usize, to: usize| html.get(from..to).unwrap_or_default();
    let mut depth = super::prefilter::Depth::default();
    // The text read last ends with `\r`, and only dropped tags followed.
    let mut cr_before = false;
    let mut i = 0;
    while i < bytes.len() {
        let lt = memchr::memchr(b'<', bytes.get(i..).unwrap_or_default()).map(|p| i + p);
        let mut text = s(i, lt.unwrap_or(bytes.len()));
        // Text on both sides of a dropped comment or tag is one text, as
        // in the prefilter's output: a `\r` before it and a `\n` after it
        // are one line break.
        if cr_before && text.starts_with('\n') {
            text = text.get(1..).unwrap_or_default();
            cr_before = false;
        }
        if !text.is_empty() {
            cr_before = text.ends_with('\r');
        }
        b.text(text, true);
        let Some(lt) = lt else {
            break;
        };
        if let Some(raw_elements) = strip {
            match stripped_tag(&mut b, html, lt, raw_elements, &mut depth) {
                Stripped::Dropped(next) => {
                    i = next;
                    continue;
                }
                Stripped::Next(next) => {
                    cr_before = false;
                    i = next;
                    continue;
                }
                Stripped::AsWritten => {}
                Stripped::Rest => strip = None,
            }
        }
        cr_before = false;
        let next = bytes.get(lt + 1).copied();
        i = match next {
            Some(b'!') => {
                let doctype = bytes
                    .get(lt + 2..lt + 9)
                    .is_some_and(|d| d.eq_ignore_ascii_case(b"doctype"));
                let end = if bytes.get(lt + 2..lt + 4) == Some(b"--") {
                    // `<!-->` and `<!--->` are empty comments.
                    match bytes.get(lt + 4..lt + 6) {
                        Some([b'>', _]) => Some(lt + 5),
                        Some(b"->") => Some(lt + 6),
                        _ => find(bytes, lt + 4, b"-->").map(|e| e + 3),
                    }
                } else {
                    memchr::memchr(b'>', bytes.get(lt..).unwrap_or_default()).map(|e| lt + e + 1)
                };
                if !doctype {
                    b.comment();
                }
                end.unwrap_or(bytes.len())
            }
            Some(b'?') => {
                b.comment();
                memchr::memchr(b'>', bytes.get(lt..).unwrap_or_default())
                    .map_or(bytes.len(), |e| lt + e + 1)
            }
            Some(b'/') => {
                let at = lt + 2;
                match bytes.get(at) {
                    Some(c) if c.is_ascii_alphabetic() => {
                        let end = name_end(bytes, at);
                        b.end(&lower(s(at, end)));
                        attributes(bytes, end, |_, _, _, _| {})
                    }
                    Some(b'>') => at + 1,
                    _ => {
                        b.comment();
                        memchr::memchr(b'>', bytes.get(at..).unwrap_or_default())
                            .map_or(bytes.len(), |e| at + e + 1)
                    }
                }
            }
            Some(c) if c.is_ascii_alphabetic() => start_tag(&mut b, html, lt + 1, strip),
            _ => {
                b.text(s(lt, lt + 1), false);
                lt + 1
            }
        };
    }
    Tree {
        nodes: b.nodes,
        attrs: b.attrs,
    }
}

/// A start tag whose name begins at `at`; returns where parsing goes on.
fn start_tag<'a>(b: &mut Builder<'a>, html: &'a str, at: usize, strip: Option<&[&str]>) -> usize {
    let bytes = html.as_bytes();
    let s = |from: usize, to: usize| html.get(from..to).unwrap_or_default();
    let end = name_end(bytes, at);
    let name = lower(s(at, end));
    let (attrs, after) = read_attributes(html, end, bytes.len());
    opened(b, html, name, attrs, after, strip)
}

/// The attributes from `from` to the end of the tag (looking no further
/// than `within`), names lower-cased and values decoded, and the index
/// just past the tag.
fn read_attributes(html: &str, from: usize, within: usize) -> (Attrs<'_>, usize) {
    let s = |from: usize, to: usize| html.get(from..to).unwrap_or_default();
    let bytes = html.as_bytes();
    let mut attrs = Vec::new();
    let after = attributes(
        bytes.get(..within).unwrap_or(bytes),
        from,
        |n, ne, v, ve| {
            attrs.push((lower(s(n, ne)), attribute_value(s(v, ve))));
        },
    );
    (attrs, after)
}

/// An attribute's value as written (without its quotes), references decoded.
fn attribute_value(v: &str) -> Cow<'_, str> {
    let mut value = decode(v, true);
    if value.contains('\0') {
        value = Cow::Owned(value.replace('\0', "\u{FFFD}"));
    }
    value
}

/// A start tag read up to `after`: the element is opened, and the text of a
/// raw-text element read up to its end tag (through the prefilter when
/// `strip` names its raw elements, as the prefilter would have passed it).
fn opened<'a>(
    b: &mut Builder<'a>,
    html: &'a str,
    name: Cow<'a, str>,
    attrs: Attrs<'a>,
    after: usize,
    strip: Option<&[&str]>,
) -> usize {
    let bytes = html.as_bytes();
    let s = |from: usize, to: usize| html.get(from..to).unwrap_or_default();
    let raw = is(RAW_TEXT, &name).then(|| name.clone());
    // A newline just after `<pre>`, `<listing>` or `<textarea>` is not content.
    let skips_newline = matches!(&*name, "pre" | "listing" | "textarea");
    b.start(name, attrs);
    let after = match (skips_newline, bytes.get(after), bytes.get(after + 1)) {
        (true, Some(b'\r'), Some(b'\n')) => after + 2,
        (true, Some(b'\n' | b'\r'), _) => after + 1,
        _ => after,
    };
    let Some(raw) = raw else {
        return after;
    };
    // Raw text runs to the first `</name` followed by a space, `/` or `>`.
    let mut from = after;
    let close = loop {
        match find(bytes, from, b"</") {
            Some(e)
                if bytes
                    .get(e + 2..e + 2 + raw.len())
                    .is_some_and(|n| n.eq_ignore_ascii_case(raw.as_bytes()))
                    && bytes
                        .get(e + 2 + raw.len())
                        .is_none_or(|c| is_space(*c) || matches!(c, b'/' | b'>')) =>
            {
                break e;
            }
            Some(e) => from = e + 2,
            None => break bytes.len(),
        }
    };
    let mut body = Cow::Borrowed(s(after, close));
    if let Some(raw_elements) = strip
        && body.contains('<')
    {
        body = Cow::Owned(super::prefilter::strip_with(&body, raw_elements));
    }
    if !body.is_empty() {
        let rcdata = matches!(&*raw, "textarea" | "title");
        let mut text = match body {
            Cow::Borrowed(body) => raw_text(body, rcdata),
            Cow::Owned(body) => Cow::Owned(raw_text(&body, rcdata).into_owned()),
        };
        if text.contains('\0') {
            text = Cow::Owned(text.replace('\0', "\u{FFFD}"));
        }
        b.append(Kind::Text(text));
    }
    b.end(&raw);
    if close < bytes.len() {
        attributes(bytes, name_end(bytes, close + 2), |_, _, _, _| {})
    } else {
        close
    }
}

/// A raw-text element's content as text: references decoded in RCDATA
/// (`<title>`, `<textarea>`), line breaks normalized in all.
fn raw_text(body: &str, rcdata: bool) -> Cow<'_, str> {
    if rcdata {
        decode(body, false)
    } else {
        newlines(body)
    }
}

/// What reading one tag the prefilter's way came to.
enum Stripped {
    /// Read: parsing goes on here.
    Next(usize),
    /// Dropped, with nothing in its place: parsing goes on here, and the
    /// text after it continues the text before it.
    Dropped(usize),
    /// Read as written, by the plain tokenizer.
    AsWritten,
    /// The prefilter copies the rest of the page through as written.
    Rest,
}

/// The tag at `lt` read as [`parse`] reads the prefilter's output for it:
/// comments, the content of `raw_elements` and start tags nested too deep
/// dropped, start tags with only the attributes the prefilter keeps.
fn stripped_tag<'a>(
    b: &mut Builder<'a>,
    html: &'a str,
    lt: usize,
    raw_elements: &[&str],
    depth: &mut super::prefilter::Depth,
) -> Stripped {
    use super::prefilter::{Piece, Raw};
    let bytes = html.as_bytes();
    let s = |from: usize, to: usize| html.get(from..to).unwrap_or_default();
    let rest = bytes.get(lt + 1..).unwrap_or_default();
    if rest.starts_with(b"!--") {
        return Stripped::Dropped(super::prefilter::comment_end(bytes, lt));
    }
    match super::prefilter::raw_element(html, lt, raw_elements) {
        Raw::Not => {}
        Raw::Rest => return Stripped::Rest,
        Raw::Keep { .. } => return Stripped::AsWritten,
        Raw::Skip {
            tag_end, close_at, ..
        } => {
            // `<name attrs>` as written, then its end tag at once.
            let tag = bytes.get(..tag_end).unwrap_or_default();
            let end = name_end(tag, lt + 1);
            let name = lower(s(lt + 1, end));
            let (attrs, _) = read_attributes(html, end, tag_end);
            // A raw-text element's end tag is its own; any other is read as
            // the tokenizer reads an end tag.
            let end_name = name_end(bytes, close_at + 2);
            let closing = if is(RAW_TEXT, &name) {
                name.clone()
            } else {
                lower(s(close_at + 2, end_name))
            };
            b.start(name, attrs);
            b.end(&closing);
            return Stripped::Next(attributes(bytes, end_name, |_, _, _, _| {}));
        }
    }
    match rest.first() {
        Some(b'/') => depth
            .end_tag(bytes, lt)
            .map_or(Stripped::AsWritten, Stripped::Dropped),
        Some(c) if c.is_ascii_alphabetic() => {
            let mut name = "";
            let mut attrs = Vec::new();
            let Some(end) = super::prefilter::scan_start_tag(html, lt, |p| match p {
                Piece::Name(n) => name = n,
                Piece::Hidden => attrs.push((Cow::Borrowed("hidden"), Cow::Borrowed(""))),
                Piece::Attribute(n, v) => {
                    let v = v.unwrap_or_default();
                    let unquoted = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                        .unwrap_or(v);
                    attrs.push((lower(n), attribute_value(unquoted)));
                }
            }) else {
                return Stripped::AsWritten;
            };
            if depth.start_tag(html, lt, end) {
                return Stripped::Dropped(end);
            }
            Stripped::Next(opened(b, html, lower(name), attrs, end, Some(raw_elements)))
        }
        _ => Stripped::AsWritten,
    }
}

/// SVG attributes whose names the standard writes in mixed case.
const SVG_ATTRIBUTES: &[&str] = &[
    "attributeName",
    "attributeType",
    "baseFrequency",
    "baseProfile",
    "calcMode",
    "clipPathUnits",
    "diffuseConstant",
    "edgeMode",
    "filterUnits",
    "glyphRef",
    "gradientTransform",
    "gradientUnits",
    "kernelMatrix",
    "kernelUnitLength",
    "keyPoints",
    "keySplines",
    "keyTimes",
    "lengthAdjust",
    "limitingConeAngle",
    "markerHeight",
    "markerUnits",
    "markerWidth",
    "maskContentUnits",
    "maskUnits",
    "numOctaves",
    "pathLength",
    "patternContentUnits",
    "patternTransform",
    "patternUnits",
    "pointsAtX",
    "pointsAtY",
    "pointsAtZ",
    "preserveAlpha",
    "preserveAspectRatio",
    "primitiveUnits",
    "refX",
    "refY",
    "repeatCount",
    "repeatDur",
    "requiredExtensions",
    "requiredFeatures",
    "specularConstant",
    "specularExponent",
    "spreadMethod",
    "startOffset",
    "stdDeviation",
    "stitchTiles",
    "surfaceScale",
    "systemLanguage",
    "tableValues",
    "targetX",
    "targetY",
    "textLength",
    "viewBox",
    "viewTarget",
    "xChannelSelector",
    "yChannelSelector",
    "zoomAndPan",
];

/// An attribute's qualified name as html5ever gives it: in SVG and MathML,
/// mixed-case names and the `xlink:`, `xml:` and `xmlns` attributes.
pub(crate) fn attribute_name(name: &str, foreign: Option<&str>) -> html5ever::QualName {
    use html5ever::{LocalName, Namespace, Prefix, QualName, ns};
    let plain = |n: &str| QualName::new(None, ns!(), LocalName::from(n));
    let Some(space) = foreign else {
        return plain(name);
    };
    let prefixed = |prefix: &str, ns: Namespace, local: &str| {
        QualName::new(Some(Prefix::from(prefix)), ns, LocalName::from(local))
    };
    match name.split_once(':') {
        Some(("xlink", local))
            if matches!(
                local,
                "actuate" | "arcrole" | "href" | "role" | "show" | "title" | "type"
            ) =>
        {
            return prefixed("xlink", ns!(xlink), local);
        }
        Some(("xml", local)) if matches!(local, "lang" | "space") => {
            return prefixed("xml", ns!(xml), local);
        }
        Some(("xmlns", "xlink")) => return prefixed("xmlns", ns!(xmlns), "xlink"),
        _ => {}
    }
    if name == "xmlns" {
        return QualName::new(None, ns!(xmlns), LocalName::from("xmlns"));
    }
    if space == "svg"
        && let Some(mixed) = SVG_ATTRIBUTES.iter().find(|a| a.eq_ignore_ascii_case(name))
    {
        return plain(mixed);
    }
    if space == "math" && name == "definitionurl" {
        return plain("definitionURL");
    }
    plain(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_bits_are_list_membership() {
        let mut names: Vec<&str> = BIT_LISTS
            .iter()
            .flat_map(|(_, l)| l.iter().copied())
            .collect();
        names.extend(["", "div", "span", "x-custom", "P", "tbodyx"]);
        for name in names {
            for (bit, list) in BIT_LISTS {
                assert_eq!(tag_bits(name) & bit != 0, is(list, name), "{name} {bit}");
            }
        }
    }
}

//! What the extractor drops from a page before it builds the tree: the
//! bodies of `<script>` (except JSON-LD), `<style>`, `<svg>`, `<noscript>`,
//! `<nav>` and `<aside>` (pruned as tags in every extraction pass anyway;
//! menus are often thousands of links), and HTML comments. An `<aside>`
//! that names a date or an author (`<time>`, "Published", "author"…) is
//! kept: templates print the article's date and byline there ("Published |
//! August 30, 2024 | Author | Lisa D. Ellis"). On news pages these are often
//! half the bytes. The tags themselves are kept (empty) so the document
//! structure is unchanged.
//!
//! Start tags also lose the attributes extraction never reads (`src`,
//! `srcset`, `data-*`, event handlers…). A `style` that hides the element
//! becomes `hidden`; any other `style` is dropped.
//!
//! The decisions are made here (`scan_start_tag`, `raw_element`, `Depth`,
//! `comment_end`); the extractor's tokenizer makes them as it reads each
//! tag (`tree::parse_stripped`), in one pass. [`strip`] writes them out as
//! HTML: for pages read for their links, for pages too large to parse
//! whole, and as the reference `tests/prefilter_fold.rs` holds the one
//! pass to.

/// Elements whose content is skipped; `script` keeps JSON-LD. `header` and
/// `footer` are kept: metadata fallbacks (`<h1>`, `<time>`, author links) live there.
pub const RAW_ELEMENTS: &[&str] = &["script", "style", "svg", "noscript", "nav", "aside"];

/// Words that keep an `<aside>`'s body: it may hold the article's date or
/// byline (matched case-insensitively in the raw bytes, in one pass).
#[allow(
    clippy::expect_used,
    reason = "static regex, checked by the unit tests"
)]
static ASIDE_METADATA: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
    regex::bytes::Regex::new(r"(?i-u)<time|author|byline|publish|posted|updated|written")
        .expect("static regex")
});

/// For pages read for their links (listings): navigation is kept.
const RAW_ELEMENTS_FOR_LINKS: &[&str] = &["script", "style", "svg", "noscript"];

fn starts_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.get(..needle.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(needle))
}

/// `hay[from..]`, empty past the end.
fn from(hay: &[u8], i: usize) -> &[u8] {
    hay.get(i..).unwrap_or_default()
}

/// Position of the first `needle` in `hay`, ignoring ASCII case (memchr
/// finds candidates by the needle's first byte in either case).
pub(crate) fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        i += memchr::memchr2(lower, upper, from(hay, i))?;
        if starts_with_ci(from(hay, i), needle) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// `hay` contains `needle`, ignoring ASCII case; no lowercased copy.
pub(crate) fn contains_ci(hay: &str, needle: &str) -> bool {
    needle.is_empty() || find_ci(hay.as_bytes(), needle.as_bytes()).is_some()
}

/// True when `body` (an aside with its start tag) holds one of [`ASIDE_METADATA`].
fn names_metadata(body: &[u8]) -> bool {
    ASIDE_METADATA.is_match(body)
}

/// Deepest element nesting passed to the parser. html5ever's cost grows
/// with the square of nesting depth (100,000 nested `<div>` took 14 s);
/// start tags deeper than this are dropped, their text kept. Real pages
/// nest a few dozen levels.
pub const MAX_DEPTH: usize = 256;

/// The tag name at the start of `rest` (as written; compare case-insensitively).
fn tag_name(rest: &[u8]) -> &[u8] {
    let n = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b':')
        .count();
    rest.get(..n).unwrap_or(rest)
}

/// `test` of `name` lower-cased; false for a name longer than 16 bytes,
/// longer than any looked up here. A `match` on the bytes is far cheaper
/// than comparing a name with each entry of a list, which this pass did
/// for every tag and attribute of the page.
fn lowered_is(name: &[u8], test: impl FnOnce(&[u8]) -> bool) -> bool {
    let mut buf = [0u8; 16];
    let Some(out) = buf.get_mut(..name.len()) else {
        return false;
    };
    for (o, b) in out.iter_mut().zip(name) {
        *o = b.to_ascii_lowercase();
    }
    test(out)
}

/// Elements that do not nest: void elements, and those whose end tag is
/// optional (counting an unclosed `<p>` would make depth grow forever).
fn non_nesting(name: &[u8]) -> bool {
    lowered_is(name, |n| {
        matches!(
            n,
            b"area"
                | b"base"
                | b"br"
                | b"col"
                | b"embed"
                | b"hr"
                | b"img"
                | b"input"
                | b"link"
                | b"meta"
                | b"param"
                | b"source"
                | b"track"
                | b"wbr"
                | b"p"
                | b"li"
                | b"dt"
                | b"dd"
                | b"option"
                | b"tr"
                | b"td"
                | b"th"
                | b"thead"
                | b"tbody"
                | b"tfoot"
                | b"html"
                | b"head"
                | b"body"
                | b"colgroup"
                | b"optgroup"
                | b"rb"
                | b"rp"
                | b"rt"
                | b"rtc"
                | b"image"
        )
    })
}

/// Attributes that extraction reads; every other one is dropped.
fn kept_attribute(name: &[u8]) -> bool {
    lowered_is(name, |n| {
        matches!(
            n,
            b"class"
                | b"id"
                | b"role"
                | b"itemprop"
                | b"itemtype"
                | b"hidden"
                | b"aria-hidden"
                | b"href"
                | b"rel"
                | b"name"
                | b"property"
                | b"content"
                | b"http-equiv"
                | b"charset"
                | b"lang"
                | b"type"
                | b"datetime"
                | b"pubdate"
        )
    })
}

/// One piece of a start tag as the prefilter keeps it, in order: the name
/// as written, then each kept attribute.
pub(crate) enum Piece<'h> {
    Name(&'h str),
    /// A `style` that hides the element: kept as `hidden`.
    Hidden,
    /// A kept attribute: its name and its value as written (with its quotes).
    Attribute(&'h str, Option<&'h str>),
}

/// Reads one start tag `<name attrs…>` (from `at`, which is at `<`),
/// handing `piece` what the prefilter keeps of it. Returns the index after
/// `>`, or `None` if the tag does not close (the prefilter then copies it
/// through as written).
pub(crate) fn scan_start_tag<'h>(
    html: &'h str,
    at: usize,
    mut piece: impl FnMut(Piece<'h>),
) -> Option<usize> {
    let b = html.as_bytes();
    // Is there a byte at `i`, and does it pass `f`? (Never indexes past the end.)
    let is = |i: usize, f: fn(u8) -> bool| b.get(i).is_some_and(|c| f(*c));
    let mut i = at + 1;
    while is(i, |c| c.is_ascii_alphanumeric() || c == b'-' || c == b':') {
        i += 1;
    }
    piece(Piece::Name(html.get(at + 1..i)?));
    loop {
        while is(i, |c| c.is_ascii_whitespace() || c == b'/') {
            i += 1;
        }
        match b.get(i) {
            None => return None,
            Some(b'>') => break,
            Some(_) => {}
        }
        let name_start = i;
        while is(i, |c| {
            !c.is_ascii_whitespace() && !matches!(c, b'=' | b'>' | b'/')
        }) {
            i += 1;
        }
        let attr = html.get(name_start..i)?;
        while is(i, |c| c.is_ascii_whitespace()) {
            i += 1;
        }
        let mut value: Option<&str> = None;
        if is(i, |c| c == b'=') {
            i += 1;
            while is(i, |c| c.is_ascii_whitespace()) {
                i += 1;
            }
            let q = *b.get(i)?;
            if q == b'"' || q == b'\'' {
                let end = memchr::memchr(q, from(b, i + 1))? + i + 1;
                value = Some(html.get(i..=end)?);
                i = end + 1;
            } else {
                let start = i;
                while is(i, |c| !c.is_ascii_whitespace() && c != b'>') {
                    i += 1;
                }
                value = Some(html.get(start..i)?);
            }
        }
        if attr.is_empty() {
            // A stray `=value` with no name: skipped (the `=` was consumed,
            // so this always makes progress).
            continue;
        }
        if attr.eq_ignore_ascii_case("style") {
            let v: String = value
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            if v.contains("display:none") || v.contains("visibility:hidden") {
                piece(Piece::Hidden);
            }
        } else if kept_attribute(attr.as_bytes()) {
            piece(Piece::Attribute(attr, value));
        }
    }
    Some(i + 1)
}

/// Rewrites one start tag `<name attrs…>` (from `at`, which is at `<`)
/// into `out` with only the kept attributes. Returns the index after `>`,
/// or `None` if the tag does not close (the caller then truncates `out` to
/// where the tag began and copies it through).
fn rewrite_start_tag(html: &str, at: usize, out: &mut String) -> Option<usize> {
    let end = scan_start_tag(html, at, |p| match p {
        Piece::Name(name) => {
            out.push('<');
            out.push_str(name);
        }
        Piece::Hidden => out.push_str(" hidden"),
        Piece::Attribute(name, value) => {
            out.push(' ');
            out.push_str(name);
            if let Some(v) = value {
                out.push('=');
                out.push_str(v);
            }
        }
    })?;
    out.push('>');
    Some(end)
}

/// Where a comment starting at `at` (`<!--`) ends: after its `-->`, or at
/// the end of the page.
pub(crate) fn comment_end(bytes: &[u8], at: usize) -> usize {
    find_ci(from(bytes, at + 4), b"-->").map_or(bytes.len(), |e| at + 4 + e + 3)
}

/// What the prefilter does with a tag at `at` (at `<`).
pub(crate) enum Raw {
    /// Not one of the elements whose content is skipped.
    Not,
    /// JSON-LD, or an aside that names a date or an author: the start tag
    /// (up to `tag_end`) is kept as written and the content read on.
    Keep { tag_end: usize },
    /// The start tag ends at `tag_end` and is kept as written; the content
    /// up to `close_at`, where `</name` starts, is skipped; `resume` is
    /// just past that `</name`.
    Skip {
        tag_end: usize,
        close_at: usize,
        resume: usize,
    },
    /// The tag or its end tag does not close: the rest of the page is
    /// copied through as written.
    Rest,
}

/// Whether the tag at `at` starts one of `raw_elements`, and what the
/// prefilter does with it.
pub(crate) fn raw_element(html: &str, at: usize, raw_elements: &[&str]) -> Raw {
    let bytes = html.as_bytes();
    let rest = from(bytes, at + 1);
    let first = rest.first().map(u8::to_ascii_lowercase);
    let Some(name) = raw_elements.iter().find(|n| {
        n.as_bytes().first() == first.as_ref()
            && starts_with_ci(rest, n.as_bytes())
            && rest
                .get(n.len())
                .is_some_and(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
    }) else {
        return Raw::Not;
    };
    // Its end as a start tag's: a `>` inside a quoted value does not end it
    // (`x-data="{ f: () => … }"` on a menu).
    let Some(tag_end) = scan_start_tag(html, at, |_| {}) else {
        return Raw::Rest;
    };
    let open_tag = html.get(at..tag_end).unwrap_or_default();
    if *name == "script" && contains_ci(open_tag, "ld+json") {
        return Raw::Keep { tag_end };
    }
    let close = format!("</{name}");
    let Some(close_at) = find_ci(from(bytes, tag_end), close.as_bytes()).map(|p| tag_end + p)
    else {
        return Raw::Rest;
    };
    if *name == "aside" && names_metadata(bytes.get(at..close_at).unwrap_or_default()) {
        return Raw::Keep { tag_end };
    }
    Raw::Skip {
        tag_end,
        close_at,
        resume: close_at + close.len(),
    }
}

/// The nesting depth the prefilter counts, to drop start tags nested
/// deeper than [`MAX_DEPTH`] and their end tags.
#[derive(Debug, Default)]
pub(crate) struct Depth(usize);

impl Depth {
    /// An end tag at `at` (`</`): the index after it when it is dropped.
    pub(crate) fn end_tag(&mut self, bytes: &[u8], at: usize) -> Option<usize> {
        let name = tag_name(from(bytes, at + 2));
        if name.is_empty() || non_nesting(name) {
            return None;
        }
        if self.0 > MAX_DEPTH {
            // The end tag of a start tag dropped for depth.
            if let Some(end) = memchr::memchr(b'>', from(bytes, at)).map(|p| at + p + 1) {
                self.0 -= 1;
                return Some(end);
            }
        }
        self.0 = self.0.saturating_sub(1);
        None
    }

    /// A start tag at `at` that closes at `end`: whether it is dropped
    /// for depth.
    pub(crate) fn start_tag(&mut self, html: &str, at: usize, end: usize) -> bool {
        let nests = !non_nesting(tag_name(from(html.as_bytes(), at + 1)));
        let too_deep = nests && self.0 >= MAX_DEPTH;
        let self_closing = html
            .get(..end)
            .is_some_and(|t| t.trim_end_matches('>').ends_with('/'));
        if nests && !self_closing {
            self.0 += 1;
        }
        too_deep
    }
}

/// The page without the skipped contents. Never fails; on anything it does
/// not recognise it copies the input through.
pub fn strip(html: &str) -> String {
    strip_with(html, RAW_ELEMENTS)
}

/// [`strip`] for a page read for its links: `<nav>` and `<aside>` are kept.
pub fn strip_for_links(html: &str) -> String {
    strip_with(html, RAW_ELEMENTS_FOR_LINKS)
}

pub(crate) fn strip_with(html: &str, raw_elements: &[&str]) -> String {
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len() / 2);
    let mut copied = 0; // bytes[..copied] are handled
    let mut depth = Depth::default();
    let mut i = 0;
    while let Some(lt) = memchr::memchr(b'<', from(bytes, i)) {
        let at = i + lt;
        let rest = from(bytes, at + 1);
        if rest.starts_with(b"!--") {
            // A comment: drop it whole (an unterminated one runs to the end).
            let end = comment_end(bytes, at);
            out.push_str(&html[copied..at]);
            copied = end;
            i = end;
            continue;
        }
        match raw_element(html, at, raw_elements) {
            Raw::Not => {}
            Raw::Rest => break,
            Raw::Keep { tag_end } => {
                // The start tag is copied as written; what follows is read on.
                i = tag_end;
                continue;
            }
            Raw::Skip {
                tag_end,
                close_at,
                resume,
            } => {
                out.push_str(&html[copied..tag_end]);
                copied = close_at;
                // The rest of the end tag is copied as written.
                i = resume;
                continue;
            }
        }
        if rest.first() == Some(&b'/') {
            if let Some(end) = depth.end_tag(bytes, at) {
                out.push_str(&html[copied..at]);
                copied = end;
                i = end;
                continue;
            }
            i = at + 1;
            continue;
        }
        if rest.first().is_some_and(u8::is_ascii_alphabetic) {
            let mark = out.len();
            out.push_str(&html[copied..at]);
            match rewrite_start_tag(html, at, &mut out) {
                Some(end) => {
                    if depth.start_tag(html, at, end) {
                        out.truncate(mark);
                        out.push_str(&html[copied..at]);
                    }
                    copied = end;
                    i = end;
                }
                None => {
                    out.truncate(mark);
                    i = at + 1;
                }
            }
            continue;
        }
        i = at + 1;
    }
    out.push_str(&html[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn name_lookups_ignore_case_and_match_whole_names() {
        use super::{kept_attribute, non_nesting};
        for kept in ["class", "CLASS", "Aria-Hidden", "datetime"] {
            assert!(kept_attribute(kept.as_bytes()), "{kept}");
        }
        for dropped in [
            "",
            "c",
            "classes",
            "data-class",
            "aria-hidden-extra-long-name",
        ] {
            assert!(!kept_attribute(dropped.as_bytes()), "{dropped}");
        }
        for flat in ["p", "LI", "Img", "optgroup"] {
            assert!(non_nesting(flat.as_bytes()), "{flat}");
        }
        for nests in ["", "div", "pre", "imgs", "a-very-long-custom-element"] {
            assert!(!non_nesting(nests.as_bytes()), "{nests}");
        }
    }

    #[test]
    fn drops_script_style_comments_but_keeps_json_ld() {
        let html = r#"<head><SCRIPT src=x>var a = "<p>not text</p>";</script><script type="application/ld+json">{"headline":"H"}</script><style>p{color:red}</style></head><body><!-- hidden --><p>Text</p><svg viewBox="0 0 1 1"><path d="M0"/></svg></body>"#;
        assert_eq!(
            strip(html),
            r#"<head><SCRIPT src=x></script><script type="application/ld+json">{"headline":"H"}</script><style></style></head><body><p>Text</p><svg viewBox="0 0 1 1"></svg></body>"#
        );
    }

    #[test]
    fn start_tags_keep_only_what_extraction_reads() {
        let html = r#"<div class="a b" data-x='{"k":">"}' onclick="go()" style="display: none"><img src=x.jpg srcset="a 1x, b 2x" alt="pic"><a href="/p" rel=author>Me</a><br/></div>"#;
        assert_eq!(
            strip(html),
            r#"<div class="a b" hidden><img><a href="/p" rel=author>Me</a><br></div>"#
        );
    }

    #[test]
    fn navigation_bodies_are_dropped_except_for_link_reading() {
        let html =
            "<nav class=\"menu\"><a href=\"/a\">A</a></nav><aside><p>More</p></aside><p>Text</p>";
        assert_eq!(
            strip(html),
            "<nav class=\"menu\"></nav><aside></aside><p>Text</p>"
        );
        // An aside that prints the date or the author is kept.
        let meta = "<aside class=\"m\"><h3>Published</h3><time datetime=\"2024-08-30\">August 30, 2024</time></aside>";
        assert_eq!(strip(meta), meta);
        let byline = "<aside class=\"post-author\">Katie Liguori</aside>";
        assert_eq!(strip(byline), byline);
        assert_eq!(super::strip_for_links(html), html);
    }

    #[test]
    fn a_gt_in_a_quoted_value_does_not_end_a_skipped_elements_tag() {
        // Alpine.js menus: the `>` of an arrow function inside `x-data`
        // once ended the tag there, and the parser then read the rest of
        // the page as that attribute's value (WCXB 4194, 4649).
        let html = r#"<nav x-data="{ f: () => 1 }"><a href=/a>A</a></nav><p>Text</p>"#;
        assert_eq!(
            strip(html),
            r#"<nav x-data="{ f: () => 1 }"></nav><p>Text</p>"#
        );
    }

    #[test]
    fn nesting_beyond_the_limit_is_flattened() {
        let depth = super::MAX_DEPTH + 100;
        let html = format!(
            "{}<p>deep</p>{}<p>after</p>",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let out = strip(&html);
        assert_eq!(out.matches("<div>").count(), super::MAX_DEPTH);
        assert_eq!(out.matches("</div>").count(), super::MAX_DEPTH);
        assert!(out.ends_with("<p>deep</p></div><p>after</p>") || out.contains("<p>after</p>"));
        // Unclosed paragraphs and list items do not count as nesting.
        let flat = "<p>x".repeat(1000);
        assert_eq!(strip(&flat).matches("<p>").count(), 1000);
    }

    #[test]
    fn a_nameless_attribute_before_multibyte_text_is_skipped_safely() {
        // Found by the property test: `="…"` followed by a 4-byte character.
        let html = "<a =\"x\"\u{e4b56}b>t</a>";
        assert!(strip(html).ends_with(">t</a>"));
    }

    #[test]
    fn unterminated_constructs_are_copied_through() {
        assert_eq!(strip("<p>a<script>var x"), "<p>a<script>var x");
        assert_eq!(strip("<p>a</p><!-- open"), "<p>a</p>");
        assert_eq!(
            strip("<scripting>text</scripting>"),
            "<scripting>text</scripting>"
        );
        assert_eq!(
            strip("Ünïcödé <style>x</style> ß"),
            "Ünïcödé <style></style> ß"
        );
    }
}

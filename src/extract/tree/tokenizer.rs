//! The tokenizer: tags found with `memchr`, attributes read in place, raw
//! text, and the prefilter's decisions made as each tag is read.

use std::borrow::Cow;

use super::builder::*;
use super::names::*;
use super::refs::{decode, newlines};
use super::{Kind, NONE, Node, Tree};

pub(super) fn find(h: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(h.get(from..)?, needle).map(|p| p + from)
}

/// The end of a tag name starting at `at`.
pub(super) fn name_end(b: &[u8], at: usize) -> usize {
    at + b
        .get(at..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| !is_space(**c) && **c != b'/' && **c != b'>')
        .count()
}

/// Parses the attributes from `at` to the end of the tag: each name and
/// value (as written), and the index just past the tag's `>`.
pub(super) fn attributes(
    b: &[u8],
    mut i: usize,
    mut each: impl FnMut(usize, usize, usize, usize),
) -> usize {
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

pub(super) fn parse_with<'a>(html: &'a str, mut strip: Option<&[&str]>) -> Tree<'a> {
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
    let mut depth = crate::extract::prefilter::Depth::default();
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
pub(super) fn start_tag<'a>(
    b: &mut Builder<'a>,
    html: &'a str,
    at: usize,
    strip: Option<&[&str]>,
) -> usize {
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
pub(super) fn read_attributes(html: &str, from: usize, within: usize) -> (Attrs<'_>, usize) {
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
pub(super) fn attribute_value(v: &str) -> Cow<'_, str> {
    let mut value = decode(v, true);
    if value.contains('\0') {
        value = Cow::Owned(value.replace('\0', "\u{FFFD}"));
    }
    value
}

/// A start tag read up to `after`: the element is opened, and the text of a
/// raw-text element read up to its end tag (through the prefilter when
/// `strip` names its raw elements, as the prefilter would have passed it).
pub(super) fn opened<'a>(
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
        body = Cow::Owned(crate::extract::prefilter::strip_with(&body, raw_elements));
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
pub(super) fn raw_text(body: &str, rcdata: bool) -> Cow<'_, str> {
    if rcdata {
        decode(body, false)
    } else {
        newlines(body)
    }
}

/// What reading one tag the prefilter's way came to.
pub(super) enum Stripped {
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
pub(super) fn stripped_tag<'a>(
    b: &mut Builder<'a>,
    html: &'a str,
    lt: usize,
    raw_elements: &[&str],
    depth: &mut crate::extract::prefilter::Depth,
) -> Stripped {
    use crate::extract::prefilter::{Piece, Raw};
    let bytes = html.as_bytes();
    let s = |from: usize, to: usize| html.get(from..to).unwrap_or_default();
    let rest = bytes.get(lt + 1..).unwrap_or_default();
    if rest.starts_with(b"!--") {
        return Stripped::Dropped(crate::extract::prefilter::comment_end(bytes, lt));
    }
    match crate::extract::prefilter::raw_element(html, lt, raw_elements) {
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
            let Some(end) = crate::extract::prefilter::scan_start_tag(html, lt, |p| match p {
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
pub(super) const SVG_ATTRIBUTES: &[&str] = &[
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

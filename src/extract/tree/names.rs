//! The tag lists the tree builder consults, as one bit set per name.

use std::borrow::Cow;

/// Elements without content.
pub(super) const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
];
/// Elements whose content is text up to their end tag.
pub(super) const RAW_TEXT: &[&str] = &[
    "iframe", "noembed", "noframes", "noscript", "script", "style", "textarea", "title", "xmp",
];
/// Start tags that close an open `<p>`.
pub(super) const CLOSES_P: &[&str] = &[
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
pub(super) const SPECIAL: &[&str] = &[
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
pub(super) const SCOPE: &[&str] = &[
    "applet", "caption", "html", "marquee", "object", "table", "td", "template", "th",
];
/// Formatting elements, reopened after a block closed them.
pub(super) const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];
/// Elements that put a marker on the list of formatting elements.
pub(super) const MARKERS: &[&str] = &[
    "applet", "caption", "marquee", "object", "td", "template", "th",
];
pub(super) const HEADINGS: &[&str] = &["h1", "h2", "h3", "h4", "h5", "h6"];
/// Start tags (besides those that close a `<p>`) before which the
/// formatting elements a block closed are not reopened.
pub(super) const NOT_REOPENING: &[&str] = &[
    "base", "basefont", "bgsound", "caption", "col", "colgroup", "frameset", "iframe", "link",
    "meta", "noembed", "noframes", "noscript", "param", "rb", "rp", "rt", "rtc", "script",
    "source", "style", "tbody", "td", "template", "tfoot", "th", "thead", "title", "tr", "track",
];
pub(super) const TABLE_SECTIONS: &[&str] = &["tbody", "tfoot", "thead"];

/// The lists above as bits, looked up once per tag by [`tag_bits`]: the
/// builder asks several of them of every start and end tag.
pub(super) const B_VOID: u16 = 1;
pub(super) const B_CLOSES_P: u16 = 1 << 1;
pub(super) const B_SPECIAL: u16 = 1 << 2;
pub(super) const B_FORMATTING: u16 = 1 << 3;
pub(super) const B_MARKERS: u16 = 1 << 4;
pub(super) const B_HEADINGS: u16 = 1 << 5;
pub(super) const B_NOT_REOPENING: u16 = 1 << 6;
pub(super) const B_TABLE_SECTIONS: u16 = 1 << 7;

/// Each list with its bit.
pub(super) const BIT_LISTS: [(u16, &[&str]); 8] = [
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
/// the extractor's tag classes in [`crate::extract::dom`]).
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

pub(super) static TAG_BITS: std::sync::LazyLock<ListBits> =
    std::sync::LazyLock::new(|| ListBits::new(&BIT_LISTS));

/// The builder's lists `name` is in, as bits.
pub(super) fn tag_bits(name: &str) -> u16 {
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

pub(super) fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
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

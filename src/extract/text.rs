//! Text assembly: the chosen content as paragraphs.
//!
//! Decided explicitly: a paragraph of ten words or more is kept once even if the
//! page repeats it; headings are paragraphs of their own; each list item
//! is a paragraph; each table row is a paragraph with its cells separated by
//! spaces; block quotes and `<pre>` are kept as paragraphs; `<br>` breaks a
//! paragraph; image captions (`<figcaption>`, caption classes) are not
//! article text and are pruned before this step.

use super::dom::{Edge, Node, NodeId, NodeRef};

use super::content::Removed;

/// Paragraphs are in Unicode's composed form (NFC): a CMS that stores "ü"
/// as u + U+0308 shows the same word, and it must hash and search the same.
///
/// Characters a reader never sees and that say nothing about the words:
/// the soft hyphen (a hyphenation hint, `Wehr&shy;an&shy;lage`), the zero
/// width space, the word joiner and a stray byte order mark. A page that
/// adds or moves them has not changed its text, and a search for "Wehranlage"
/// must find it. Joiners that shape a script (ZWJ, ZWNJ) are kept.
const INVISIBLE: [char; 4] = ['\u{ad}', '\u{200b}', '\u{2060}', '\u{feff}'];

/// Paragraphs of text under `roots`, skipping pruned subtrees.
pub fn paragraphs(roots: &[NodeRef<'_>], removed: &Removed) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut seen = std::collections::HashSet::new();
    // A paragraph of ten words or more that the page repeats (live-blog
    // templates, duplicated teasers) is kept once.
    let mut flush = |current: &mut String, out: &mut Vec<String>| {
        current.retain(|c| !INVISIBLE.contains(&c));
        let mut p = current.split_whitespace().collect::<Vec<_>>().join(" ");
        if unicode_normalization::is_nfc_quick(p.chars())
            != unicode_normalization::IsNormalized::Yes
        {
            p = unicode_normalization::UnicodeNormalization::nfc(p.as_str()).collect();
        }
        let repeated = p.split(' ').count() >= 10 && !seen.insert(p.clone());
        if !p.is_empty() && !repeated {
            out.push(p);
        }
        current.clear();
    };
    for root in roots {
        let mut skip_depth: Option<NodeId> = None;
        for edge in root.traverse() {
            match edge {
                Edge::Open(n) => {
                    if skip_depth.is_some() {
                        continue;
                    }
                    if removed.contains(&n.id()) {
                        skip_depth = Some(n.id());
                        continue;
                    }
                    match n.value() {
                        Node::Text(t) => current.push_str(t),
                        Node::Element(e) => {
                            let name = e.name();
                            if e.is_block() {
                                flush(&mut current, &mut out);
                            } else if matches!(name, "td" | "th") {
                                current.push(' ');
                            } else if name == "img" {
                                // Images carry no text of their own here.
                            }
                        }
                        _ => {}
                    }
                }
                Edge::Close(n) => {
                    if let Some(id) = skip_depth {
                        if id == n.id() {
                            skip_depth = None;
                        }
                        continue;
                    }
                    if let Node::Element(e) = n.value() {
                        if e.is_block() {
                            flush(&mut current, &mut out);
                        } else if matches!(e.name(), "td" | "th") {
                            current.push(' ');
                        }
                    }
                }
            }
        }
        flush(&mut current, &mut out);
    }
    out
}

//! Tree construction: where each token goes (the rules the module
//! documentation lists).

use std::borrow::Cow;

mod formatting;
mod insertion;

use super::names::*;
use super::refs::{decode, newlines};
use super::{Kind, NONE, Node};

pub(super) type Attrs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// A formatting element that is open or may be reopened, or a marker.
#[derive(Debug, Clone)]
pub(super) enum Formatting {
    Marker,
    Element { node: u32 },
}

/// Where the builder is in the document's outline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    BeforeHead,
    InHead,
    AfterHead,
    InBody,
}

/// Elements that belong in `<head>` when they come before the body.
pub(super) const HEAD_CONTENT: &[&str] = &[
    "base", "basefont", "bgsound", "link", "meta", "noframes", "noscript", "script", "style",
    "template", "title",
];

pub(super) struct Builder<'a> {
    pub(super) nodes: Vec<Node<'a>>,
    pub(super) mode: Mode,
    pub(super) html: u32,
    pub(super) head: u32,
    pub(super) body: u32,
    pub(super) attrs: Attrs<'a>,
    /// Open elements, innermost last.
    pub(super) open: Vec<u32>,
    pub(super) formatting: Vec<Formatting>,
    /// A comment (not kept) stands between the last node and what comes
    /// next: text after it is a new text node, as in html5ever's tree.
    pub(super) after_comment: bool,
    /// The token being placed is content a table cannot hold.
    pub(super) fostering: bool,
}

impl<'a> Builder<'a> {
    pub(super) fn name(&self, i: u32) -> &str {
        match self.nodes.get(i as usize).map(|n| &n.kind) {
            Some(Kind::Element { name, .. }) => name,
            _ => "",
        }
    }

    pub(super) fn current(&self) -> u32 {
        self.open.last().copied().unwrap_or(0)
    }

    pub(super) fn current_name(&self) -> &str {
        self.name(self.current())
    }

    /// A comment: not kept, but it separates the text around it.
    pub(super) fn comment(&mut self) {
        self.after_comment = true;
    }

    /// Where content that does not belong in a table goes while a table,
    /// its section or row is the current node: just before the table
    /// (the standard's foster parenting). `(parent, table)`.
    pub(super) fn foster_place(&self) -> Option<(u32, u32)> {
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
    pub(super) fn previous_sibling(&self, parent: u32, child: u32) -> u32 {
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

    pub(super) fn append(&mut self, kind: Kind<'a>) -> u32 {
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
    pub(super) fn link_last(&mut self, parent: u32, child: u32) {
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
    pub(super) fn text_in_body(&mut self, t: &'a str, decode_refs: bool) {
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
    pub(super) fn merge_attributes(&mut self, element: u32, attrs: Attrs<'a>) {
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
    pub(super) fn push_attributes(&mut self, attrs: Attrs<'a>) -> (u32, u32) {
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

    pub(super) fn open_element(&mut self, name: &'static str, attrs: Attrs<'a>) -> u32 {
        let attrs = self.push_attributes(attrs);
        let id = self.append(Kind::Element {
            name: Cow::Borrowed(name),
            attrs,
        });
        self.open.push(id);
        id
    }

    pub(super) fn ensure_html(&mut self, attrs: Attrs<'a>) {
        if self.html == NONE {
            self.html = self.open_element("html", attrs);
        } else {
            self.merge_attributes(self.html, attrs);
        }
    }

    /// Moves the outline on to the body (implying `<head>` and `<body>`).
    pub(super) fn enter_body(&mut self, attrs: Attrs<'a>) {
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

    pub(super) fn text(&mut self, t: &'a str, decode_refs: bool) {
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
}

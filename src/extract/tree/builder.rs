//! Tree construction: where each token goes (the rules the module
//! documentation lists).

use std::borrow::Cow;

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

    pub(super) fn start(&mut self, name: Cow<'a, str>, attrs: Attrs<'a>) {
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

    pub(super) fn end(&mut self, name: &str) {
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
    pub(super) fn find_open(
        &self,
        targets: &[&str],
        bound: impl Fn(&str) -> bool,
    ) -> Option<usize> {
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
    pub(super) fn in_scope(&self, name: &str, extra: &[&str]) -> Option<usize> {
        self.find_open(&[name], |n| is(SCOPE, n) || is(extra, n))
    }

    /// The innermost open element of `targets` in table scope (cells do not
    /// bound it; `extra` does).
    pub(super) fn in_table_scope(&self, targets: &[&str], extra: &[&str]) -> Option<usize> {
        self.find_open(targets, |n| {
            matches!(n, "html" | "template") || is(extra, n)
        })
    }

    pub(super) fn close_p(&mut self) {
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
    pub(super) fn reopen_formatting(&mut self) {
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
    pub(super) fn noahs_ark(&mut self, new: u32) {
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

    pub(super) fn clear_formatting_to_marker(&mut self) {
        while let Some(f) = self.formatting.pop() {
            if matches!(f, Formatting::Marker) {
                break;
            }
        }
    }

    /// Pops open elements down to (and without) position `k`.
    pub(super) fn pop_to(&mut self, k: usize) {
        while self.open.len() > k {
            if let Some(i) = self.open.pop()
                && is(MARKERS, self.name(i))
            {
                self.clear_formatting_to_marker();
            }
        }
    }

    pub(super) fn start_in_body(&mut self, name: Cow<'a, str>, attrs: Attrs<'a>) {
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

    pub(super) fn push_implied(&mut self, name: &'static str) {
        let id = self.append(Kind::Element {
            name: Cow::Borrowed(name),
            attrs: (self.attrs.len() as u32, self.attrs.len() as u32),
        });
        self.open.push(id);
    }

    /// A new cell closes the open cell; a new row the open row (with its
    /// cell and whatever is open in it).
    pub(super) fn close_cells(&mut self, row: bool) {
        let found = if row {
            self.in_table_scope(&["tr"], &["table", "tbody", "tfoot", "thead"])
        } else {
            self.in_table_scope(&["td", "th"], &["table", "tr"])
        };
        if let Some(k) = found {
            self.pop_to(k);
        }
    }

    pub(super) fn end_in_body(&mut self, name: &str) {
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
    pub(super) fn end_other(&mut self, name: &str) {
        if let Some(k) = self.find_open(&[name], |m| is(SPECIAL, m)) {
            self.pop_to(k);
        }
    }

    /// The entry in the formatting list for the last `name` after the last
    /// marker.
    pub(super) fn formatting_entry(&self, name: &str) -> Option<usize> {
        for (k, f) in self.formatting.iter().enumerate().rev() {
            match f {
                Formatting::Marker => return None,
                Formatting::Element { node } if self.name(*node) == name => return Some(k),
                Formatting::Element { .. } => {}
            }
        }
        None
    }

    pub(super) fn formatting_node(&self, k: usize) -> u32 {
        match self.formatting.get(k) {
            Some(Formatting::Element { node }) => *node,
            _ => NONE,
        }
    }

    /// Element `of`'s name with a copy of its attributes.
    pub(super) fn copied(&mut self, of: u32) -> Option<Kind<'a>> {
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
    pub(super) fn copy_element(&mut self, of: u32) -> u32 {
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
    pub(super) fn detach(&mut self, child: u32) {
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
    pub(super) fn append_to(&mut self, parent: u32, child: u32) {
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
    pub(super) fn adoption_agency(&mut self, name: &str) -> bool {
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

    pub(super) fn formatting_entry_of(&self, element: u32) -> Option<usize> {
        self.formatting
            .iter()
            .position(|f| matches!(f, Formatting::Element { node } if *node == element))
    }
}

//! Where each tag goes: the start and end tag rules (in body, in tables,
//! in lists and selects), implied ends and scopes, as the HTML standard's
//! insertion modes describe; `Builder` in `mod.rs` appends what they decide.

use std::borrow::Cow;

use super::super::names::*;
use super::super::{Kind, NONE};
use super::{Attrs, Builder, Formatting, HEAD_CONTENT, Mode};

impl<'a> Builder<'a> {
    pub(in crate::extract::tree) fn start(&mut self, name: Cow<'a, str>, attrs: Attrs<'a>) {
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

    pub(in crate::extract::tree) fn end(&mut self, name: &str) {
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
}

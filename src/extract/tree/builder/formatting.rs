//! The list of active formatting elements: reopening what an end tag cut
//! short, the Noah's Ark clause, and the adoption agency that repairs
//! misnested formatting (`<b><p></b>`), as the HTML standard describes.

use super::super::names::*;
use super::super::{Kind, NONE, Node};
use super::{Builder, Formatting};

impl<'a> Builder<'a> {
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

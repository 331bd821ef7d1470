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

mod builder;
mod names;
mod refs;
mod tokenizer;

pub(crate) use names::ListBits;
pub use refs::{decode, newlines};
pub(crate) use tokenizer::attribute_name;
pub use tokenizer::{parse, parse_stripped};

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

//! The document the extractor reads: the parser's tree ([`super::tree`])
//! laid out again in document order, so that a node's id is its position
//! and its subtree is the run of ids up to [`NodeRef::descendants`]' end.
//!
//! The interface follows `ego_tree`/`scraper`, which the extractor read
//! before (`id`, `value`, `parent`, `children`, `descendants`, `ancestors`,
//! `traverse`), and the ids are the ones [`Dom::to_html`] gives the same
//! nodes in a `scraper::Html`: a `<template>`'s children sit under a
//! fragment node, as scraper keeps them, and [`NodeId`] orders and hashes
//! as `ego_tree::NodeId` does. The extractor breaks ties between equal
//! scores by id, so the ids are part of its output; `tests/dom.rs` checks
//! them against scraper's on the corpora.
//!
//! Invariant: every walk here is iterative; nesting depth cannot overflow
//! the stack.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use super::tree::{self, Kind, NONE, Tree};

/// A node's position in document order (the root is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Hashed as `ego_tree::NodeId` (its index plus one, as a `usize`): maps
/// keyed by node id iterate in the same order as they did over scraper.
impl Hash for NodeId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0 as usize + 1);
    }
}

/// An element's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    Html,
    Svg,
    MathMl,
}

#[derive(Debug)]
enum Data<'a> {
    Document,
    /// A `<template>`'s content.
    Fragment,
    Element {
        name: Cow<'a, str>,
        attrs: (u32, u32),
        space: Space,
        tags: u16,
    },
    Text(Cow<'a, str>),
}

/// Block-level tags: they start a new paragraph in the text.
pub const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "ul",
    "ol",
    "li",
    "table",
    "tr",
    "blockquote",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "figure",
    "dl",
    "dt",
    "dd",
    "address",
    "hr",
    "br",
    "center",
    "details",
    "summary",
    "form",
    "fieldset",
    "tbody",
    "thead",
    "tfoot",
    "td",
    "th",
];

/// Tags whose content is never article text.
pub const JUNK_TAGS: &[&str] = &[
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "object",
    "embed",
    "button",
    "select",
    "input",
    "textarea",
    "nav",
    "aside",
    "footer",
    "header",
    "figcaption",
    "head",
    "link",
    "meta",
    "dialog",
    "menu",
    "label",
    "option",
];

/// [`Element::is_block`]: the tag starts a paragraph ([`BLOCK_TAGS`]).
const BLOCK: u16 = 1;
/// [`Element::is_junk_tag`]: the tag never holds article text ([`JUNK_TAGS`]).
const JUNK: u16 = 2;

static TAGS: std::sync::LazyLock<tree::ListBits> =
    std::sync::LazyLock::new(|| tree::ListBits::new(&[(BLOCK, BLOCK_TAGS), (JUNK, JUNK_TAGS)]));

#[derive(Debug)]
struct Slot<'a> {
    parent: u32,
    next: u32,
    first: u32,
    last: u32,
    /// One past the last id of this node's subtree.
    end: u32,
    data: Data<'a>,
}

/// A parsed page in document order.
#[derive(Debug)]
pub struct Dom<'a> {
    slots: Vec<Slot<'a>>,
    attrs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// What a node is, borrowed from the document.
#[derive(Debug, Clone, Copy)]
pub enum Node<'d> {
    Document,
    Fragment,
    Element(Element<'d>),
    Text(&'d str),
}

impl<'d> Node<'d> {
    pub fn as_text(&self) -> Option<&'d str> {
        match self {
            Node::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_element(&self) -> Option<Element<'d>> {
        match self {
            Node::Element(e) => Some(*e),
            _ => None,
        }
    }
}

/// An element: its lower-case name and its attributes (lower-case names,
/// decoded values, the first of a repeated name).
#[derive(Debug, Clone, Copy)]
pub struct Element<'d> {
    name: &'d str,
    attrs: &'d [(Cow<'d, str>, Cow<'d, str>)],
    space: Space,
    tags: u16,
}

impl<'d> Element<'d> {
    pub fn name(&self) -> &'d str {
        self.name
    }

    /// The attribute's value. A linear scan: elements keep a few
    /// attributes after the prefilter, and the names asked are few.
    pub fn attribute(&self, name: &str) -> Option<&'d str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }

    pub fn attrs(&self) -> impl Iterator<Item = (&'d str, &'d str)> + 'd {
        self.attrs.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// Whether `class` lists `word` (compared exactly, as CSS does in a
    /// document without quirks).
    #[inline]
    pub fn has_class(&self, word: &str) -> bool {
        self.attribute("class")
            .is_some_and(|c| c.split_ascii_whitespace().any(|w| w == word))
    }

    pub fn space(&self) -> Space {
        self.space
    }

    /// A block tag: it starts a new paragraph ([`BLOCK_TAGS`]; classified
    /// once, when the document is laid out).
    pub fn is_block(&self) -> bool {
        self.tags & BLOCK != 0
    }

    /// A tag whose content is never article text ([`JUNK_TAGS`]).
    pub fn is_junk_tag(&self) -> bool {
        self.tags & JUNK != 0
    }
}

/// A node of a [`Dom`]: a reference and an id.
#[derive(Debug, Clone, Copy)]
pub struct NodeRef<'d> {
    dom: &'d Dom<'d>,
    id: u32,
}

impl PartialEq for NodeRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.dom, other.dom) && self.id == other.id
    }
}

impl Eq for NodeRef<'_> {}

/// One step of a [`NodeRef::traverse`]: entering or leaving a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge<'d> {
    Open(NodeRef<'d>),
    Close(NodeRef<'d>),
}

impl<'d> NodeRef<'d> {
    fn slot(self) -> Option<&'d Slot<'d>> {
        self.dom.slots.get(self.id as usize)
    }

    fn at(self, id: u32) -> Option<NodeRef<'d>> {
        (id != NONE).then_some(NodeRef { dom: self.dom, id })
    }

    pub fn id(self) -> NodeId {
        NodeId(self.id)
    }

    /// The document this node belongs to.
    pub fn dom(self) -> &'d Dom<'d> {
        self.dom
    }

    pub fn value(self) -> Node<'d> {
        let Some(slot) = self.slot() else {
            return Node::Document;
        };
        match &slot.data {
            Data::Document => Node::Document,
            Data::Fragment => Node::Fragment,
            Data::Text(t) => Node::Text(t),
            Data::Element {
                name,
                attrs,
                space,
                tags,
            } => Node::Element(Element {
                name,
                attrs: self
                    .dom
                    .attrs
                    .get(attrs.0 as usize..attrs.1 as usize)
                    .unwrap_or_default(),
                space: *space,
                tags: *tags,
            }),
        }
    }

    pub fn parent(self) -> Option<NodeRef<'d>> {
        self.at(self.slot()?.parent)
    }

    pub fn first_child(self) -> Option<NodeRef<'d>> {
        self.at(self.slot()?.first)
    }

    pub fn next_sibling(self) -> Option<NodeRef<'d>> {
        self.at(self.slot()?.next)
    }

    /// The children, in order.
    pub fn children(self) -> impl Iterator<Item = NodeRef<'d>> + 'd {
        std::iter::successors(self.first_child(), |n| n.next_sibling())
    }

    /// This node and everything under it, in document order.
    pub fn descendants(self) -> impl Iterator<Item = NodeRef<'d>> + 'd {
        let end = self.slot().map_or(self.id, |s| s.end);
        let dom = self.dom;
        (self.id..end).map(move |id| NodeRef { dom, id })
    }

    /// Whether `other` is this node or under it (its id falls in this
    /// subtree's run of ids).
    pub fn contains(self, other: NodeRef<'_>) -> bool {
        let end = self.slot().map_or(self.id, |s| s.end);
        (self.id..end).contains(&other.id)
    }

    /// The parent, its parent, up to the root.
    pub fn ancestors(self) -> impl Iterator<Item = NodeRef<'d>> + 'd {
        std::iter::successors(self.parent(), |n| n.parent())
    }

    /// Every node of the subtree opened and closed, in document order.
    pub fn traverse(self) -> Traverse<'d> {
        Traverse {
            root: self,
            next: Some(Edge::Open(self)),
        }
    }

    /// The text of the subtree's text nodes, in order.
    pub fn text(self) -> impl Iterator<Item = &'d str> + 'd {
        self.descendants().filter_map(|n| n.value().as_text())
    }

    /// The element's data, `None` for other nodes.
    pub fn element(self) -> Option<Element<'d>> {
        self.value().as_element()
    }
}

/// See [`NodeRef::traverse`].
#[derive(Debug, Clone)]
pub struct Traverse<'d> {
    root: NodeRef<'d>,
    next: Option<Edge<'d>>,
}

impl<'d> Iterator for Traverse<'d> {
    type Item = Edge<'d>;

    fn next(&mut self) -> Option<Edge<'d>> {
        let edge = self.next?;
        self.next = match edge {
            Edge::Open(n) => Some(n.first_child().map_or(Edge::Close(n), Edge::Open)),
            Edge::Close(n) if n == self.root => None,
            Edge::Close(n) => match n.next_sibling() {
                Some(s) => Some(Edge::Open(s)),
                None => n.parent().map(Edge::Close),
            },
        };
        Some(edge)
    }
}

impl<'a> Dom<'a> {
    /// Parses a page (no prefilter) into a document.
    pub fn parse(html: &'a str) -> Dom<'a> {
        Dom::from_tree(tree::parse(html))
    }

    /// Lays the parser's tree out in document order (taking its strings).
    pub fn from_tree(mut tree: Tree<'a>) -> Dom<'a> {
        let mut slots: Vec<Slot<'a>> = Vec::with_capacity(tree.nodes.len() + 1);
        slots.push(Slot {
            parent: NONE,
            next: NONE,
            first: NONE,
            last: NONE,
            end: 1,
            data: Data::Document,
        });
        // (the next of our node's children to lay out, the slot they go
        // into, the node's own slot)
        let first_of = |t: &Tree<'_>, i: u32| t.node(i).map_or(NONE, |n| n.first_child);
        let mut open: Vec<(u32, u32, u32)> = vec![(first_of(&tree, 0), 0, 0)];
        while let Some(top) = open.last_mut() {
            let (child, into) = (top.0, top.1);
            let Some(node) = tree.nodes.get_mut(child as usize) else {
                let end = slots.len() as u32;
                if let Some((_, into, me)) = open.pop() {
                    for s in [into, me] {
                        if let Some(slot) = slots.get_mut(s as usize) {
                            slot.end = end;
                        }
                    }
                }
                continue;
            };
            top.0 = node.next;
            let inherited = match slots.get(into as usize).map(|s| &s.data) {
                Some(Data::Element { space, .. }) => *space,
                Some(Data::Fragment) => {
                    let template = slots.get(into as usize).map_or(NONE, |s| s.parent);
                    match slots.get(template as usize).map(|s| &s.data) {
                        Some(Data::Element { space, .. }) => *space,
                        _ => Space::Html,
                    }
                }
                _ => Space::Html,
            };
            let first_child = node.first_child;
            let data = match std::mem::replace(&mut node.kind, Kind::Document) {
                Kind::Element { name, attrs } => {
                    let space = match name.as_ref() {
                        "svg" => Space::Svg,
                        "math" => Space::MathMl,
                        _ => inherited,
                    };
                    let tags = TAGS.of(&name);
                    Data::Element {
                        name,
                        attrs,
                        space,
                        tags,
                    }
                }
                Kind::Text(t) => Data::Text(t),
                Kind::Document => continue,
            };
            let template = matches!(&data, Data::Element { name, .. } if name == "template");
            let id = push(&mut slots, into, data);
            let under = if template {
                push(&mut slots, id, Data::Fragment)
            } else {
                id
            };
            open.push((first_child, under, id));
        }
        Dom {
            slots,
            attrs: std::mem::take(&mut tree.attrs),
        }
    }

    pub fn root(&self) -> NodeRef<'_> {
        NodeRef { dom: self, id: 0 }
    }

    pub fn get(&self, id: NodeId) -> Option<NodeRef<'_>> {
        (id.index() < self.slots.len()).then_some(NodeRef {
            dom: self,
            id: id.0,
        })
    }

    /// The number of nodes (ids run from 0 to this, exclusive).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The document as a `scraper::Html`, node for node, with the same ids
    /// in the same order: for CSS selectors (an operator's
    /// `content_selector`) and for comparing with html5ever in the tests.
    pub fn to_html(&self) -> scraper::Html {
        use html5ever::tendril::StrTendril;
        use html5ever::{Attribute, LocalName, QualName, ns};
        use scraper::node::{Element as HtmlElement, Node as HtmlNode, Text};

        let mut html = scraper::Html::new_document();
        let mut ids: Vec<ego_tree::NodeId> = Vec::with_capacity(self.slots.len());
        ids.push(html.tree.root().id());
        for slot in self.slots.iter().skip(1) {
            let value = match &slot.data {
                Data::Document => HtmlNode::Document,
                Data::Fragment => HtmlNode::Fragment,
                Data::Text(t) => HtmlNode::Text(Text {
                    text: StrTendril::from(t.as_ref()),
                }),
                Data::Element {
                    name, attrs, space, ..
                } => {
                    let foreign = match space {
                        Space::Html => None,
                        Space::Svg => Some("svg"),
                        Space::MathMl => Some("math"),
                    };
                    let attributes = self
                        .attrs
                        .get(attrs.0 as usize..attrs.1 as usize)
                        .unwrap_or_default()
                        .iter()
                        .map(|(k, v)| Attribute {
                            name: tree::attribute_name(k, foreign),
                            value: StrTendril::from(v.as_ref()),
                        })
                        .collect();
                    let ns = match space {
                        Space::Html => ns!(html),
                        Space::Svg => ns!(svg),
                        Space::MathMl => ns!(mathml),
                    };
                    HtmlNode::Element(HtmlElement::new(
                        QualName::new(None, ns, LocalName::from(name.as_ref())),
                        attributes,
                    ))
                }
            };
            let parent = ids.get(slot.parent as usize).copied();
            let Some(mut parent) = parent.and_then(|p| html.tree.get_mut(p)) else {
                ids.push(html.tree.root().id());
                continue;
            };
            ids.push(parent.append(value).id());
        }
        html
    }

    /// For each selector, the ids of the elements it matches, in document
    /// order (one scraper copy for all; none made without selectors).
    pub fn select_css(&self, selectors: &[&scraper::Selector]) -> Vec<Vec<NodeId>> {
        if selectors.is_empty() {
            return Vec::new();
        }
        let html = self.to_html();
        selectors
            .iter()
            .map(|selector| {
                html.tree
                    .nodes()
                    .enumerate()
                    .filter(|(_, n)| {
                        scraper::ElementRef::wrap(*n).is_some_and(|e| selector.matches(&e))
                    })
                    .map(|(i, _)| NodeId(i as u32))
                    .collect()
            })
            .collect()
    }
}

/// Appends a node as the last child of `parent`; returns its id.
fn push<'a>(slots: &mut Vec<Slot<'a>>, parent: u32, data: Data<'a>) -> u32 {
    let id = slots.len() as u32;
    let prev = slots.get(parent as usize).map_or(NONE, |p| p.last);
    if let Some(p) = slots.get_mut(prev as usize) {
        p.next = id;
    }
    if let Some(p) = slots.get_mut(parent as usize) {
        if p.first == NONE {
            p.first = id;
        }
        p.last = id;
    }
    slots.push(Slot {
        parent,
        next: NONE,
        first: NONE,
        last: NONE,
        end: id + 1,
        data,
    });
    id
}

/// Test helper: a document that lives for the rest of the test run.
#[cfg(test)]
pub fn leak(html: &str) -> &'static Dom<'static> {
    let html: &'static str = Box::leak(html.to_string().into_boxed_str());
    Box::leak(Box::new(Dom::parse(html)))
}

/// Test helper: the elements named `name`, in document order.
#[cfg(test)]
pub fn all_named<'d>(dom: &'d Dom<'d>, name: &str) -> impl Iterator<Item = NodeRef<'d>> + 'd {
    let name = name.to_string();
    dom.root()
        .descendants()
        .filter(move |n| n.element().is_some_and(|e| e.name() == name))
}

/// Test helper: the first element named `name`.
#[cfg(test)]
pub fn first_named<'d>(dom: &'d Dom<'d>, name: &str) -> NodeRef<'d> {
    all_named(dom, name)
        .next()
        .expect("an element of that name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_document_order_and_subtrees_are_runs() {
        let dom = Dom::parse("<p>a<b>b</b></p><div><i>c</i>d</div>");
        let names: Vec<String> = dom
            .root()
            .descendants()
            .map(|n| match n.value() {
                Node::Element(e) => e.name().to_string(),
                Node::Text(t) => format!("'{t}'"),
                _ => "#".to_string(),
            })
            .collect();
        assert_eq!(
            names,
            [
                "#", "html", "head", "body", "p", "'a'", "b", "'b'", "div", "i", "'c'", "'d'"
            ]
        );
        let div = dom.get(NodeId(8)).unwrap();
        assert_eq!(div.descendants().count(), 4);
        assert_eq!(div.children().count(), 2);
        assert_eq!(div.ancestors().count(), 3);
        // Its subtree is ids 8 to 11: itself and what is under it.
        let inside: Vec<usize> = dom
            .root()
            .descendants()
            .filter(|n| div.contains(*n))
            .map(|n| n.id().index())
            .collect();
        assert_eq!(inside, [8, 9, 10, 11]);
        let opened = div
            .traverse()
            .filter(|e| matches!(e, Edge::Open(_)))
            .count();
        let closed = div
            .traverse()
            .filter(|e| matches!(e, Edge::Close(_)))
            .count();
        assert_eq!((opened, closed), (4, 4));
        assert_eq!(div.text().collect::<String>(), "cd");
    }

    #[test]
    fn template_content_sits_under_a_fragment() {
        let dom = Dom::parse("<body><template><p>x</p></template><svg><g/></svg>");
        let t = dom
            .root()
            .descendants()
            .find(|n| n.element().is_some_and(|e| e.name() == "template"))
            .unwrap();
        let frag = t.first_child().unwrap();
        assert!(matches!(frag.value(), Node::Fragment));
        assert_eq!(frag.children().count(), 1);
        let g = dom
            .root()
            .descendants()
            .find(|n| n.element().is_some_and(|e| e.name() == "g"))
            .unwrap();
        assert_eq!(g.element().map(|e| e.space()), Some(Space::Svg));
    }
}

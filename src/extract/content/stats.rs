//! Bottom-up text statistics: text and link lengths, paragraph, item and
//! image counts of every live node.

use crate::extract::dom::{Node, NodeId};

use super::{N, Removed};

/// Text measurements of one element's live (unpruned) subtree.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stat {
    /// Characters of text, whitespace runs counted as one.
    pub text: usize,
    /// Characters of text inside links.
    pub links: usize,
    /// Number of `<p>` elements.
    pub paragraphs: usize,
    /// Number of `<li>` elements.
    pub items: usize,
    /// Number of `<img>` elements.
    pub images: usize,
    /// Number of `<a>` elements.
    pub anchors: usize,
    /// Characters of text inside link-heavy blocks nested in this one
    /// (more than half links: lists of three links or more — menus,
    /// related links, keyword rows — and figures whose links are
    /// "download" or "enlarge"), and of link text among them.
    pub nav_text: usize,
    pub nav_links: usize,
}

impl Stat {
    pub fn link_density(&self) -> f64 {
        if self.text == 0 {
            0.0
        } else {
            self.links as f64 / self.text as f64
        }
    }

    /// Link density of the block's own text: navigation nested inside it
    /// is left out when it holds less than half of the text (a column
    /// whose article sits above a list of related links is judged by the
    /// article); otherwise, or with none nested, the whole link density.
    pub fn own_link_density(&self) -> f64 {
        let own = self.text.saturating_sub(self.nav_text);
        if self.nav_text == 0 || own * 2 <= self.text {
            self.link_density()
        } else {
            self.links.saturating_sub(self.nav_links) as f64 / own as f64
        }
    }
}

/// Bottom-up text statistics for every live node.
pub struct Stats {
    /// The id of the root the statistics were computed under: its subtree
    /// is the run of ids from it, and slot `i` is node `first + i`.
    first: usize,
    stats: Vec<Stat>,
    dead: Vec<bool>,
}

fn collapsed_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_space = true;
    for c in s.chars() {
        if c.is_whitespace() {
            if !in_space {
                n += 1;
                in_space = true;
            }
        } else {
            n += 1;
            in_space = false;
        }
    }
    n
}

impl Stats {
    pub fn compute(root: N<'_>, removed: &Removed) -> Stats {
        // A subtree is a run of ids in document order: parents come before
        // their children, so one forward sweep settles liveness and one
        // reverse sweep adds children into parents. No hashing but the
        // `removed` lookups.
        let first = root.id().index();
        let nodes: Vec<N<'_>> = root.descendants().collect();
        let slot = |n: Option<N<'_>>| {
            n.and_then(|p| p.id().index().checked_sub(first))
                .filter(|i| *i < nodes.len())
        };
        let parent: Vec<Option<usize>> = nodes.iter().map(|n| slot(n.parent())).collect();
        let mut dead: Vec<bool> = Vec::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            let parent_dead = parent
                .get(i)
                .copied()
                .flatten()
                .and_then(|p| dead.get(p).copied())
                .unwrap_or(false);
            dead.push(parent_dead || removed.contains(&n.id()));
        }
        let mut stats = vec![Stat::default(); nodes.len()];
        // The vectors are parallel (one slot per node, filled above); `get`
        // keeps every access checked anyway.
        for (i, node) in nodes.iter().enumerate().rev() {
            if dead.get(i).copied().unwrap_or(true) {
                continue;
            }
            let Some(mut st) = stats.get(i).copied() else {
                continue;
            };
            match node.value() {
                Node::Text(t) => st.text += collapsed_len(t),
                Node::Element(e) => match e.name() {
                    "a" => {
                        st.links = st.text;
                        st.anchors += 1;
                    }
                    "p" => st.paragraphs += 1,
                    "li" => st.items += 1,
                    "img" => st.images += 1,
                    _ => {}
                },
                _ => {}
            }
            if let Some(s) = stats.get_mut(i) {
                *s = st;
            }
            if let Some(ps) = parent
                .get(i)
                .copied()
                .flatten()
                .and_then(|p| stats.get_mut(p))
            {
                ps.text += st.text;
                ps.links += st.links;
                // A list of links, or a figure's links (download, enlarge,
                // credit): neither is the container's own text.
                let (block, figure) = match node.value() {
                    Node::Element(e) => (e.is_block(), e.name() == "figure"),
                    _ => (false, false),
                };
                if (figure || (block && st.anchors >= 3)) && st.links * 2 > st.text {
                    ps.nav_text += st.text;
                    ps.nav_links += st.links;
                } else {
                    ps.nav_text += st.nav_text;
                    ps.nav_links += st.nav_links;
                }
                ps.paragraphs += st.paragraphs;
                ps.items += st.items;
                ps.images += st.images;
                ps.anchors += st.anchors;
            }
        }
        Stats { first, stats, dead }
    }

    fn slot(&self, id: NodeId) -> Option<usize> {
        id.index().checked_sub(self.first)
    }

    pub fn get(&self, id: NodeId) -> Stat {
        self.slot(id)
            .and_then(|i| self.stats.get(i).copied())
            .unwrap_or_default()
    }

    pub fn is_dead(&self, id: NodeId) -> bool {
        self.slot(id)
            .is_none_or(|i| self.dead.get(i).copied().unwrap_or(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::dom::{Dom, first_named};

    #[test]
    fn link_density_and_counts_bottom_up() {
        let doc = Dom::parse(
            "<body><div><p>twelve chars</p><p><a href=/>link text!!</a></p><img></div></body>",
        );
        let stats = Stats::compute(doc.root(), &Removed::default());
        let div = first_named(&doc, "div");
        let st = stats.get(div.id());
        assert_eq!(
            (st.text, st.links, st.paragraphs, st.images),
            (23, 11, 2, 1)
        );
        assert!((st.link_density() - 11.0 / 23.0).abs() < 1e-9);
    }

    #[test]
    fn pruned_subtrees_count_nothing() {
        let doc = Dom::parse("<body><div><p>kept text</p><nav>menu menu</nav></div></body>");
        let nav = first_named(&doc, "nav").id();
        let removed: Removed = [nav].into_iter().collect();
        let stats = Stats::compute(doc.root(), &removed);
        let div = first_named(&doc, "div").id();
        assert_eq!(stats.get(div).text, 9);
        assert!(stats.is_dead(nav));
    }
}

//! Bottom-up text statistics: text and link lengths, paragraph, item and
//! image counts of every live node.

use ego_tree::NodeId;
use scraper::Node;

use super::{IdMap, N, Removed};

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
}

impl Stat {
    pub fn link_density(&self) -> f64 {
        if self.text == 0 {
            0.0
        } else {
            self.links as f64 / self.text as f64
        }
    }
}

/// Bottom-up text statistics for every live node.
pub struct Stats {
    /// Preorder index of each node under the root.
    index: IdMap<usize>,
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
        // One preorder walk records each node's index, parent and liveness;
        // a reverse sweep then adds children into parents. One hash insert
        // per node, no other hashing.
        let mut index: IdMap<usize> = IdMap::default();
        let mut nodes: Vec<N<'_>> = Vec::new();
        let mut parent: Vec<Option<usize>> = Vec::new();
        let mut dead: Vec<bool> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        for edge in root.traverse() {
            match edge {
                ego_tree::iter::Edge::Open(n) => {
                    let i = nodes.len();
                    let p = open.last().copied();
                    index.insert(n.id(), i);
                    let parent_dead = p.and_then(|p| dead.get(p).copied()).unwrap_or(false);
                    dead.push(removed.contains(&n.id()) || parent_dead);
                    parent.push(p);
                    nodes.push(n);
                    open.push(i);
                }
                ego_tree::iter::Edge::Close(_) => {
                    open.pop();
                }
            }
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
                    "a" => st.links = st.text,
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
                ps.paragraphs += st.paragraphs;
                ps.items += st.items;
                ps.images += st.images;
            }
        }
        Stats { index, stats, dead }
    }

    pub fn get(&self, id: NodeId) -> Stat {
        self.index
            .get(&id)
            .and_then(|i| self.stats.get(*i).copied())
            .unwrap_or_default()
    }

    pub fn is_dead(&self, id: NodeId) -> bool {
        self.index
            .get(&id)
            .is_none_or(|i| self.dead.get(*i).copied().unwrap_or(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_density_and_counts_bottom_up() {
        let doc = scraper::Html::parse_document(
            "<body><div><p>twelve chars</p><p><a href=/>link text!!</a></p><img></div></body>",
        );
        let stats = Stats::compute(doc.tree.root(), &Removed::default());
        let sel = scraper::Selector::parse("div").unwrap();
        let div = doc.select(&sel).next().unwrap();
        let st = stats.get(div.id());
        assert_eq!(
            (st.text, st.links, st.paragraphs, st.images),
            (23, 11, 2, 1)
        );
        assert!((st.link_density() - 11.0 / 23.0).abs() < 1e-9);
    }

    #[test]
    fn pruned_subtrees_count_nothing() {
        let doc = scraper::Html::parse_document(
            "<body><div><p>kept text</p><nav>menu menu</nav></div></body>",
        );
        let sel = scraper::Selector::parse("nav").unwrap();
        let nav = doc.select(&sel).next().unwrap().id();
        let removed: Removed = [nav].into_iter().collect();
        let stats = Stats::compute(doc.tree.root(), &removed);
        let div = doc
            .select(&scraper::Selector::parse("div").unwrap())
            .next()
            .unwrap()
            .id();
        assert_eq!(stats.get(div).text, 9);
        assert!(stats.is_dead(nav));
    }
}

//! Finding the article body: readability-style candidate scoring over the
//! DOM, after pruning what is never content, then pruning inside the winner.
//!
//! Each step is its own function so that it can be read and tested alone:
//! [`prune_junk`] (tags, roles, hidden and boilerplate-named elements),
//! [`Stats::compute`] (text and link lengths, bottom-up), [`score`]
//! (paragraph scores propagated to ancestors), [`pick`] (best candidate and
//! its related siblings), and [`clean_inside`] (link lists, share bars and
//! other conditional junk inside the chosen content).
//!
//! Invariant: every walk is iterative; nesting depth cannot overflow the stack.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::extract::dom::{Dom, Element, Node, NodeId, NodeRef};

mod classes;
mod clean;
mod lead;
mod pick;
mod prune;
mod score;
mod stats;

pub use super::dom::{BLOCK_TAGS, JUNK_TAGS};
pub use classes::{Classes, class_weight};
pub use clean::clean_inside;
pub use lead::add_lead;
pub use pick::{in_region, main_region, pick};
pub use prune::{Removed, junk_reason, prune_junk};
pub use score::{Score, score};
pub use stats::{Stat, Stats};

type N<'a> = NodeRef<'a>;

/// FxHash-style hasher for node ids: SipHash on every `NodeId` lookup was a
/// tenth of extraction time, and these maps never see untrusted keys
/// (ids are indices the parser assigned).
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type IdBuild = std::hash::BuildHasherDefault<IdHasher>;
/// A map keyed by node id.
pub type IdMap<V> = HashMap<NodeId, V, IdBuild>;
/// A set of node ids.
pub type IdSet = HashSet<NodeId, IdBuild>;

/// How strict one extraction pass is. A page whose strict pass finds too
/// little text is read again with less pruning (readability's retry): a
/// main container named "sidebar-layout" or "Page-ad-margins" is common.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Drop elements whose class or id looks like chrome.
    pub class_pruning: bool,
    /// Prune link lists and junk containers inside the chosen content.
    pub clean_inside: bool,
    /// Prune reader comments. Only the last pass keeps them: on a forum
    /// thread the posts are the page's text.
    pub comments: bool,
}

/// The passes, strictest first.
pub const PASSES: [Pass; 4] = [
    Pass {
        class_pruning: true,
        clean_inside: true,
        comments: true,
    },
    Pass {
        class_pruning: false,
        clean_inside: true,
        comments: true,
    },
    Pass {
        class_pruning: false,
        clean_inside: false,
        comments: true,
    },
    Pass {
        class_pruning: false,
        clean_inside: true,
        comments: false,
    },
];

fn element(n: N<'_>) -> Option<Element<'_>> {
    n.element()
}

fn has_block_child(n: N<'_>) -> bool {
    n.children()
        .any(|c| element(c).is_some_and(|e| e.is_block() && e.name() != "br"))
}

/// Text of a small element (paragraph-sized: its subtree is inline only);
/// borrowed when one text node holds all of it, as most paragraphs do.
fn inline_text<'a>(n: N<'a>, stats: &Stats) -> Cow<'a, str> {
    let mut s = Cow::Borrowed("");
    for d in n.descendants() {
        if stats.is_dead(d.id()) {
            continue;
        }
        if let Node::Text(t) = d.value() {
            if s.is_empty() {
                s = Cow::Borrowed(t);
            } else {
                s.to_mut().push_str(t);
            }
        }
    }
    s
}

/// The roots chosen by the operator's `content_selector` (`roots`, the ids
/// it matched), with only their `ignore_selectors` matches (`ignored`) and
/// never-content tags pruned inside; `None` when the selector matches
/// nothing (the general algorithm then runs).
pub fn find_selected<'a>(
    doc: &'a Dom<'a>,
    roots: &[NodeId],
    ignored: &IdSet,
) -> Option<(Vec<N<'a>>, Removed)> {
    let roots: Vec<N<'a>> = roots.iter().filter_map(|id| doc.get(*id)).collect();
    if roots.is_empty() {
        return None;
    }
    let mut removed = Removed::default();
    for r in &roots {
        for d in r.descendants() {
            if element(d).is_some_and(|e| e.is_junk_tag()) || ignored.contains(&d.id()) {
                removed.insert(d.id());
            }
        }
    }
    Some((roots, removed))
}

/// Finds the article content of a parsed page in one pass (see [`Found`]) (`classes`: [`Classes::of`] the
/// page; `ignored`: what the operator's `ignore_selectors` matched).
pub fn find<'a>(doc: &'a Dom<'a>, classes: &Classes, ignored: &IdSet, pass: Pass) -> Found<'a> {
    let mut removed = prune_junk(doc, classes, ignored, pass);
    let stats = Stats::compute(doc.root(), &removed);
    let scores = score(doc.root(), &stats, classes);
    let mut roots = pick(doc, &scores, &stats);
    add_lead(&mut roots, &stats, classes);
    if pass.clean_inside {
        removed.extend(clean_inside(&roots, &scores, &stats, classes));
    }
    if !pass.class_pruning {
        removed.extend(chrome_inside(&roots, &stats, classes, pass));
    }
    let evidence = scores
        .values()
        .max_by(|a, b| a.total.total_cmp(&b.total))
        .map_or(0.0, |s| s.evidence);
    Found {
        roots,
        removed,
        evidence,
    }
}

/// A less strict pass reads containers the class rules would prune, to
/// rescue an article whose container is misnamed ("sidebar-layout"); it
/// need not let the share bar, the comment form or the footer back in.
/// Inside the chosen roots, elements named like chrome that hold no prose
/// of the article's flow, little text ([`CHROME_TEXT`]) or mostly links,
/// and less than half of their root's text are pruned again (but for
/// reader comments in the pass that reads them).
const CHROME_TEXT: usize = 200;

fn chrome_inside(roots: &[N<'_>], stats: &Stats, classes: &Classes, pass: Pass) -> Removed {
    let mut removed = Removed::default();
    for root in roots {
        let whole = stats.get(root.id()).text;
        for d in root.descendants().skip(1) {
            if stats.is_dead(d.id()) || element(d).is_none() {
                continue;
            }
            let st = stats.get(d.id());
            let small = st.text < CHROME_TEXT || st.link_density() > 0.5;
            if small
                && st.text * 2 < whole
                && classes.chrome_without_prose(d)
                && (pass.comments || !classes.comments(d))
            {
                removed.insert(d.id());
            }
        }
    }
    removed
}

/// What one pass found: the roots to read text from, every pruned
/// subtree, and the prose evidence of the best candidate (what its
/// paragraphs scored, without the class prior: a column of teasers scores
/// 2, a short article 10, a long one 50 and more).
pub struct Found<'a> {
    pub roots: Vec<N<'a>>,
    pub removed: Removed,
    pub evidence: f64,
}

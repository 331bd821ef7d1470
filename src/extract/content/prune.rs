//! Pruning before scoring: tags, roles, hidden elements, reader comments,
//! and chrome-named classes (never on ancestors of marked content).

use crate::extract::dom::{Dom, Element, Node, NodeRef};

use super::classes::{ClassFlags, Classes, class_flags, holds_prose};
use super::{IdSet, Pass};

/// ARIA roles of page chrome.
const JUNK_ROLES: &[&str] = &[
    "navigation",
    "complementary",
    "banner",
    "contentinfo",
    "dialog",
    "alertdialog",
    "menu",
    "menubar",
    "search",
    "toolbar",
    "tablist",
];

/// React's streaming server rendering sends the page's content in
/// `<div hidden id="S:0">` segments that a script moves into place: hidden
/// in the HTML, the whole article once the page runs. The number after
/// `S:` is written in hexadecimal (`S:a` is the eleventh segment).
fn is_streamed_segment(e: Element<'_>) -> bool {
    e.name() == "div"
        && e.attribute("id").is_some_and(|id| {
            id.strip_prefix("S:")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_hexdigit()))
        })
}

/// A dialog: `role="dialog"`, `aria-modal`, or a class token that names a
/// modal (`modal`, `login-modal`; not `modal-enabled`, a container whose
/// images open in one). A login or consent dialog is
/// never the article, even written as an `<article>` (which is otherwise
/// never pruned by its name).
fn is_dialog(e: Element<'_>) -> bool {
    e.attribute("role")
        .is_some_and(|r| matches!(r.trim(), "dialog" | "alertdialog"))
        || e.attribute("aria-modal") == Some("true")
        || e.attribute("class").is_some_and(|c| {
            c.split_ascii_whitespace().any(|t| {
                let t = t.to_ascii_lowercase();
                t == "modal" || t.ends_with("-modal") || t.ends_with("_modal")
            })
        })
}

fn is_hidden(e: Element<'_>) -> bool {
    if e.attribute("aria-hidden") == Some("true") {
        return true;
    }
    if is_collapsed_panel(e) || (e.attribute("hidden").is_some() && is_streamed_segment(e)) {
        return false;
    }
    if e.attribute("hidden").is_some() {
        return true;
    }
    e.attribute("style").is_some_and(|s| {
        let s: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        s.contains("display:none") || s.contains("visibility:hidden")
    })
}

/// A collapsed accordion panel: ARIA's accordion pattern gives each panel
/// `role="region"` and hides it (`hidden`, `display: none`) until its
/// heading's button opens it. Its text is the article's, one click away.
fn is_collapsed_panel(e: Element<'_>) -> bool {
    e.attribute("role")
        .is_some_and(|r| r.trim().eq_ignore_ascii_case("region"))
}

/// An element the page itself marks as the article's rich text (site
/// builders such as Webflow put the body in a `<header class="w-richtext">`).
fn is_body_container(e: Element<'_>) -> bool {
    e.attribute("itemprop")
        .is_some_and(|p| p.contains("articleBody"))
        || e.attribute("class").is_some_and(|c| {
            [
                "richtext",
                "rich-text",
                "entry-content",
                "post-content",
                "article-body",
            ]
            .iter()
            .any(|w| crate::extract::prefilter::contains_ci(c, w))
        })
}

/// Why an element is dropped before scoring, if it is.
pub fn junk_reason(e: Element<'_>, pass: Pass) -> Option<&'static str> {
    junk_reason_of(e, || class_flags(e), pass)
}

/// [`junk_reason`] with the element's class flags from `flags` (asked only
/// when the tag alone does not decide).
fn junk_reason_of(
    e: Element<'_>,
    flags: impl FnOnce() -> ClassFlags,
    pass: Pass,
) -> Option<&'static str> {
    let name = e.name();
    if e.is_junk_tag() && !(matches!(name, "header" | "aside") && is_body_container(e)) {
        return Some("tag");
    }
    if matches!(name, "html" | "body" | "main") {
        return None;
    }
    let flags = flags();
    if flags.comments && pass.comments {
        return Some("comments");
    }
    if is_dialog(e) {
        return Some("dialog");
    }
    if name == "article" {
        return None;
    }
    if e.attribute("role")
        .is_some_and(|r| JUNK_ROLES.contains(&r.trim()))
    {
        return Some("role");
    }
    if is_hidden(e) {
        return Some("hidden");
    }
    if e.attribute("itemprop")
        .is_some_and(|p| p.contains("articleBody"))
    {
        return None;
    }
    if pass.class_pruning && flags.unlikely && !flags.maybe_ok {
        return Some("class");
    }
    None
}

/// The set of pruned subtrees' roots.
pub type Removed = IdSet;

/// An unclosed `<aside>`, `<nav>` or `<header>` swallows the rest of the
/// page when parsed (html5ever nests everything after it inside): one that
/// holds most of the page's text and its `<main>`, `<article>` or `<h1>`
/// is a markup error, not chrome (a mega-menu holds only links). A
/// `<header>` section that holds the article's rich text (Webflow's
/// `header.section_… > div.w-richtext`) is the article's section.
fn wraps_the_page(node: NodeRef<'_>, page_text: impl FnOnce() -> usize) -> bool {
    let Node::Element(e) = node.value() else {
        return false;
    };
    if !matches!(e.name(), "aside" | "nav" | "header") {
        return false;
    }
    // One walk: its text, and whether it holds the page's main content or
    // (for a header) marked rich text.
    let (mut text, mut holds_main, mut rich_text) = (0usize, false, false);
    for d in node.descendants().skip(1) {
        match d.value() {
            Node::Text(t) => text += t.len(),
            Node::Element(inner) => {
                holds_main |= matches!(inner.name(), "main" | "article" | "h1");
                rich_text |= is_body_container(inner);
            }
            _ => {}
        }
    }
    (e.name() == "header" && rich_text) || (holds_main && 2 * text > page_text())
}

/// A `role="tablist"` around its own `tabpanel`s is an accordion of the
/// article's sections (ARIA puts tabs in a tablist, panels beside it).
fn holds_panels(node: NodeRef<'_>) -> bool {
    matches!(node.value(), Node::Element(e) if e.attribute("role").is_some_and(|r| r.trim() == "tablist"))
        && node.descendants().any(
            |d| matches!(d.value(), Node::Element(e) if e.attribute("role").is_some_and(|r| r.trim() == "tabpanel")),
        )
}

/// Bytes of text under `node`, whitespace included.
fn text_len(node: NodeRef<'_>) -> usize {
    node.descendants()
        .filter_map(|d| d.value().as_text().map(|t| t.len()))
        .sum()
}

/// Marks chrome that is never content (see [`junk_reason`]), plus what
/// the source's `ignore_selectors` matched (`ignored`).
pub fn prune_junk<'d>(doc: &'d Dom<'_>, classes: &Classes, ignored: &IdSet, pass: Pass) -> Removed {
    let protected = &classes.protected;
    // The page's text, measured only if some chrome element needs it.
    let page_text = std::cell::OnceCell::new();
    let page_len = || *page_text.get_or_init(|| text_len(doc.root()));
    let mut removed = Removed::default();
    // The last chrome-named block kept as prose: the names of its own
    // parts (`c-product-widget__content`) are its name, and the walk is in
    // document order, so its parts come right after it.
    let mut prose: Option<NodeRef<'d>> = None;
    let mut kept_as_prose = |node: NodeRef<'d>| {
        if prose.is_some_and(|p| p.contains(node)) {
            return true;
        }
        let kept = holds_prose(node);
        if kept {
            prose = Some(node);
        }
        kept
    };
    for node in doc.root().descendants() {
        if let Node::Element(e) = node.value()
            && let Some(reason) = junk_reason_of(e, || classes.flags(node), pass)
            && !(reason == "class" && (protected.contains(&node.id()) || kept_as_prose(node)))
            && !(reason == "tag" && wraps_the_page(node, page_len))
            && !(reason == "role" && holds_panels(node))
        {
            removed.insert(node.id());
        }
    }
    removed.extend(ignored.iter().copied());
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::content::PASSES;

    fn first(html: &str, tag: &str) -> Element<'static> {
        crate::extract::dom::first_named(crate::extract::dom::leak(html), tag)
            .element()
            .unwrap()
    }

    fn pruned_ids(html: &str, pass: Pass) -> Vec<String> {
        let doc = Dom::parse(html);
        let removed = prune_junk(&doc, &Classes::of(&doc), &IdSet::default(), pass);
        doc.root()
            .descendants()
            .filter(|n| removed.contains(&n.id()))
            .filter_map(|n| match n.value() {
                Node::Element(e) => e.attribute("id").map(str::to_string),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn markup_errors_and_post_classes_do_not_prune_the_article() {
        // A post that has comments (`has-comments`) is no comment section;
        // taxonomy classes (`tag-social-media`) say nothing of the element.
        let post = r#"<article id=a class="BlogItem has-comments tag-social-media category-newsletter"><p>Text.</p></article>
                      <div id=c class="comments-area"><p>A reply.</p></div>"#;
        for pass in PASSES {
            let comments = if pass.comments {
                vec!["c".to_string()]
            } else {
                vec![]
            };
            assert_eq!(pruned_ids(post, pass), comments, "{pass:?}");
        }
        // An unclosed <aside> nests the whole page inside it.
        let unclosed = r#"<body><aside id=banner><a href=/x>Announcement</a><main id=m><p>Text.</p></main></body>"#;
        assert!(pruned_ids(unclosed, PASSES[0]).is_empty());
        assert_eq!(
            pruned_ids(
                r#"<aside id=side><p>More stories</p></aside><main><p>The article's text, much longer than the aside.</p></main>"#,
                PASSES[0]
            ),
            vec!["side".to_string()]
        );
        // A mega-menu with more text than the article is still chrome.
        let menu = format!(
            "<nav id=menu>{}</nav><div><p>A short article.</p></div>",
            "<a href=/x>Reviews and advice, expert tips for 10,000 products</a>".repeat(20)
        );
        assert_eq!(pruned_ids(&menu, PASSES[0]), vec!["menu".to_string()]);
        // A dialog is pruned in every pass, even written as an <article>;
        // a container whose images open in a modal is not a dialog.
        let dialog = r#"<div><article id=login class="login-modal dark"><p>Sign in</p></article><div id=box class="box modal-enabled"><p>Text.</p></div></div>"#;
        for pass in &PASSES[1..] {
            assert_eq!(pruned_ids(dialog, *pass), vec!["login".to_string()]);
        }
        assert!(pruned_ids(dialog, PASSES[0]).contains(&"login".to_string()));
        // An element with an id alone is matched by the anchored patterns.
        let reply = r#"<div><div id=respond><p>Leave a reply</p></div><p>Text.</p></div>"#;
        assert_eq!(pruned_ids(reply, PASSES[0]), vec!["respond".to_string()]);
        // A tablist around its own panels is an accordion of sections;
        // CKEditor's `ck-widget` wraps parts of the body.
        let accordion = r#"<div id=t role=tablist><div role=tabpanel><p>Transcript.</p></div></div>
            <div id=tabs role=tablist><a role=tab>One</a><a role=tab>Two</a></div>
            <div id=w class="ck-widget bs_grid"><p>Body.</p></div>"#;
        assert_eq!(pruned_ids(accordion, PASSES[0]), vec!["tabs".to_string()]);
        // Webflow puts the article's rich text in a <header> section.
        let webflow = r#"<header id=site><a href=/>Logo</a></header>
            <header id=h class="section_blog"><div class="blog-rt w-richtext"><p>Text.</p></div></header>"#;
        assert_eq!(pruned_ids(webflow, PASSES[0]), vec!["site".to_string()]);
    }

    #[test]
    fn chrome_is_pruned_and_content_is_kept() {
        let strict = PASSES[0];
        assert_eq!(
            junk_reason(first("<nav>x</nav>", "nav"), strict),
            Some("tag")
        );
        assert_eq!(
            junk_reason(first("<div role=navigation>x</div>", "div"), strict),
            Some("role")
        );
        assert_eq!(
            junk_reason(first("<div hidden>x</div>", "div"), strict),
            Some("hidden")
        );
        // A collapsed accordion panel is the article's, one click away;
        // a region hidden from assistive technology is not.
        for panel in [
            r#"<div role=region hidden>x</div>"#,
            r#"<div role="Region " style="display: none">x</div>"#,
        ] {
            assert_eq!(junk_reason(first(panel, "div"), strict), None, "{panel}");
        }
        assert_eq!(
            junk_reason(
                first(r#"<div role=region aria-hidden=true>x</div>"#, "div"),
                strict
            ),
            Some("hidden")
        );
        // React's streamed segments, numbered in hexadecimal.
        for segment in ["S:0", "S:a", "S:1f"] {
            let html = format!(r#"<div hidden id="{segment}">x</div>"#);
            assert_eq!(junk_reason(first(&html, "div"), strict), None, "{segment}");
        }
        for not_segment in ["S:", "S:g", "s:1", "S:1 x"] {
            let html = format!(r#"<div hidden id="{not_segment}">x</div>"#);
            assert_eq!(
                junk_reason(first(&html, "div"), strict),
                Some("hidden"),
                "{not_segment}"
            );
        }
        assert_eq!(
            junk_reason(
                first("<div class=\"comment-content\">x</div>", "div"),
                strict
            ),
            Some("comments")
        );
        assert_eq!(
            junk_reason(first("<div class=\"sidebar\">x</div>", "div"), strict),
            Some("class")
        );
        assert_eq!(
            junk_reason(first("<div class=\"sidebar\">x</div>", "div"), PASSES[1]),
            None,
            "relaxed pass"
        );
        assert_eq!(
            junk_reason(
                first("<div class=\"related-content\">x</div>", "div"),
                strict
            ),
            None,
            "content-like name wins"
        );
        assert_eq!(
            junk_reason(
                first(
                    "<div class=\"share\" itemprop=\"articleBody\">x</div>",
                    "div"
                ),
                strict
            ),
            None
        );
    }

    #[test]
    fn marked_content_protects_its_ancestors() {
        let doc = Dom::parse(
            "<div class=\"widget Blog\"><div class=\"post-body\"><p>text</p></div></div><div class=\"widget\">w</div>",
        );
        let removed = prune_junk(&doc, &Classes::of(&doc), &IdSet::default(), PASSES[0]);
        let divs: Vec<_> = crate::extract::dom::all_named(&doc, "div")
            .map(|d| d.id())
            .collect();
        assert!(!removed.contains(&divs[0]), "ancestor of post-body kept");
        assert!(removed.contains(&divs[2]), "plain widget pruned");
    }

    /// Round-ups (WCXB 0010, 4430) write each product's review in a
    /// `c-product-widget` between the article's own paragraphs; the word
    /// "widget" pruned them, and the page kept its intro only.
    #[test]
    fn a_chrome_named_block_of_prose_in_the_articles_flow_is_kept() {
        let long = "The range aced every test we threw at it, boiling water with impressive speed and keeping steady oven temperatures while it baked several batches evenly on every rack.";
        let short = "Sign up for our newsletter and get the best deals.";
        let linked = format!("<a href=/x>{long}</a>");
        let page = |parent_p: &str, inner: &str| {
            format!(
                r#"<div id=body class=feature>{parent_p}<div id=w class="c-product-widget"><div id=p class="c-product-widget__product">{inner}</div></div></div>"#
            )
        };
        let intro = format!("<p>{long}</p>");
        let two = format!("<p>{long}</p><p>{long}</p>");
        let pass = PASSES[0];
        // Between the article's paragraphs, two paragraphs of prose: kept,
        // with its own chrome-named parts.
        assert!(pruned_ids(&page(&intro, &two), pass).is_empty());
        // The same block where its parent holds no paragraph of its own
        // (a sidebar's widget): pruned.
        assert_eq!(pruned_ids(&page("", &two), pass), ["w", "p"]);
        // One paragraph of prose (a bio, a newsletter box), short ones, or
        // paragraphs of links: pruned.
        for inner in [
            format!("<p>{long}</p><p>{short}</p>"),
            format!("<p>{short}</p><p>{short}</p><p>{short}</p>"),
            format!("<p>{linked}</p><p>{linked}</p>"),
        ] {
            assert_eq!(
                pruned_ids(&page(&intro, &inner), pass),
                ["w", "p"],
                "{inner}"
            );
        }
        // Without class pruning nothing is pruned by its name anyway.
        assert!(pruned_ids(&page("", &two), PASSES[1]).is_empty());
    }
}

//! The extractor parses a page in one pass, the tokenizer making the
//! prefilter's decisions as it reads each tag (`tree::parse_stripped`). It
//! must build the tree that parsing the prefilter's output builds
//! (`tree::parse(&prefilter::strip(..))`): on every benchmark page, and on
//! tag soup made of what the prefilter acts on.

mod common;

use std::path::PathBuf;

use newsledger::extract::dom::Dom;
use newsledger::extract::{prefilter, tree};
use proptest::prelude::*;

/// The page's tree both ways, serialized.
fn both(page: &str) -> (String, String) {
    let folded = Dom::from_tree(tree::parse_stripped(page, prefilter::RAW_ELEMENTS))
        .to_html()
        .html();
    let stripped = prefilter::strip(page);
    let two_pass = Dom::from_tree(tree::parse(&stripped)).to_html().html();
    (folded, two_pass)
}

/// Where the two first differ, with some context, or `None`.
fn difference(page: &str) -> Option<String> {
    let (a, b) = both(page);
    if a == b {
        return None;
    }
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let cut = |s: &str, i: usize| {
        let mut i = i.min(s.len());
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let around = |s: &str| s[cut(s, at.saturating_sub(120))..cut(s, at + 120)].to_string();
    Some(format!(
        "one pass: {:?}\ntwo passes: {:?}",
        around(&a),
        around(&b)
    ))
}

#[test]
fn committed_pages_parse_the_same_in_one_pass() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/extractor-corpus");
    let files = common::html_files(&dir, 1);
    assert!(files.len() >= 5, "{} pages", files.len());
    for path in files {
        let bytes = common::read_page(&path);
        let page = newsledger::extract::decode(&bytes, None);
        assert_eq!(difference(&page), None, "{}", path.display());
    }
}

#[test]
fn benchmark_pages_parse_the_same_in_one_pass() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    let dirs = [
        root.join("wcxb-dev/html"),
        root.join("zyte-article-extraction/html"),
    ];
    if dirs.iter().any(|d| !d.is_dir()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "benchmark pages missing under {}",
            root.display()
        );
        eprintln!("no benchmark pages: skipped");
        return;
    }
    let mut pages = 0;
    for dir in &dirs {
        for path in common::html_files(dir, 1) {
            let bytes = common::read_page(&path);
            let page = newsledger::extract::decode(&bytes, None);
            assert_eq!(difference(&page), None, "{}", path.display());
            pages += 1;
        }
    }
    assert!(pages > 1_600, "{pages} pages");
}

/// Tag soup made of what the prefilter acts on: comments (next to CR LF),
/// skipped elements with their content, JSON-LD, asides that name an
/// author, attributes it keeps, drops or rewrites, `>` in quoted values,
/// raw-text elements and stray `<`.
fn soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "<div class=\"k\" data-x='{\"a\":\">\"}' onclick=\"go()\">",
        "</div>",
        "<p>",
        "</p>",
        "<span style=\"display: none\">",
        "<span style=\"color:red\" id=s>",
        "</span>",
        "<a href=\"/x?a=1&amp;b=2\" rel=author>",
        "</a>",
        "<img src=x.jpg srcset=\"a 1x\" alt=pic>",
        "<br/>",
        "<h1>",
        "</h1>",
        "<time datetime=\"2024-01-02\">",
        "</time>",
        "<script>var a = \"<p>x</p>\";</script>",
        "<script type=\"application/ld+json\">{\"headline\":\"H <b>\"}</script>",
        "<style>p{color:red}</style>",
        "<svg viewBox=\"0 0 1 1\"><path d=\"M0\"/></svg>",
        "<noscript><img src=t></noscript>",
        "<nav class=\"menu\" x-data=\"{ f: () => 1 }\"><a href=/a>A</a></nav>",
        "<aside><p>More</p></aside>",
        "<aside class=\"post-author\">By Jane Roe</aside>",
        "<title>T <b>x</b></title>",
        "<textarea>\n<p>t</p></textarea>",
        "<pre>\ncode</pre>",
        "<!-- c -->",
        "<!---->",
        "<!DOCTYPE html>",
        "word",
        " ",
        "\r",
        "\n",
        "\r\n",
        "&amp;",
        "&copy",
        // A `<` that starts no tag: with nothing but a dropped comment or
        // element between it and a letter, the prefilter's output would
        // read as a tag, which the page is not; the one pass reads the page.
        "< ",
        "</ >",
        "<table><tr><td>",
        "</table>",
        "<ul><li>",
    ]);
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::proptest_cases(512), ..ProptestConfig::default() })]

    #[test]
    fn tag_soup_parses_the_same_in_one_pass(page in soup()) {
        prop_assert_eq!(difference(&page), None, "{:?}", page);
    }

    /// Nesting past the prefilter's depth limit, closed and not.
    #[test]
    fn deep_nesting_parses_the_same_in_one_pass(
        depth in 250usize..270,
        closed in 0usize..270,
        tail in "(<p>|</p>|<!-- c -->|x|\r|\n){0,6}",
    ) {
        let page = format!(
            "{}<p>deep</p>{}{tail}",
            "<div>".repeat(depth),
            "</div>".repeat(closed.min(depth))
        );
        prop_assert_eq!(difference(&page), None);
    }
}

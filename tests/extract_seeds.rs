//! Pages built from every seed article (three different site layouts, full
//! chrome) extract to exactly their article text and metadata.

use newsledger::config::ExtractOverrides;
use newsledger::demo::site::{self, Chrome, SeedArticle};
use newsledger::extract::{self, Article};

fn extract_seed(a: &SeedArticle, visit: u64) -> Article {
    let url = format!("https://{}.example{}", a.key, a.path);
    let html = site::render(a, &url, &Chrome::visit(visit));
    extract::extract(&html, Some(&url), &ExtractOverrides::default())
}

fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) =
        (want.split("\n\n").collect(), got.split("\n\n").collect());
    for i in 0..w.len().max(g.len()) {
        if w.get(i) != g.get(i) {
            return format!(
                "paragraph {i}:\n want: {:?}\n  got: {:?}",
                w.get(i),
                g.get(i)
            );
        }
    }
    String::new()
}

#[test]
fn every_seed_page_extracts_to_its_article_text() {
    for a in site::seeds() {
        let got = extract_seed(&a, 0);
        // The extractor folds whitespace (no-break spaces included), as hashing does.
        let want = newsledger::diff::normalize_text(&a.expected_text());
        assert!(
            got.text == want,
            "{}: {}",
            a.key,
            first_difference(&want, &got.text)
        );
    }
}

#[test]
fn every_seed_page_gives_exact_metadata() {
    for a in site::seeds() {
        let got = extract_seed(&a, 0);
        let url = format!("https://{}.example{}", a.key, a.path);
        assert_eq!(got.title.as_deref(), Some(a.title.as_str()), "{}", a.key);
        // Without a byline the JSON-LD author is the publishing organization.
        assert_eq!(
            got.byline,
            a.byline.clone().or_else(|| Some(a.site.clone())),
            "{}",
            a.key
        );
        assert_eq!(
            got.published.as_deref(),
            Some(a.published.as_str()),
            "{}",
            a.key
        );
        assert_eq!(got.modified, a.modified, "{}", a.key);
        assert_eq!(got.language.as_deref(), Some(a.lang.as_str()), "{}", a.key);
        assert_eq!(
            got.canonical_url.as_deref(),
            Some(url.as_str()),
            "{}",
            a.key
        );
        assert_eq!(got.site_name.as_deref(), Some(a.site.as_str()), "{}", a.key);
        assert_eq!(
            got.description.as_deref(),
            Some(a.description.as_str()),
            "{}",
            a.key
        );
    }
}

#[test]
fn chrome_changes_do_not_change_the_extracted_text() {
    for a in site::seeds() {
        let texts: Vec<String> = (0..4).map(|v| extract_seed(&a, v).text).collect();
        assert!(
            texts.windows(2).all(|w| w[0] == w[1]),
            "{}: text varies with chrome",
            a.key
        );
    }
}

#[test]
fn captions_are_left_out_consistently() {
    for a in site::seeds() {
        let text = extract_seed(&a, 0).text;
        for b in &a.blocks {
            if let site::Block::Caption(c) = b {
                let leaked = text
                    .split("\n\n")
                    .any(|p| p.contains(c.as_str()) && p.len() < c.len() + 20);
                assert!(!leaked, "{}: caption {c:?} leaked into the text", a.key);
            }
        }
    }
}

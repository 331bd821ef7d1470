//! Extraction on a fixed sample of the WCXB development pages (every fifth
//! page, 2025–26 templates from many domains): body F1 of article pages
//! with the benchmark's rule and metadata accuracy per field, with floors
//! a regression must not cross. The data lives outside the repository
//! (`../shared/datasets/wcxb-dev`, or `$WCXB_DIR`); without it the test
//! says so and passes, except under CI, where it fails.
//!
//! The floors sit a little under the figures measured when they were set
//! (extract-eval --wcxb prints the whole set, per domain fold).

use std::path::PathBuf;

/// The scorer is the evaluation binary's (`extract-eval`), not the
/// library's: only the product ships.
#[allow(dead_code, reason = "the binary uses the rest")]
#[path = "../src/bin/extract-eval/eval.rs"]
mod eval;
#[allow(dead_code, reason = "the binary uses the rest")]
#[path = "../src/bin/extract-eval/wcxb.rs"]
mod wcxb;

#[test]
fn the_wcxb_sample_holds_its_floors() {
    let dir = std::env::var_os("WCXB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/wcxb-dev")
        });
    if !dir.join("ground-truth").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the WCXB dataset is missing at {}",
            dir.display()
        );
        eprintln!("no WCXB dataset at {}: skipped", dir.display());
        return;
    }
    let pages = wcxb::load(&dir).unwrap();
    let sample: Vec<&wcxb::Page> = pages.iter().step_by(5).collect();
    let scored: Vec<wcxb::Scored> = sample.iter().map(|p| wcxb::score(p)).collect();
    let all: Vec<&wcxb::Scored> = scored.iter().collect();
    let articles: Vec<&wcxb::Scored> = all
        .iter()
        .copied()
        .filter(|s| s.page_type == "article")
        .collect();
    let f1 = articles.iter().map(|s| s.f1).sum::<f64>() / articles.len() as f64;
    let (title, _) = wcxb::accuracy(&articles, |s| s.title);
    let (author, _) = wcxb::accuracy(&articles, |s| s.author);
    let (date, _) = wcxb::accuracy(&articles, |s| s.date);
    eprintln!(
        "WCXB sample: {} pages, {} articles: body F1 {f1:.3}, title {title:.3}, author {author:.3}, date {date:.3}",
        scored.len(),
        articles.len()
    );
    assert!(f1 >= FLOOR_F1, "article body F1 {f1:.3} < {FLOOR_F1}");
    assert!(
        title >= FLOOR_TITLE,
        "title accuracy {title:.3} < {FLOOR_TITLE}"
    );
    assert!(
        author >= FLOOR_AUTHOR,
        "author accuracy {author:.3} < {FLOOR_AUTHOR}"
    );
    assert!(date >= FLOOR_DATE, "date accuracy {date:.3} < {FLOOR_DATE}");
}

/// Measured 2026-12-06 (newsledger-extract/13): F1 0.956, title 0.824,
/// author 0.872, date 0.900 on 159 article pages of the sample (extract/11: author 0.864)
/// (extract/8: date 0.885; extract/5: date 0.869; extract/4: author 0.816, date 0.838; extract/3:
/// title 0.723, author 0.640, date 0.723). One page is 0.006 of an
/// accuracy here: each floor leaves two to three pages of margin.
const FLOOR_F1: f64 = 0.945;
const FLOOR_TITLE: f64 = 0.81;
const FLOOR_AUTHOR: f64 = 0.85;
const FLOOR_DATE: f64 = 0.885;

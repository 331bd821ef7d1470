//! `EXTRACTOR_VERSION` is enforced: the extraction output of a fixed corpus
//! (the seed pages, the bad-input corpus, and a sample of the public
//! benchmark pages) is digested and compared with the digest recorded for
//! the current version in `tests/extractor_digest.txt`. Changing what the
//! extractor outputs without bumping the version fails here, because an
//! unbumped change makes every upgraded ledger flag false edits.
//!
//! The benchmark pages live outside the repository (`../shared/datasets`);
//! without them the digest covers only the committed pages, and the test
//! says so (under CI, where they must be present, it fails).

mod common;

use std::path::PathBuf;

use newsledger::config::ExtractOverrides;
use newsledger::extract::{self, EXTRACTOR_VERSION};
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn extraction_output_matches_the_digest_recorded_for_this_version() {
    // NEWSLEDGER_DATASETS names another datasets directory (a missing one
    // gives the "committed" digest, to record beside the "full" one).
    let shared = std::env::var_os("NEWSLEDGER_DATASETS")
        .map_or_else(|| root().join("../shared/datasets"), PathBuf::from);
    let mut pages = common::html_files(&root().join("tests/fixtures/extractor-corpus"), 1);
    pages.extend(common::html_files(&root().join("tests/corpus"), 1));
    // Every 3rd Zyte page and every 15th WCXB page (160 pages, about half a
    // second): at every 75th, two metadata changes of extract/5 left the
    // digest unchanged because no sampled page showed them.
    let benchmark = [
        (shared.join("zyte-article-extraction/html"), 3),
        (shared.join("wcxb-dev/html"), 15),
    ];
    let mut have_benchmark = true;
    for (dir, every) in &benchmark {
        let found = common::html_files(dir, *every);
        have_benchmark &= !found.is_empty();
        pages.extend(found);
    }
    if !have_benchmark {
        assert!(
            std::env::var_os("CI").is_none() || std::env::var_os("NEWSLEDGER_DATASETS").is_some(),
            "the benchmark datasets are missing under {}",
            shared.display()
        );
        eprintln!(
            "no benchmark pages under {}: digest of the committed pages only",
            shared.display()
        );
    }
    let overrides = ExtractOverrides::default();
    let mut hasher = Sha256::new();
    for p in &pages {
        let bytes = common::read_page(p);
        let html = extract::decode(&bytes, None);
        let article =
            extract::extract(&html, Some("https://news.example/2026/11/page"), &overrides);
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(serde_json::to_vec(&article).unwrap());
        hasher.update([0]);
    }
    let digest = hex::encode(hasher.finalize());
    let scope = if have_benchmark { "full" } else { "committed" };
    let line = format!("{EXTRACTOR_VERSION} {scope} {digest}");

    let recorded = std::fs::read_to_string(root().join("tests/extractor_digest.txt")).unwrap();
    let same_version: Vec<&str> = recorded
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split_whitespace().next() == Some(EXTRACTOR_VERSION))
        .filter(|l| l.split_whitespace().nth(1) == Some(scope))
        .collect();
    assert!(
        !same_version.is_empty(),
        "no digest recorded for {EXTRACTOR_VERSION} ({scope} corpus of {} pages): add this line to tests/extractor_digest.txt:\n{line}",
        pages.len()
    );
    assert!(
        same_version
            .iter()
            .any(|l| l.split_whitespace().nth(2) == Some(digest.as_str())),
        "the extractor's output changed but EXTRACTOR_VERSION is still {EXTRACTOR_VERSION}.\n\
         Bump EXTRACTOR_VERSION in src/extract/mod.rs (upgraded ledgers then re-baseline instead of \
         flagging false edits) and record the new digest lines in tests/extractor_digest.txt:\n{line}"
    );
}

#[test]
fn overrides_are_part_of_the_version() {
    let plain = extract::version_with(&ExtractOverrides::default());
    assert_eq!(plain, EXTRACTOR_VERSION);
    let a = extract::version_with(&ExtractOverrides {
        content_selector: Some("article".into()),
        ignore_selectors: vec![],
    });
    let b = extract::version_with(&ExtractOverrides {
        content_selector: Some("article".into()),
        ignore_selectors: vec![".related".into()],
    });
    assert!(
        a.starts_with(EXTRACTOR_VERSION) && a != plain && a != b,
        "{a} {b}"
    );
}

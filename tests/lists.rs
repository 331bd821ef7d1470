//! Lists that page, checked against their source: random histories of a
//! few articles (edits, reversions to an earlier text, 404s and returns,
//! failures) from two sources are applied by the real writer to a real
//! SQLite file; then every page of `articles` and `changes`, with every
//! filter and several page sizes, must be exactly the list the articles'
//! own folds give (each article replayed from its chained entries), in the
//! same order, with the same totals. The lists are proposed by the chain's
//! indexes (migration 12); this holds them to the fold.

mod common;

use std::collections::HashMap;

use chrono::Utc;
use common::response;
use newsledger::config::{ExtractOverrides, KeepRaw};
use newsledger::diff::significance::Level;
use newsledger::fetch::{FetchError, FetchResult};
use newsledger::ledger::lists::{self, ArticleQuery, ChangeQuery};
use newsledger::ledger::read::{self, ArticleListRow, ChangeRow};
use newsledger::ledger::writer::{FetchReport, Writer};
use newsledger::ledger::{self, verify};
use proptest::prelude::*;

const TEXTS: [&str; 4] = [
    "The council approved the harbour plan after a long debate on Tuesday evening.",
    "The council approved the harbour plan, after a long debate on Tuesday evening.",
    "The council postponed its vote on the harbour plan until 2027.",
    "Correction: the council approved an amended harbour plan, not the original one.",
];

#[derive(Debug, Clone, Copy)]
enum Step {
    Serve(u8),
    NotFound,
    ServerError,
    NetworkError,
}

fn step() -> impl Strategy<Value = (usize, Step)> {
    (
        0usize..4,
        prop_oneof![
            6 => (0u8..4).prop_map(Step::Serve),
            2 => Just(Step::NotFound),
            1 => Just(Step::ServerError),
            1 => Just(Step::NetworkError),
        ],
    )
}

fn url(i: usize) -> String {
    format!("http://127.0.0.1:9/2026/12/article-{i}/")
}

/// Articles 0 and 1 belong to desk-a, 2 and 3 to desk-b.
fn source(i: usize) -> &'static str {
    if i < 2 { "desk-a" } else { "desk-b" }
}

fn page(i: usize, text: u8) -> String {
    let filler = "Residents of the old town followed the session from the gallery, and several \
                  speakers asked for more time to study the costs of dredging the inner basin.";
    format!(
        r#"<!doctype html><html><head><title>Harbour plan {i} | Coast Gazette</title></head>
<body><article><h1>Harbour plan {i}</h1><p class="byline">By Ana Ruiz</p>
<p>{}</p><p>{filler}</p><p>{filler} The mayor said the city would publish the figures.</p>
</article></body></html>"#,
        TEXTS[text as usize]
    )
}

fn report(i: usize, step: Step) -> FetchReport {
    let now = Utc::now();
    let overrides = ExtractOverrides::default();
    let u = url(i);
    let (resp, article) = match step {
        Step::Serve(text) => {
            let html = page(i, text);
            let a = newsledger::extract::extract(&html, Some(&u), &overrides);
            (Ok(response(200, &html)), Some(a))
        }
        Step::NotFound => (Ok(response(404, "<h1>Not found</h1>")), None),
        Step::ServerError => (Ok(response(503, "busy")), None),
        Step::NetworkError => (
            Err(FetchError {
                class: "connect",
                message: "connection refused".into(),
            }),
            None,
        ),
    };
    FetchReport {
        source: source(i).into(),
        keep_raw: KeepRaw::Revisions,
        result: FetchResult {
            requested_url: u.clone(),
            final_url: u,
            started_at: now,
            finished_at: now,
            response: resp,
            retries: vec![],
        },
        article,
        skipped: None,
        overrides,
        prepared: Default::default(),
        vantage: None,
    }
}

/// Every page of a list, `size` rows at a time, and the totals each page
/// gave.
fn all_pages<T>(
    size: usize,
    mut page: impl FnMut(usize) -> lists::Listed<T>,
) -> (Vec<T>, Vec<Option<usize>>) {
    let mut rows = Vec::new();
    let mut totals = Vec::new();
    loop {
        let p = page(rows.len());
        let (n, more) = (p.rows.len(), p.more);
        totals.push(p.total);
        rows.extend(p.rows);
        assert!(n <= size, "a page holds at most its size");
        if !more {
            return (rows, totals);
        }
        assert_eq!(n, size, "a page before the last is full");
    }
}

fn key(r: &ArticleListRow) -> (String, String, String, i64, i64, String) {
    (
        r.url.clone(),
        r.source.clone(),
        r.status.clone(),
        r.revision,
        r.revisions,
        r.last_seen.clone(),
    )
}

fn change_key(c: &ChangeRow) -> (i64, String, String, Option<i64>, Option<i64>) {
    (
        c.seq,
        c.kind.clone(),
        c.url.clone(),
        c.from_revision,
        c.to_revision,
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24),
        max_shrink_iters: 100,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_page_is_what_the_folds_give(
        steps in prop::collection::vec(step(), 1..40),
        size in 1usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let mut writer = Writer::open(&path).unwrap();
        for (i, s) in &steps {
            writer.apply(&report(*i, *s)).unwrap();
        }
        drop(writer);
        let conn = ledger::open_read_only(&path).unwrap();
        let v = verify::verify(&conn, None).unwrap();
        prop_assert!(v.ok(), "verify: {:?} {:?}", v.first_break, v.anomalies);

        // The reference: each article replayed from its own entries.
        let mut records = Vec::new();
        for i in 0..4 {
            if let Some(u) = read::resolve_article(&conn, &url(i)).unwrap() {
                records.push(read::article(&conn, &u).unwrap());
            }
        }
        let latest = |r: &read::ArticleRecord| {
            r.revision_numbers()
                .into_iter()
                .filter_map(|n| r.revision_row(n).map(|row| row.seq))
                .max()
                .unwrap_or(0)
        };
        let mut expected: Vec<(i64, ArticleListRow)> = records
            .iter()
            .map(|r| (latest(r), r.list_row().unwrap()))
            .collect();
        expected.sort_by_key(|e| std::cmp::Reverse(e.0));
        let expected: Vec<ArticleListRow> = expected.into_iter().map(|(_, r)| r).collect();

        for status in [None, Some("changed"), Some("unchanged"), Some("gone")] {
            for src in [None, Some("desk-a"), Some("desk-b")] {
                let q = ArticleQuery { source: src, status };
                let (got, totals) = all_pages(size, |offset| {
                    lists::articles_page(&conn, q, offset, size).unwrap()
                });
                let want: Vec<_> = expected
                    .iter()
                    .filter(|r| status.is_none_or(|s| r.status == s))
                    .filter(|r| src.is_none_or(|s| r.source == s))
                    .map(key)
                    .collect();
                let got: Vec<_> = got.iter().map(key).collect();
                prop_assert_eq!(&got, &want, "articles {:?} {:?}", status, src);
                prop_assert!(totals.iter().all(|t| *t == Some(want.len())));
            }
        }

        // Changes: every event of every article, newest first (a fetch that
        // both restores and reverts a page: restored first).
        let mut events: Vec<ChangeRow> = records.iter().flat_map(|r| r.events()).collect();
        events.sort_by(|a, b| b.seq.cmp(&a.seq).then(a.kind.cmp(&b.kind)));
        let sources: HashMap<String, String> =
            expected.iter().map(|r| (r.url.clone(), r.source.clone())).collect();
        let all_kinds = ["new", "changed", "metadata", "reverted", "gone", "restored"];
        let since = events.get(events.len() / 2).map(|e| e.detected_at.clone());
        let kind_sets: [&[&str]; 4] = [&[], &["changed"], &["gone", "restored", "reverted"], &all_kinds];
        for kinds in kind_sets {
            for src in [None, Some("desk-b")] {
                for since in [None, since.as_deref()] {
                    for min in [None, Some(Level::Substantive)] {
                        let q = ChangeQuery { since, kinds, source: src, significance: min };
                        let (got, totals) = all_pages(size, |offset| {
                            lists::changes_page(&conn, q, offset, size).unwrap()
                        });
                        let want: Vec<_> = events
                            .iter()
                            .filter(|e| kinds.is_empty() || kinds.contains(&e.kind.as_str()))
                            .filter(|e| src.is_none_or(|s| sources.get(&e.url).map(String::as_str) == Some(s)))
                            .filter(|e| since.is_none_or(|s| e.detected_at.as_str() >= s))
                            .map(change_key)
                            .collect();
                        let got_rows: Vec<_> = got.iter().map(|v| change_key(&v.row)).collect();
                        if min.is_none() {
                            prop_assert_eq!(&got_rows, &want, "changes {:?} {:?} {:?}", kinds, src, since);
                            if kinds.is_empty() && src.is_none() {
                                prop_assert!(totals.iter().all(|t| *t == Some(want.len())), "totals {:?}", totals);
                            }
                        } else {
                            // The substantive ones, in the same order.
                            let substantive: Vec<_> = got
                                .iter()
                                .filter(|v| v.significance.as_ref().is_some_and(|s| s.level >= Level::Substantive))
                                .map(|v| change_key(&v.row))
                                .collect();
                            prop_assert_eq!(&got_rows, &substantive);
                            let subset = want.iter().filter(|w| got_rows.contains(w)).count();
                            prop_assert_eq!(subset, got_rows.len());
                        }
                    }
                }
            }
        }
        // The counts per source are the articles' folds'.
        let counts = lists::articles_by_source(&conn).unwrap();
        for s in ["desk-a", "desk-b"] {
            let n = expected.iter().filter(|r| r.source == s).count() as i64;
            prop_assert_eq!(counts.get(s).copied().unwrap_or(0), n);
        }
    }
}

/// Lists read a ledger older than the indexes they use (opened read-only,
/// never migrated): the same rows, from scans.
#[test]
fn a_ledger_without_the_list_indexes_lists_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut writer = Writer::open(&path).unwrap();
    for (i, s) in [
        (0, Step::Serve(0)),
        (1, Step::Serve(0)),
        (0, Step::Serve(2)),
        (1, Step::NotFound),
        (1, Step::Serve(0)),
        (0, Step::Serve(0)),
    ] {
        writer.apply(&report(i, s)).unwrap();
    }
    drop(writer);
    let listed = |path: &std::path::Path| {
        let conn = ledger::open_read_only(path).unwrap();
        let a = lists::articles_page(&conn, ArticleQuery::default(), 0, 10).unwrap();
        let c = lists::changes_page(&conn, ChangeQuery::default(), 0, 10).unwrap();
        let by = lists::articles_by_source(&conn).unwrap();
        let mut by: Vec<_> = by.into_iter().collect();
        by.sort();
        (
            a.rows.iter().map(key).collect::<Vec<_>>(),
            c.rows
                .iter()
                .map(|v| change_key(&v.row))
                .collect::<Vec<_>>(),
            c.total,
            by,
        )
    };
    let with = listed(&path);
    assert_eq!(
        with.1.len(),
        6,
        "new ×2, changed, gone, restored, reverted: {:?}",
        with.1
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP INDEX ledger_events; DROP INDEX ledger_gone; DROP INDEX ledger_revision_source;",
    )
    .unwrap();
    drop(conn);
    assert_eq!(listed(&path), with);
}

/// `history` pages the timeline from the newest span, each page in the
/// order the spans happened; the pages together are the whole timeline.
#[tokio::test]
async fn history_pages_from_the_newest_span() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut writer = Writer::open(&path).unwrap();
    for text in [0, 2, 3, 0, 2] {
        writer.apply(&report(0, Step::Serve(text))).unwrap();
    }
    writer.apply(&report(0, Step::NotFound)).unwrap();
    drop(writer);
    let conn = ledger::open_read_only(&path).unwrap();
    let spans: Vec<String> = read::article(&conn, &url(0))
        .unwrap()
        .history()
        .iter()
        .map(|h| format!("{} ", h.kind))
        .collect();
    assert_eq!(spans.len(), 6, "{spans:?}");
    let db = path.to_str().unwrap();
    let mut pages = Vec::new();
    for offset in ["0", "4"] {
        let mut out = Vec::new();
        let (code, err) = newsledger::cli::run_in_process(
            &[
                "--db",
                db,
                "history",
                &url(0),
                "--limit",
                "4",
                "--offset",
                offset,
            ],
            &mut out,
        )
        .await;
        assert_eq!(code, 0, "{err}");
        pages.push(String::from_utf8(out).unwrap());
    }
    assert!(
        pages[0].contains("1 to 4 of 6; the next page: --offset 4"),
        "{}",
        pages[0]
    );
    assert!(!pages[1].contains("next page"), "{}", pages[1]);
    // Older page first, then the newer: every span once, in order.
    let both = format!("{}{}", pages[1], pages[0]);
    let kinds: Vec<&str> = both
        .lines()
        .filter(|l| !l.contains("the next page"))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.next()?.parse::<i64>().ok()?;
            words.next()
        })
        .collect();
    let want: Vec<&str> = spans.iter().map(|s| s.trim()).collect();
    assert_eq!(kinds, want, "{both}");
}

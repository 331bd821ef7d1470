//! The cycle's frontier (issue 37, part 0) against the whole-list model:
//! the work a cycle takes a batch at a time, from a real ledger the writer
//! filled, must be exactly what reading the whole watch list at once and
//! applying the revisit ladder to every row gives (the cycle's way before
//! batches): every due URL once, every configured URL once, the watched
//! copies of configured URLs not again, the retired ones retired, each
//! with its own validators, and no batch larger than asked. A resumed
//! cycle takes only what was not fetched since it started.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::response;
use newsledger::config::{Config, ExtractOverrides, KeepRaw, Source};
use newsledger::exchange::FetchResult;
use newsledger::ledger::writer::{FetchReport, Writer};
use newsledger::service::frontier::Frontier;
use proptest::prelude::*;

const HOSTS: [&str; 3] = [
    "http://127.0.0.1:9",
    "http://127.0.0.2:9",
    "http://127.0.0.3:9",
];

fn url(i: usize) -> String {
    format!("{}/news/{i}/", HOSTS[i % HOSTS.len()])
}

fn source(db: &Path, configured: &[String]) -> Arc<Source> {
    let list: Vec<String> = configured.iter().map(|u| format!("\"{u}\"")).collect();
    let toml = format!(
        "[ledger]\npath = \"{}\"\n[[source]]\nname = \"s\"\nschedule = \"0 0 1 1 *\"\nsitemaps = [\"http://127.0.0.1:9/sitemap.xml\"]\nurls = [{}]\n",
        db.display(),
        list.join(", ")
    );
    let cfg = Config::parse(&toml, Path::new("frontier.toml")).unwrap();
    cfg.sources.into_iter().next().unwrap()
}

fn report(u: &str, body: &str, etag: &str) -> FetchReport {
    let now = Utc::now();
    let overrides = ExtractOverrides::default();
    let html = format!(
        "<!doctype html><html><head><title>Item {u}</title></head><body><article><h1>Item</h1>\
         <p>{body} The council met on Tuesday to discuss the harbour plan and its costs, \
         and residents followed the session from the gallery until late in the evening.</p>\
         <p>The mayor said the city would publish the figures before the next session.</p>\
         </article></body></html>"
    );
    let article = newsledger::extract::extract(&html, Some(u), &overrides);
    let mut resp = response(200, &html);
    resp.headers.push(("etag".into(), etag.into()));
    FetchReport {
        source: "s".into(),
        keep_raw: KeepRaw::Revisions,
        result: FetchResult {
            requested_url: u.to_string(),
            final_url: u.to_string(),
            started_at: now,
            finished_at: now,
            response: Ok(resp),
            retries: vec![],
        },
        article: Some(article),
        skipped: None,
        overrides,
        prepared: Default::default(),
        vantage: None,
    }
}

/// What the ledger says of one watched URL, read whole (the model).
struct Row {
    url: String,
    discovered_at: String,
    last_fetch_at: Option<String>,
    changed_at: Option<String>,
}

fn whole_watch_list(db: &Path) -> Vec<Row> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT w.url, w.discovered_at, f.last_fetch_at,
                    (SELECT MAX(r.first_seen) FROM revisions r WHERE r.url = f.article_url AND r.revision > 1)
             FROM watchlist w LEFT JOIN fetch_state f ON f.url = w.url
             WHERE w.source = 's' AND w.retired_at IS NULL ORDER BY w.rowid",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Row {
            url: r.get(0)?,
            discovered_at: r.get(1)?,
            last_fetch_at: r.get(2)?,
            changed_at: r.get(3)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn ago(now: DateTime<Utc>, t: Option<&str>) -> Option<std::time::Duration> {
    t.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (now - t.with_timezone(&Utc)).to_std().unwrap_or_default())
}

/// A URL taken, its ETag, and whether it was watched (not configured).
type Taken = (String, Option<String>, bool);

/// Every batch of the frontier: the URLs in order with their ETags, the
/// retired, and the largest batch.
fn drain(mut f: Frontier) -> (Vec<Taken>, Vec<String>, usize) {
    let (mut work, mut retired, mut largest) = (Vec::new(), Vec::new(), 0);
    for _ in 0..10_000 {
        let b = f.next_batch().unwrap();
        if b.work.is_empty() && b.retire.is_empty() && f.is_done() {
            return (work, retired, largest);
        }
        largest = largest.max(b.work.len());
        work.extend(
            b.work
                .into_iter()
                .map(|w| (w.url, w.conditional.etag, w.watched)),
        );
        retired.extend(b.retire);
    }
    panic!("the frontier never ended");
}

/// One generated ledger: `n` watched URLs discovered at the given ages
/// (minutes), those marked fetched once (and some edited, a second
/// revision), and `configured` of them also written in the configuration.
#[derive(Debug, Clone)]
struct Case {
    ages_min: Vec<u32>,
    fetched: Vec<bool>,
    edited: Vec<bool>,
    configured: Vec<bool>,
    later_min: u32,
    batch: usize,
}

fn cases() -> impl Strategy<Value = Case> {
    (0usize..24).prop_flat_map(|n| {
        (
            proptest::collection::vec(
                prop_oneof![0u32..60, 300u32..500, 1_400u32..4_000, 40_000u32..200_000],
                n,
            ),
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(prop::bool::weighted(0.2), n),
            prop_oneof![Just(0u32), 1u32..90, 300u32..2_000],
            1usize..6,
        )
            .prop_map(
                |(ages_min, fetched, edited, configured, later_min, batch)| Case {
                    ages_min,
                    fetched,
                    edited,
                    configured,
                    later_min,
                    batch,
                },
            )
    })
}

fn build(dir: &Path, case: &Case) -> (std::path::PathBuf, Vec<String>, DateTime<Utc>) {
    let db = dir.join("l.db");
    let mut writer = Writer::open(&db).unwrap();
    let t0 = Utc::now();
    let n = case.ages_min.len();
    for i in 0..n {
        let found = [(url(i), "http://127.0.0.1:9/sitemap.xml".to_string(), None)];
        let at = t0 - Duration::minutes(i64::from(case.ages_min[i]));
        assert_eq!(writer.add_watch("s", &found, 10, at).unwrap(), 1);
    }
    for i in (0..n).filter(|i| case.fetched[*i]) {
        writer
            .apply(&report(&url(i), "First version.", &format!("\"e{i}\"")))
            .unwrap();
        if case.edited[i] {
            writer
                .apply(&report(&url(i), "Second version.", &format!("\"f{i}\"")))
                .unwrap();
        }
    }
    let configured: Vec<String> = (0..n).filter(|i| case.configured[*i]).map(url).collect();
    (db, configured, t0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24)
    ))]

    #[test]
    fn batches_take_what_the_whole_list_gives(case in cases()) {
        let dir = tempfile::tempdir().unwrap();
        let (db, configured, t0) = build(dir.path(), &case);
        // Each configured URL listed twice: fetched once all the same.
        let src = source(&db, &[configured.clone(), configured.clone()].concat());
        let now = t0 + Duration::minutes(i64::from(case.later_min));
        let (work, retired, largest) = drain(Frontier::new(
            db.clone(),
            src.clone(),
            now,
            None,
            case.batch,
        ));
        prop_assert!(largest <= case.batch, "a batch of {largest} for batches of {}", case.batch);

        // The model: the whole live watch list, each row through the ladder.
        let mut due = BTreeSet::new();
        let mut retire = BTreeSet::new();
        for r in whole_watch_list(&db) {
            if configured.contains(&r.url) {
                continue;
            }
            let age = ago(now, Some(&r.discovered_at)).unwrap_or_default();
            let (f, c) = (ago(now, r.last_fetch_at.as_deref()), ago(now, r.changed_at.as_deref()));
            if src.ladder.due(age, f, c) {
                due.insert(r.url);
            } else if src.ladder.retired(age, f, c) {
                retire.insert(r.url);
            }
        }
        let taken: Vec<&String> = work.iter().map(|w| &w.0).collect();
        let unique: BTreeSet<&String> = taken.iter().copied().collect();
        prop_assert_eq!(unique.len(), taken.len(), "a URL taken twice: {:?}", taken);
        let want: BTreeSet<String> = configured.iter().cloned().chain(due).collect();
        let got: BTreeSet<String> = taken.iter().map(|u| u.to_string()).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(retired.iter().cloned().collect::<BTreeSet<_>>(), retire);
        // Each URL with its own validators; watched ones guarded again.
        let etags: BTreeMap<String, String> = whole_etags(&db);
        for (u, etag, watched) in &work {
            prop_assert_eq!(etag.as_ref(), etags.get(u), "{}", u);
            prop_assert_eq!(*watched, !configured.contains(u));
        }
    }

    #[test]
    fn a_resumed_cycle_takes_what_was_not_fetched_since_it_started(
        n in 1usize..16,
        split in 0usize..16,
        batch in 1usize..5,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("l.db");
        let mut writer = Writer::open(&db).unwrap();
        let t0 = Utc::now();
        for i in 0..n {
            let found = [(url(i), "http://127.0.0.1:9/sitemap.xml".to_string(), None)];
            writer.add_watch("s", &found, 10, t0 - Duration::minutes(5)).unwrap();
        }
        let split = split.min(n);
        for i in 0..split {
            writer.apply(&report(&url(i), "Before.", "\"a\"")).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let started = newsledger::ledger::timestamp(Utc::now());
        std::thread::sleep(std::time::Duration::from_millis(20));
        // The interrupted cycle fetched every other URL after it started.
        let after: BTreeSet<String> = (0..n).filter(|i| i % 2 == 0).map(url).collect();
        for u in &after {
            writer.apply(&report(u, "After.", "\"b\"")).unwrap();
        }
        drop(writer);
        let src = source(&db, &[]);
        let (work, retired, _) = drain(Frontier::new(
            db.clone(),
            src,
            Utc::now(),
            Some(started),
            batch,
        ));
        let got: BTreeSet<String> = work.into_iter().map(|w| w.0).collect();
        let want: BTreeSet<String> = (0..n).map(url).filter(|u| !after.contains(u)).collect();
        prop_assert_eq!(got, want);
        prop_assert!(retired.is_empty(), "a resumed cycle retires nothing");
    }
}

fn whole_etags(db: &Path) -> BTreeMap<String, String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT url, etag FROM fetch_state WHERE etag IS NOT NULL")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The watch list is read by its live index, a page after the last row:
/// no page scans the whole table (SQLite's plan names the index).
#[test]
fn the_watch_list_is_paged_by_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    drop(Writer::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let plan: Vec<String> = conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            newsledger::service::frontier::WATCHED_PAGE
        ))
        .unwrap()
        .query_map(rusqlite::params!["s", 0, 100, 10], |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let first = plan.first().cloned().unwrap_or_default();
    assert!(
        first.contains("watchlist_live") && !plan.iter().any(|p| p.contains("TEMP B-TREE")),
        "{plan:#?}"
    );
}

/// A sitemap per host fills the watch list one host after another; a
/// batch still holds many hosts (which fetch side by side), not a run of
/// one host's URLs that would wait on its politeness one by one.
#[test]
fn a_batch_holds_many_hosts_when_discovery_listed_them_one_after_another() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let mut writer = Writer::open(&db).unwrap();
    let t0 = Utc::now();
    for h in 1..=8 {
        let found: Vec<(String, String, Option<String>)> = (0..50)
            .map(|i| {
                (
                    format!("http://127.0.0.{h}:9/a/{i}/"),
                    format!("http://127.0.0.{h}:9/sitemap.xml"),
                    None,
                )
            })
            .collect();
        writer.add_watch("s", &found, 1000, t0).unwrap();
    }
    drop(writer);
    let mut f = Frontier::new(db.clone(), source(&db, &[]), t0, None, 16);
    let first = f.next_batch().unwrap();
    assert_eq!(first.work.len(), 16);
    let hosts: BTreeSet<String> = first
        .work
        .iter()
        .map(|w| newsledger::fetch::host_key_of(&w.url))
        .collect();
    assert_eq!(
        hosts.len(),
        8,
        "one batch: {:?}",
        first.work.iter().map(|w| &w.url).collect::<Vec<_>>()
    );
    let (work, _, largest) = drain(f);
    assert_eq!(work.len() + 16, 400);
    assert!(largest <= 16);
}

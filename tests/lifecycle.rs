//! The life of watched articles through `once` cycles against a real HTTP
//! server: new, unchanged, 304, a quiet edit, a chrome-only change, a removal.

mod common;

use common::{Setup, seed, stderr, stdout};
use newsledger::demo::site::{Block, NORDIC_ADDED_PARAGRAPH};
use serde_json::Value;

/// (seq, article URL, outcome) of every fetch entry, compact ones read
/// through their JSON view and the URL of the full entry they repeat.
fn outcomes(db: &std::path::Path) -> Vec<(i64, String, String)> {
    use newsledger::ledger::Entry;
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {} FROM ledger WHERE kind = 'fetch' ORDER BY seq",
            Entry::COLUMNS
        ))
        .unwrap();
    let entries: Vec<Entry> = stmt
        .query_map([], Entry::from_row)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let url_of = |seq: i64| {
        entries
            .iter()
            .find(|e| e.seq == seq)
            .and_then(|e| e.url.clone())
    };
    entries
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.payload).unwrap();
            let url = e
                .url
                .clone()
                .or_else(|| e.compact.as_ref().and_then(|c| url_of(c.0)));
            (
                e.seq,
                url.unwrap(),
                v["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn count_kind(db: &std::path::Path, kind: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT COUNT(*) FROM ledger WHERE kind = ?1", [kind], |r| {
        r.get(0)
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_lifecycle_is_recorded_and_flagged() {
    let s = Setup::new().await;
    let nordic = seed("nordic-monitor");
    let portal = seed("hurriyet-daily-news");
    let wp = seed("ycpress");
    s.publish(&nordic, 0);
    s.publish(&portal, 0);
    s.publish(&wp, 0);
    // The Nordic page answers without an ETag: its refetch is a full 200.
    let nordic_url = s.server.url(&nordic.path);
    let page = common::server::Page::html(newsledger::demo::site::render(
        &nordic,
        &nordic_url,
        &newsledger::demo::site::Chrome::visit(0),
    ))
    .without_etag();
    s.server.set(&nordic.path, page);
    s.write_config("0 */15 * * * *", &[&nordic.path, &portal.path, &wp.path]);

    // Cycle 1: three new articles, revision 1 each.
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "test-news: 3 new");
    assert_eq!(count_kind(&s.db, "revision"), 3);
    let history = s.json(&["history", &nordic_url, "--json"]).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["revision"], 1);

    // Cycle 2: nothing changed. Nordic refetched in full → unchanged; the
    // others answer 304 to the conditional request → not_modified.
    let out = s.cli(&["once"]).await;
    assert_eq!(
        stdout(&out).trim(),
        "test-news: 1 unchanged, 2 not_modified"
    );
    assert_eq!(
        count_kind(&s.db, "revision"),
        3,
        "no revision for an unchanged page"
    );
    let conditional = s
        .server
        .hits()
        .iter()
        .filter(|h| h.header("if-none-match").is_some())
        .count();
    assert_eq!(conditional, 2, "the ETag of the last fetch is sent back");

    // Cycle 3: a quiet edit of Nordic; chrome-only change on YCPress.
    let mut edited = nordic.clone();
    edited
        .blocks
        .push(Block::Paragraph(NORDIC_ADDED_PARAGRAPH.into()));
    let page = common::server::Page::html(newsledger::demo::site::render(
        &edited,
        &nordic_url,
        &newsledger::demo::site::Chrome::visit(0),
    ))
    .without_etag();
    s.server.set(&nordic.path, page);
    s.publish(&wp, 5);
    let out = s.cli(&["once"]).await;
    assert!(
        stderr(&out).contains("article changed"),
        "WARN line expected: {}",
        stderr(&out)
    );
    assert_eq!(
        stdout(&out).trim(),
        "test-news: 1 unchanged, 1 changed, 1 not_modified"
    );
    let history = s.json(&["history", &nordic_url, "--json"]).await;
    let h = history.as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[1]["revision"], 2);
    assert_eq!(h[1]["words_added"], 27);
    assert_eq!(h[1]["words_removed"], 0);
    let wp_history = s
        .json(&["history", &s.server.url(&wp.path), "--json"])
        .await;
    assert_eq!(
        wp_history.as_array().unwrap().len(),
        1,
        "chrome-only change made a revision"
    );

    let diff = s.cli(&["diff", &nordic_url, "--color", "never"]).await;
    let diff = stdout(&diff);
    assert!(
        diff.contains(&format!("since 2009.\n\n{{+{NORDIC_ADDED_PARAGRAPH}+}}")),
        "{diff}"
    );
    assert!(diff.contains("revision 1 → 2, +27 −0 words"), "{diff}");

    // Cycle 4: the portal article is deleted → gone, flagged.
    s.server.remove(&portal.path);
    let out = s.cli(&["once"]).await;
    assert!(stderr(&out).contains("article gone"));
    assert_eq!(count_kind(&s.db, "gone"), 1);

    let changes = s.json(&["changes", "--json"]).await;
    let kinds: Vec<(&str, &str)> = changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] != "new")
        .map(|c| (c["kind"].as_str().unwrap(), c["url"].as_str().unwrap()))
        .collect();
    let portal_url = s.server.url(&portal.path);
    assert_eq!(
        kinds,
        vec![
            ("gone", portal_url.as_str()),
            ("changed", nordic_url.as_str())
        ],
        "newest first"
    );
    assert_eq!(changes[1]["fields"], serde_json::json!(["body"]));
    assert_eq!(changes[1]["from_revision"], 1);
    assert_eq!(changes[1]["to_revision"], 2);
    assert!(changes[1]["seq"].as_i64().unwrap() > 0);

    // Every fetch is an entry: 4 cycles × 3 URLs.
    assert_eq!(outcomes(&s.db).len(), 12);

    // `show` returns the stored text of each revision.
    let rev1 = s.json(&["show", &nordic_url, "--rev", "1", "--json"]).await;
    assert!(
        !rev1["article"]["text"]
            .as_str()
            .unwrap()
            .contains("Riot Police are a notorious")
    );
    let rev2 = s.json(&["show", &nordic_url, "--json"]).await;
    assert!(
        rev2["article"]["text"]
            .as_str()
            .unwrap()
            .ends_with(NORDIC_ADDED_PARAGRAPH)
    );

    let status = s.json(&["status", "--json"]).await;
    assert_eq!(status["sources"][0]["name"], "test-news");
    assert_eq!(status["sources"][0]["counts"]["gone"], 1);
    assert_eq!(status["ledger"]["head_seq"], status["ledger"]["entries"]);

    let verify = s.cli(&["verify"]).await;
    assert!(verify.status.success(), "{}", stdout(&verify));
    let changes_since: Value = s
        .json(&[
            "changes", "--since", "1h", "--kind", "changed", "--kind", "gone", "--json",
        ])
        .await;
    assert_eq!(changes_since.as_array().unwrap().len(), 2);
    let with_new: Value = s.json(&["changes", "--since", "1h", "--json"]).await;
    let new: Vec<_> = with_new
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "new")
        .collect();
    assert!(new.len() >= 2, "new articles are listed too: {with_new}");
    assert!(new.iter().all(|c| c["to_revision"] == 1));
    let none_since: Value = s
        .json(&["changes", "--since", "2999-01-01T00:00:00Z", "--json"])
        .await;
    assert_eq!(none_since.as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_recorded_and_do_not_stop_the_cycle() {
    let s = Setup::new().await;
    let wp = seed("ycpress");
    s.publish(&wp, 0);
    s.server.set("/broken", common::server::Page::status(500));
    s.server.set("/feed.json", {
        let mut p = common::server::Page::html("{\"not\": \"html\"}");
        p.content_type = "application/json".into();
        p
    });
    // Port 9 on loopback: nothing listens there, the connection is refused.
    let refused = "http://127.0.0.1:9/article";
    let text = format!(
        "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\n[[source]]\nname = \"mixed\"\nschedule = \"*/5 * * * *\"\nurls = [\"{}\", \"{}\", \"{}\", \"{}\", \"{}\"]\n",
        s.db.display(),
        s.server.url(&wp.path),
        s.server.url("/broken"),
        s.server.url("/missing"),
        s.server.url("/feed.json"),
        refused,
    );
    std::fs::write(&s.config, text).unwrap();
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "mixed: 1 new, 3 failed, 1 skipped");
    let rows = outcomes(&s.db);
    assert_eq!(rows.len(), 5);
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let classes: Vec<String> = conn
        .prepare("SELECT json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.error_class') FROM ledger WHERE kind = 'fetch' AND json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.outcome') = 'failed' ORDER BY url")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut sorted = classes.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["connect", "http_status", "http_status"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_overdue_sources() {
    let s = Setup::new().await;
    let a = seed("ycpress");
    s.publish(&a, 0);
    // A yearly schedule: the next run is far away, so the source is healthy…
    s.write_config("0 0 1 1 *", &[&a.path]);
    assert!(s.cli(&["once"]).await.status.success());
    let ok = s.cli(&["health"]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    // …until its recorded next run lies in the past beyond the grace.
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    conn.execute(
        "UPDATE source_state SET next_run_at = '2020-01-01T00:00:00.000Z'",
        [],
    )
    .unwrap();
    drop(conn);
    let late = s.cli(&["health", "--json"]).await;
    assert_eq!(late.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&late.stdout).unwrap();
    assert_eq!(v["healthy"], false);
    assert!(v["problems"][0].as_str().unwrap().contains("test-news"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_a_source_whose_every_fetch_fails_cycle_after_cycle() {
    let s = Setup::new().await;
    // Nothing is published at the path: every fetch is a failed 404.
    s.write_config("0 0 1 1 *", &["/not-there"]);
    for cycle in 1..=3 {
        let out = s.cli(&["once"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("failed=1"),
            "cycle {cycle}: {}",
            stderr(&out)
        );
        let health = s.cli(&["health", "--json"]).await;
        let v: Value = serde_json::from_slice(&health.stdout).unwrap();
        if cycle < 3 {
            assert_eq!(health.status.code(), Some(0), "cycle {cycle}: {v}");
        } else {
            assert_eq!(health.status.code(), Some(1), "{v}");
            let problem = v["problems"][0].as_str().unwrap();
            assert!(
                problem.contains("test-news")
                    && problem.contains("every fetch failed in its last 3 cycles"),
                "{problem}"
            );
        }
    }
    // The threshold is the operator's.
    assert_eq!(
        s.cli(&["health", "--failing-cycles", "4"])
            .await
            .status
            .code(),
        Some(0)
    );
    // One cycle that fetches something ends the streak.
    let a = seed("ycpress");
    s.publish(&a, 0);
    s.write_config("0 0 1 1 *", &[&a.path, "/not-there"]);
    assert!(s.cli(&["once"]).await.status.success());
    let ok = s.cli(&["health"]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ab_flip_flop_is_recorded_once_per_version() {
    let s = Setup::new().await;
    let a = seed("ycpress");
    let mut b = a.clone();
    b.blocks.push(Block::Paragraph(
        "Update: the motion was debated again on Tuesday.".into(),
    ));
    s.write_config("0 0 * * *", &[&a.path]);
    let mut warnings = 0;
    for (i, version) in [&a, &b, &a, &b, &a].iter().enumerate() {
        s.publish(version, i as u64);
        let out = s.cli(&["once"]).await;
        assert!(out.status.success());
        warnings += stderr(&out).matches("article changed").count();
    }
    assert_eq!(
        warnings, 1,
        "only the first appearance of B is flagged as an edit"
    );
    let url = s.server.url(&a.path);
    let history = s.json(&["history", &url, "--json"]).await;
    let spans = history.as_array().unwrap();
    let revisions: std::collections::BTreeSet<i64> = spans
        .iter()
        .map(|h| h["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(revisions.len(), 2, "two versions, two revisions: {history}");
    let kinds: Vec<&str> = spans.iter().map(|h| h["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["new", "changed", "reverted", "reverted", "reverted"],
        "one span per stretch the page showed one version"
    );
    for w in spans.windows(2) {
        assert!(
            w[0]["last_seen"].as_str() < w[1]["first_seen"].as_str(),
            "spans do not overlap: {history}"
        );
    }
    let changes = s.json(&["changes", "--json"]).await;
    let kinds: Vec<(String, i64, i64)> = changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] != "new")
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["from_revision"].as_i64().unwrap(),
                c["to_revision"].as_i64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("reverted", 2, 1),
        ("reverted", 1, 2),
        ("reverted", 2, 1),
        ("changed", 1, 2),
    ];
    assert_eq!(
        kinds,
        want.iter()
            .map(|(k, f, t)| (k.to_string(), *f, *t))
            .collect::<Vec<_>>()
    );
    let current = s.json(&["show", &url, "--json"]).await;
    assert_eq!(
        current["revision"], 1,
        "show without --rev gives the version the page shows now (A)"
    );
    assert!(s.cli(&["verify"]).await.status.success());
}

/// A page whose best block is a list of names, not prose: the fetch entry
/// records the doubt, the log says it, `status` warns and `health` reports
/// the source; a page of prose beside it is not doubted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_extracts_weakly_is_reported_not_watched_blind() {
    let s = Setup::new().await;
    let names: String = (0..60)
        .map(|i| format!("<li>Prof. Dr. Signatory {i}, University of Somewhere</li>"))
        .collect();
    s.server.set(
        "/letter",
        common::server::Page::html(format!(
            "<html><head><title>An open letter</title></head><body><h1>An open letter</h1><ul>{names}</ul></body></html>"
        )),
    );
    s.write_config("0 0 1 1 *", &["/letter"]);
    let out = s.cli(&["once"]).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("extraction doubtful"), "{err}");
    assert!(err.contains("source extracts weakly"), "{err}");
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let weak: Vec<String> = conn
        .prepare("SELECT json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.weak_extraction') FROM ledger WHERE kind = 'fetch'")
        .unwrap()
        .query_map([], |r| r.get::<_, Option<String>>(0))
        .unwrap()
        .map(|r| r.unwrap().unwrap_or_default())
        .collect();
    assert_eq!(weak, ["list"]);
    drop(conn);
    let status = stdout(&s.cli(&["status"]).await);
    assert!(
        status.contains("weak 1") && status.contains("may not be the article"),
        "{status}"
    );
    let health = s.cli(&["health", "--json"]).await;
    assert_eq!(health.status.code(), Some(1), "{}", stdout(&health));
    let v: Value = serde_json::from_slice(&health.stdout).unwrap();
    assert!(
        v["problems"][0]
            .as_str()
            .unwrap()
            .contains("may not be the article"),
        "{v}"
    );
    assert!(s.cli(&["verify"]).await.status.success());

    // The same source on a page of prose is healthy again.
    let a = seed("ycpress");
    s.publish(&a, 0);
    s.write_config("0 0 1 1 *", &[&a.path]);
    let out = s.cli(&["once"]).await;
    assert!(
        !stderr(&out).contains("extraction doubtful"),
        "{}",
        stderr(&out)
    );
    let ok = s.cli(&["health"]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
}

//! Upgrading the extractor re-baselines, over several upgrades in a row.
//!
//! Two real extraction behaviours without two binaries: a source's
//! extraction overrides are part of the extractor version an article is
//! tagged with (`extract::version_with`), so changing them is an upgrade
//! through the same path as a new `EXTRACTOR_VERSION`: the stored raw
//! capture of the current version is re-extracted with the new extractor,
//! and a page that reads the same is re-baselined, not flagged. Each
//! re-baseline keeps its capture, so the next upgrade can re-extract it.

mod common;

use common::{Setup, publish_quiet_edit, seed, stderr, stdout};

fn config(s: &Setup, ignore: &[&str]) {
    let url = s.server.url(&seed("nordic-monitor").path);
    let ignore: Vec<String> = ignore.iter().map(|i| format!("{i:?}")).collect();
    let text = format!(
        "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\n\n[[source]]\nname = \"test-news\"\nschedule = \"0 0 * * *\"\nurls = [\"{url}\"]\nignore_selectors = [{}]\n",
        s.db.display(),
        ignore.join(", ")
    );
    std::fs::write(&s.config, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_upgrades_in_a_row_rebaseline_and_a_real_edit_is_still_flagged() {
    let s = Setup::new().await;
    s.publish(&seed("nordic-monitor"), 0);
    let url = s.server.url(&seed("nordic-monitor").path);
    let versions: [&[&str]; 4] = [
        &[],
        &["p strong"],
        &["p strong", "p:nth-of-type(3)"],
        &["p:nth-of-type(3)"],
    ];
    for (i, ignore) in versions.iter().enumerate() {
        // New chrome each time: a 200, not a 304 (an unchanged page answers
        // 304 and is compared again when it next changes).
        s.publish(&seed("nordic-monitor"), i as u64);
        config(&s, ignore);
        let o = s.cli(&["once"]).await;
        let err = stderr(&o);
        assert!(o.status.success(), "{err}");
        assert!(
            !err.contains("article changed"),
            "upgrade {i} flagged an edit: {err}"
        );
        if i > 0 {
            assert!(
                err.contains("re-baselined"),
                "upgrade {i} re-baselines: {err}"
            );
        }
    }
    let history = s.json(&["history", &url, "--json"]).await;
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["new", "rebaseline", "rebaseline", "rebaseline"],
        "{history}"
    );
    // Every re-baselined revision keeps the capture it was read from.
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let without: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM ledger WHERE kind = 'revision' AND json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.raw_blob') IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(without, 0, "every revision has its raw capture");
    drop(conn);

    // An upgrade and a real edit in the same fetch: the edit is flagged.
    publish_quiet_edit(&s);
    config(&s, &["p strong"]);
    let o = s.cli(&["once"]).await;
    assert!(stderr(&o).contains("article changed"), "{}", stderr(&o));
    let changes = s.json(&["changes", "--json"]).await;
    let kinds: Vec<&str> = changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["changed", "new"],
        "only the edit is listed: {changes}"
    );
    assert!(s.cli(&["verify"]).await.status.success());
}

/// The address the fixture ledger was recorded from (`tests/fixtures/
/// upgrade-14/`): its URLs name it, so the pages are served there again.
const RECORDED_AT: &str = "127.41.15.1:41150";

/// A ledger recorded by newsledger-extract/14 (the release before the
/// extractor dropped soft hyphens and stopped taking a column of teasers
/// over an article in a "sidebar-layout" container), opened by this one:
/// both pages read differently now, and neither is flagged as edited; a
/// real edit afterwards is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_recorded_by_the_previous_extractor_rebaselines_without_a_false_flag() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade-14");
    let server = common::server::Server::start_at(RECORDED_AT.parse().unwrap())
        .await
        .expect("bind the address the fixture ledger was recorded from");
    let page = |name: &str| std::fs::read_to_string(fixtures.join(name)).unwrap();
    server.set(
        "/hyphenated",
        common::server::Page::html(page("hyphenated.html")),
    );
    server.set(
        "/sidebar-layout",
        common::server::Page::html(page("sidebar-layout.html")),
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    std::fs::copy(fixtures.join("ledger.db"), &db).unwrap();
    let config = dir.path().join("newsledger.toml");
    std::fs::write(
        &config,
        format!(
            "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\n\n[[source]]\nname = \"upgrade\"\nschedule = \"0 0 * * *\"\nurls = [\"http://{RECORDED_AT}/hyphenated\", \"http://{RECORDED_AT}/sidebar-layout\"]\n",
            db.display()
        ),
    )
    .unwrap();
    let cli = |args: &'static [&'static str]| {
        let config = config.clone();
        async move { common::run(Some(&config), args).await }
    };
    let history = |url: String| {
        let config = config.clone();
        async move {
            let o = common::run(Some(&config), &["history", &url, "--json"]).await;
            assert!(o.status.success(), "{}", stderr(&o));
            serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
        }
    };
    let kinds = |h: &serde_json::Value| -> Vec<String> {
        h.as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap().to_string())
            .collect()
    };
    let hyphenated = format!("http://{RECORDED_AT}/hyphenated");
    let sidebar = format!("http://{RECORDED_AT}/sidebar-layout");
    // What the previous version recorded.
    let before = common::run(Some(&config), &["show", &sidebar]).await;
    assert!(
        stdout(&before).contains("newsledger-extract/14"),
        "{}",
        stdout(&before)
    );
    assert!(
        stdout(&before).contains("Ransomware attacks"),
        "the old version read the teasers"
    );
    let before = common::run(Some(&config), &["show", &hyphenated]).await;
    assert!(
        stdout(&before).contains('\u{ad}'),
        "the old version kept soft hyphens"
    );

    let o = cli(&["once"]).await;
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        !err.contains("article changed"),
        "the upgrade flagged an edit: {err}"
    );
    for url in [&hyphenated, &sidebar] {
        assert_eq!(
            kinds(&history(url.clone()).await),
            ["new", "rebaseline"],
            "{url}"
        );
    }
    let after = stdout(&common::run(Some(&config), &["show", &sidebar]).await);
    assert!(
        after.contains(newsledger::extract::EXTRACTOR_VERSION),
        "{after}"
    );
    assert!(
        after.contains("national security") && !after.contains("Ransomware attacks"),
        "the new version reads the article: {after}"
    );
    let after = stdout(&common::run(Some(&config), &["show", &hyphenated]).await);
    assert!(!after.contains('\u{ad}'), "{after}");
    let changes = stdout(&cli(&["changes"]).await);
    assert!(!changes.contains("changed"), "{changes}");

    // A real edit after the upgrade is flagged.
    server.set(
        "/hyphenated",
        common::server::Page::html(page("hyphenated.html").replace(
            "</article>",
            "<p>Correction: an earlier version of this article misstated the date of the protocol.</p></article>",
        )),
    );
    let o = cli(&["once"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("article changed"), "{}", stderr(&o));
    assert_eq!(
        kinds(&history(hyphenated.clone()).await),
        ["new", "rebaseline", "changed"]
    );
    let o = cli(&["verify"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
}

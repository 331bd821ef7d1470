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

use common::{Setup, publish_quiet_edit, seed, stderr};

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

//! A ledger written by the previous release (schema 3, before the derived
//! tables were a fold of the chain) upgrades in place: read commands work on
//! it as it is, the first writer (or `rebuild`) migrates it and recomputes
//! the derived tables from the chain, and `verify` then checks them.
//!
//! `tests/fixtures/ledger-schema3.db` was written by newsledger at commit
//! 1cd27c2 (`once` against a local server): two articles going A → B → A,
//! one of them then 404 (gone), back (restored silently, as that release
//! did) and B again.

mod common;

use common::{stderr, stdout};

const A: &str = "http://127.0.0.1:18765/a.html";

fn legacy_copy(dir: &tempfile::TempDir) -> String {
    let db = dir.path().join("ledger.db");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ledger-schema3.db"
        ),
        &db,
    )
    .unwrap();
    db.to_str().unwrap().to_string()
}

async fn json(args: &[&str]) -> serde_json::Value {
    let o = common::run(None, args).await;
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_release_ledger_is_read_then_migrated_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let db = legacy_copy(&dir);

    // Read as it is, before any writer touched it.
    let v = common::run(None, &["verify", "--db", &db]).await;
    assert!(v.status.success(), "{}", stdout(&v));
    assert!(
        !stdout(&v).contains("derived tables agree"),
        "not compared before the upgrade"
    );
    let h = json(&["history", A, "--db", &db, "--json"]).await;
    let kinds: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["new", "changed", "reverted", "gone", "restored", "reverted"],
        "{h}"
    );
    assert!(
        h.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] != "gone")
            .all(|r| r["title"] == "Harbour plan"),
        "titles from the text blobs of entries that did not carry them: {h}"
    );
    assert!(
        common::run(None, &["changes", "--db", &db])
            .await
            .status
            .success()
    );

    // `rebuild` migrates and recomputes; `verify` now compares.
    let r = common::run(None, &["rebuild", "--db", &db]).await;
    assert!(r.status.success(), "{}", stderr(&r));
    let v = common::run(None, &["verify", "--db", &db]).await;
    assert!(v.status.success(), "{}", stdout(&v));
    assert!(
        stdout(&v).contains("derived tables agree"),
        "{}",
        stdout(&v)
    );
    let changes = json(&["changes", "--db", &db, "--json"]).await;
    let kinds: Vec<&str> = changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["url"] == A)
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["reverted", "restored", "gone", "reverted", "changed", "new"],
        "newest first: {changes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_writer_upgrades_a_previous_release_ledger_and_appends() {
    let s = common::Setup::new().await;
    let db = legacy_copy(&s.dir);
    let a = common::seed("ycpress");
    s.publish(&a, 0);
    let config = format!(
        "[ledger]\npath = \"{db}\"\n[fetch]\nper_host_interval = \"0s\"\n[[source]]\nname = \"legacy\"\nschedule = \"0 0 * * *\"\nurls = [\"{}\"]\n",
        s.server.url(&a.path)
    );
    std::fs::write(&s.config, config).unwrap();
    let o = s.cli(&["once"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("derived tables rebuilt from the chain"),
        "{}",
        stderr(&o)
    );
    let v = s.cli(&["verify"]).await;
    assert!(
        stdout(&v).contains("derived tables agree"),
        "{}",
        stdout(&v)
    );
    let h = s.json(&["history", A, "--json"]).await;
    assert_eq!(
        h.as_array().unwrap().len(),
        6,
        "the old history is intact: {h}"
    );
}

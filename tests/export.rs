//! Archival export: JSONL that verifies from the file alone, and WARC read
//! back by warcio with digests that match the ledger.

mod common;

use common::{Setup, stdout};
use serde_json::Value;

async fn ledger_with_history() -> Setup {
    let s = common::two_articles_fetched_twice().await;
    common::publish_quiet_edit(&s);
    assert!(s.cli(&["once"]).await.status.success());
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_export_verifies_offline_and_reveals_tampering() {
    let s = ledger_with_history().await;
    let file = s.dir.path().join("ledger.jsonl");
    let out = s
        .cli(&[
            "export",
            "--format",
            "jsonl",
            "--blobs",
            "-o",
            file.to_str().unwrap(),
        ])
        .await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let cp = stdout(&s.cli(&["checkpoint"]).await).trim().to_string();
    let ok = common::run(
        None,
        &[
            "verify",
            "--jsonl",
            file.to_str().unwrap(),
            "--checkpoint",
            &cp,
        ],
    )
    .await;
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("extends checkpoint"));

    let text = std::fs::read_to_string(&file).unwrap();
    let entries = text
        .lines()
        .filter(|l| l.contains("\"entry_hash\""))
        .count();
    let blobs = text.lines().filter(|l| l.starts_with("{\"blob\"")).count();
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM ledger", [], |r| r.get(0))
        .unwrap();
    assert_eq!(entries as i64, n);
    assert!(
        blobs >= 4,
        "texts and raw captures of three revisions: {blobs}"
    );

    // Change one word of entry 4's payload in the file: verify names seq 4.
    let tampered: String = text
        .lines()
        .map(|l| {
            if l.starts_with("{\"entry_hash\"") && l.contains("\"seq\":4,") {
                l.replacen("\"recorded_at\":\"20", "\"recorded_at\":\"19", 1)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        tampered != text.trim_end(),
        "the tamper must change the file"
    );
    let bad = s.dir.path().join("tampered.jsonl");
    std::fs::write(&bad, tampered).unwrap();
    let out = common::run(None, &["verify", "--jsonl", bad.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("BROKEN at seq 4:"),
        "{}",
        stdout(&out)
    );
    // A blob line dropped, a blob line no entry references, an export that
    // does not start at the genesis entry: each is refused.
    let lines: Vec<&str> = text.lines().collect();
    let first_blob = lines
        .iter()
        .position(|l| l.starts_with("{\"blob\""))
        .unwrap();
    let verify_lines = |name: &str, lines: Vec<String>| {
        let path = s.dir.path().join(name);
        std::fs::write(&path, lines.join("\n")).unwrap();
        std::process::Command::new(common::bin())
            .args(["verify", "--jsonl", path.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let own = |v: &[&str]| v.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    let mut dropped = own(&lines);
    dropped.remove(first_blob);
    let out = verify_lines("dropped.jsonl", dropped);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("is not in the export"),
        "{}",
        stdout(&out)
    );

    let mut extra = own(&lines);
    let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"unrelated");
    extra.push(format!(
        "{{\"blob\":\"{}\",\"data\":\"{data}\"}}",
        newsledger::ledger::blobs::hash_hex(b"unrelated")
    ));
    let out = verify_lines("extra.jsonl", extra);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("referenced by no entry"),
        "{}",
        stdout(&out)
    );

    // Entries only (no blob lines): a chain-only export still verifies.
    let chain_only: Vec<String> = own(&lines[..first_blob]);
    let out = verify_lines("chain.jsonl", chain_only);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warc_export_is_read_by_warcio_with_digests_matching_the_ledger() {
    let Some(python) = common::python_with_warcio() else {
        return;
    };
    let s = ledger_with_history().await;
    let file = s.dir.path().join("ledger.warc.gz");
    let out = s
        .cli(&["export", "--format", "warc", "-o", file.to_str().unwrap()])
        .await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/read_warc.py");
    let read = std::process::Command::new(&python)
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let records: Vec<Value> = String::from_utf8_lossy(&read.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[0], "warcinfo");
    // Three revisions (two new, one edit) → three request/response pairs.
    assert_eq!(
        types.iter().filter(|t| **t == "response").count(),
        3,
        "{types:?}"
    );
    assert_eq!(types.iter().filter(|t| **t == "request").count(), 3);
    assert!(types.contains(&"revisit"), "{types:?}");
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    for r in records.iter().filter(|r| r["type"] == "response") {
        assert_eq!(r["digests_ok"], true, "{r}");
        assert_eq!(r["status"], "200");
        let seq: i64 = r["seq"].as_str().unwrap().parse().unwrap();
        let body_sha: String = conn
            .query_row(
                "SELECT json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.body_sha256') FROM ledger WHERE seq = ?1",
                [seq],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(
            r["payload_digest"],
            format!("sha256:{body_sha}"),
            "seq {seq}"
        );
    }
    for r in records.iter().filter(|r| r["type"] == "revisit") {
        assert!(r["profile"].as_str().unwrap().contains("revisit/"), "{r}");
    }
}

//! The ledger's guard rails and what `verify` catches.

mod common;

use common::{Setup, stdout};
use rusqlite::Connection;

async fn populated() -> Setup {
    common::two_articles_fetched_twice().await
}

fn verify_output(o: &std::process::Output) -> (i32, String) {
    (o.status.code().unwrap_or(-1), stdout(o))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_and_delete_are_refused_by_triggers() {
    let s = populated().await;
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("PRAGMA recursive_triggers = ON")
        .unwrap();
    let e = conn
        .execute("UPDATE ledger SET payload = '{}' WHERE seq = 3", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = conn
        .execute("DELETE FROM ledger WHERE seq = 3", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = conn.execute("DELETE FROM blobs", []).unwrap_err();
    assert!(e.to_string().contains("insert-only"), "{e}");
    // REPLACE on an existing seq would delete first: the trigger fires.
    let e = conn
        .execute(
            "INSERT OR REPLACE INTO ledger SELECT * FROM ledger WHERE seq = 2",
            [],
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("append-only") || e.to_string().contains("next number"),
        "{e}"
    );
    // An insert that does not extend the head is refused.
    let e = conn
        .execute("INSERT INTO ledger (seq, recorded_at, kind, url, payload, prev_hash, entry_hash) VALUES (999, 't', 'fetch', NULL, '{}', zeroblob(32), zeroblob(32))", [])
        .unwrap_err();
    assert!(e.to_string().contains("next number"), "{e}");
    let (code, out) = verify_output(&s.cli(&["verify"]).await);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_changed_behind_the_triggers_is_named_by_seq() {
    let s = populated().await;
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("DROP TRIGGER ledger_no_update").unwrap();
    conn.execute(
        "UPDATE ledger SET payload = replace(payload, '\"new\"', '\"unchanged\"') WHERE seq = 4",
        [],
    )
    .unwrap();
    drop(conn);
    let (code, out) = verify_output(&s.cli(&["verify"]).await);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("BROKEN at seq 4:"), "{out}");
    let json = s.cli(&["verify", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_bad_seq"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_row_and_a_swapped_blob_are_detected() {
    let s = populated().await;
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("DROP TRIGGER blobs_no_update").unwrap();
    // Swap a stored text for another blob's bytes (same key, other content).
    conn.execute("UPDATE blobs SET data = (SELECT data FROM blobs ORDER BY rowid DESC LIMIT 1) WHERE rowid = (SELECT MIN(rowid) FROM blobs)", []).unwrap();
    drop(conn);
    let (code, out) = verify_output(&s.cli(&["verify"]).await);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("does not match its hash") || out.contains("corrupt"),
        "{out}"
    );

    let s = populated().await;
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("DROP TRIGGER ledger_no_delete").unwrap();
    conn.execute("DELETE FROM ledger WHERE seq = 5", [])
        .unwrap();
    drop(conn);
    let (code, out) = verify_output(&s.cli(&["verify"]).await);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("BROKEN at seq 5: entry 5 is missing"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_rehashed_from_scratch_fails_an_earlier_checkpoint() {
    let s = populated().await;
    let cp = stdout(&s.cli(&["checkpoint"]).await).trim().to_string();
    let (seq, _) = cp.split_once(':').unwrap();
    let (code, out) = verify_output(&s.cli(&["verify", "--checkpoint", &cp]).await);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("extends checkpoint"), "{out}");

    // Rewrite entry 3's payload and re-hash every entry from there on, as a
    // forger with write access would: the chain is consistent again…
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("DROP TRIGGER ledger_no_update; DROP TRIGGER ledger_no_delete; DROP TRIGGER ledger_chain_check;").unwrap();
    conn.execute(
        // (and the revision entry that names the fetch's source again).
        "UPDATE ledger SET payload = replace(payload, 'test-news', 'forged-news')
         WHERE seq = 3 OR (kind = 'revision' AND json_extract(payload, '$.fetch_seq') = 3)",
        [],
    )
    .unwrap();
    let rows: Vec<(i64, String, String, Option<String>, String)> = conn
        .prepare("SELECT seq, recorded_at, kind, url, payload FROM ledger ORDER BY seq")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut prev = [0u8; 32].to_vec();
    for (seq, at, kind, url, payload) in rows {
        let h =
            newsledger::ledger::entry::entry_hash(seq, &at, &kind, url.as_deref(), &payload, &prev);
        conn.execute(
            "UPDATE ledger SET prev_hash = ?1, entry_hash = ?2 WHERE seq = ?3",
            rusqlite::params![prev, h.to_vec(), seq],
        )
        .unwrap();
        prev = h.to_vec();
    }
    drop(conn);
    // The derived tables still say what the chain said before the forgery.
    let (code, out) = verify_output(&s.cli(&["verify"]).await);
    assert_eq!(code, 1, "derived rows disagree with a forged chain: {out}");
    assert!(out.contains("table articles"), "{out}");
    // A forger who also rebuilds the derived tables is self-consistent…
    let out = s.cli(&["rebuild"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let (code, out) = verify_output(&s.cli(&["verify"]).await);
    assert_eq!(code, 0, "a full re-hash is self-consistent: {out}");
    // …but it no longer extends the checkpoint kept elsewhere.
    let (code, out) = verify_output(&s.cli(&["verify", "--checkpoint", &cp]).await);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with(&format!("BROKEN at seq {seq}:")), "{out}");

    // A truncated ledger does not reach the checkpoint either.
    let conn = Connection::open(&s.db).unwrap();
    conn.execute(
        "DELETE FROM ledger WHERE seq >= ?1",
        [seq.parse::<i64>().unwrap()],
    )
    .unwrap();
    drop(conn);
    let (code, out) = verify_output(&s.cli(&["verify", "--checkpoint", &cp]).await);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("truncated"), "{out}");
}

/// The Python interpreter the audit script runs with: CI's venv (with
/// `zstandard`, so that blob contents are checked), else python3.
fn python() -> String {
    std::env::var("NEWSLEDGER_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn python_has_zstd() -> bool {
    std::process::Command::new(python())
        .args(["-c", "import zstandard"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_audit_script_agrees_with_verify() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/verify_ledger.py");
    let run = |db: &std::path::Path| {
        std::process::Command::new(python())
            .arg(script)
            .arg(db)
            .output()
            .expect("python3")
    };
    let s = populated().await;
    let ok = run(&s.db);
    let text = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert!(
        ok.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let head = stdout(&s.cli(&["checkpoint"]).await);
    assert!(
        text.contains(head.trim()),
        "script prints the same head: {text}"
    );
    if std::env::var_os("NEWSLEDGER_PYTHON").is_some() {
        assert!(python_has_zstd(), "CI's Python has zstandard");
    }
    let contents = python_has_zstd();
    if contents {
        assert!(text.contains("blob contents checked"), "{text}");
    }

    // Every tamper case: both verifiers fail, at the same seq.
    let cases: &[(&str, &str)] = &[
        (
            "altered entry",
            "DROP TRIGGER ledger_no_update; UPDATE ledger SET recorded_at = '2000-01-01T00:00:00.000Z' WHERE seq = 6;",
        ),
        (
            "missing blob",
            "DROP TRIGGER blobs_delete_only_when_pruned; DELETE FROM blobs WHERE rowid = (SELECT MIN(rowid) FROM blobs);",
        ),
        (
            "swapped blob",
            "DROP TRIGGER blobs_no_update; UPDATE blobs SET data = (SELECT data FROM blobs ORDER BY rowid DESC LIMIT 1) WHERE rowid = (SELECT MIN(rowid) FROM blobs);",
        ),
        (
            "missing entry",
            "DROP TRIGGER ledger_no_delete; DELETE FROM ledger WHERE seq = 4;",
        ),
    ];
    for (name, sql) in cases {
        if *name == "swapped blob" && !contents {
            eprintln!("{} has no zstandard: blob contents not compared", python());
            continue;
        }
        let s = populated().await;
        let conn = Connection::open(&s.db).unwrap();
        conn.execute_batch(sql).unwrap();
        drop(conn);
        let bad = run(&s.db);
        let py = String::from_utf8_lossy(&bad.stdout).into_owned();
        let (code, out) = verify_output(&s.cli(&["verify"]).await);
        assert_eq!(bad.status.code(), Some(1), "{name}: python says {py}");
        assert_eq!(code, 1, "{name}: verify says {out}");
        let seq_of = |s: &str| {
            s.split("seq ")
                .nth(1)
                .and_then(|r| r.split(':').next())
                .map(str::to_string)
        };
        assert_eq!(
            seq_of(&py),
            seq_of(&out),
            "{name}: python {py} / verify {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_entries_are_detected() {
    let s = populated().await;
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("DROP TRIGGER ledger_no_update").unwrap();
    // Swap the contents of entries 5 and 6 (each keeps its own hashes).
    conn.execute_batch(
        "UPDATE ledger SET seq = -5 WHERE seq = 5;
         UPDATE ledger SET seq = 5 WHERE seq = 6;
         UPDATE ledger SET seq = 6 WHERE seq = -5;",
    )
    .unwrap();
    drop(conn);
    let (code, out) = verify_output(&s.cli(&["verify"]).await);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("BROKEN at seq 5:"), "{out}");
}

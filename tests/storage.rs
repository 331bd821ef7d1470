//! Storage over years: revisions stored as deltas against the previous
//! revision, and retention that removes old raw captures only through a
//! chained `pruned` entry. Real `once` runs against a loopback server, a
//! real SQLite file, `verify` and the independent Python verifier.

mod common;

use std::time::Duration;

use common::{Setup, publish_quiet_edit, seed, stderr, stdout};
use rusqlite::Connection;

fn python_verify(db: &std::path::Path) -> std::process::Output {
    let python = std::env::var("NEWSLEDGER_PYTHON").unwrap_or_else(|_| "python3".into());
    std::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tools/verify_ledger.py"
        ))
        .arg(db)
        .output()
        .expect("python3")
}

/// `verify` and the independent Python verifier both accept the ledger.
async fn both_verifiers_pass(s: &Setup) {
    let v = s.cli(&["verify"]).await;
    assert!(v.status.success(), "{}", stdout(&v));
    let py = python_verify(&s.db);
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stdout)
    );
}

/// (codec, stored bytes, base present) of the blob a revision names in `field`.
fn stored(conn: &Connection, revision: i64, field: &str) -> (String, i64, bool) {
    conn.query_row(
        &format!(
            "SELECT b.codec, length(b.data), b.base IS NOT NULL FROM ledger l JOIN blobs b
             ON b.hash = unhex(json_extract(l.payload, '$.{field}'))
             WHERE l.kind = 'revision' AND json_extract(l.payload, '$.revision') = ?1"
        ),
        [revision],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_sentence_edit_costs_a_small_delta_and_reads_back_whole() {
    let s = Setup::new().await;
    let a = seed("nordic-monitor");
    s.publish(&a, 0);
    s.write_config("0 0 * * *", &[&a.path]);
    assert!(s.cli(&["once"]).await.status.success());
    // The edit, seen on a later visit: the page's chrome changed too.
    publish_quiet_edit(&s);
    let mut edited = seed("nordic-monitor");
    edited.blocks.push(newsledger::demo::site::Block::Paragraph(
        newsledger::demo::site::NORDIC_ADDED_PARAGRAPH.into(),
    ));
    s.publish(&edited, 3);
    let o = s.cli(&["once"]).await;
    assert!(stdout(&o).contains("1 changed"), "{}", stdout(&o));

    let conn = Connection::open(&s.db).unwrap();
    let (raw1_codec, raw1, _) = stored(&conn, 1, "raw_blob");
    let (raw2_codec, raw2, raw2_delta) = stored(&conn, 2, "raw_blob");
    let (text2_codec, text2, _) = stored(&conn, 2, "text_blob");
    assert_eq!(raw1_codec, "zstd");
    assert_eq!((raw2_codec.as_str(), raw2_delta), ("zstd-delta", true));
    assert_eq!(text2_codec, "zstd-delta");
    assert!(
        raw2 + text2 <= 3_000,
        "revision 2 costs {raw2} + {text2} bytes (revision 1's capture: {raw1})"
    );
    drop(conn);

    // Read back whole: the added sentence, and the full capture.
    let url = s.server.url(&a.path);
    let show = s.cli(&["show", &url, "--rev", "2"]).await;
    assert!(
        stdout(&show).contains(newsledger::demo::site::NORDIC_ADDED_PARAGRAPH),
        "{}",
        stderr(&show)
    );
    both_verifiers_pass(&s).await;

    // A delta whose bytes are damaged fails verify, naming the blob.
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("DROP TRIGGER blobs_no_update").unwrap();
    conn.execute(
        "UPDATE blobs SET data = zeroblob(length(data)) WHERE codec = 'zstd-delta'",
        [],
    )
    .unwrap();
    drop(conn);
    let v = s.cli(&["verify"]).await;
    assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
    assert!(stdout(&v).contains("corrupt"), "{}", stdout(&v));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_old_captures_through_a_pruned_entry() {
    let s = Setup::new().await;
    let a = seed("ycpress");
    s.publish(&a, 0);
    s.write_config("0 0 * * *", &[&a.path]);
    let mut cfg = std::fs::read_to_string(&s.config).unwrap();
    cfg.push_str("keep_raw = \"all\"\nraw_max_age = \"1s\"\n");
    std::fs::write(&s.config, cfg).unwrap();
    for visit in 0..3 {
        s.publish(&a, visit);
        let o = s.cli(&["once"]).await;
        assert!(o.status.success(), "{}", stderr(&o));
        tokio::time::sleep(Duration::from_millis(1_200)).await;
    }
    let conn = Connection::open(&s.db).unwrap();
    let (seq, payload): (i64, String) = conn
        .query_row(
            "SELECT seq, payload FROM ledger WHERE kind = 'pruned' ORDER BY seq LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("a pruned entry after the third run");
    let named = newsledger::ledger::prune::pruned_blobs(&payload);
    assert!(!named.is_empty(), "{payload}");
    for h in &named {
        let present: bool = conn
            .query_row(
                "SELECT COUNT(*) > 0 FROM blobs WHERE hash = unhex(?1)",
                [h],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            !present,
            "{h} is named in the pruned entry at {seq} but still stored"
        );
    }
    for row in conn
        .prepare("SELECT seq, kind, payload FROM ledger WHERE seq > 1")
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .unwrap()
    {
        eprintln!("{:?}", row.unwrap());
    }
    for row in conn
        .prepare("SELECT hex(hash), codec, hex(base) FROM blobs")
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .unwrap()
    {
        eprintln!("{:?}", row.unwrap());
    }
    // The current revision's capture is kept (it is what the page says
    // now, and what a new extractor re-reads), and the later captures are
    // deltas against it.
    let (codec, _, _) = stored(&conn, 1, "raw_blob");
    assert_eq!(codec, "zstd");
    let deltas: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM blobs WHERE codec = 'zstd-delta'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        deltas >= 1,
        "the newest capture is a delta on the revision's"
    );
    // Deleting any other blob is still refused.
    let refused = conn.execute("DELETE FROM blobs WHERE codec = 'zstd'", []);
    assert!(refused.is_err(), "a blob no pruned entry names was deleted");
    drop(conn);

    both_verifiers_pass(&s).await;

    // A capture that goes missing without a pruned entry is still damage.
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("DROP TRIGGER blobs_delete_only_when_pruned")
        .unwrap();
    let gone: String = conn
        .query_row(
            "SELECT hex(hash) FROM blobs WHERE codec = 'zstd-delta' ORDER BY rowid DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute("DELETE FROM blobs WHERE hex(hash) = ?1", [&gone])
        .unwrap();
    drop(conn);
    let v = s.cli(&["verify"]).await;
    assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
    assert!(stdout(&v).contains("missing"), "{}", stdout(&v));
    let py = python_verify(&s.db);
    assert_eq!(
        py.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&py.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_refetches_are_compact_entries_that_verify_everywhere() {
    let s = Setup::new().await;
    let a = seed("news-az");
    s.publish(&a, 0);
    s.write_config("0 0 * * *", &[&a.path]);
    for visit in 0..4 {
        // The chrome changes on every visit; the article does not.
        s.publish(&a, visit);
        assert!(s.cli(&["once"]).await.status.success());
    }
    let conn = Connection::open(&s.db).unwrap();
    let (compact, first_full, max_bytes): (i64, i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), MIN(ref_seq), MAX(length(payload)) FROM ledger
             WHERE kind = 'fetch' AND typeof(payload) = 'blob' AND url IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    // The first refetch differs from the first fetch in more than its
    // outcome (that one stored the capture of revision 1): it is full, and
    // the two after it repeat it.
    assert_eq!(
        compact, 2,
        "unchanged refetches after the first are compact"
    );
    // 42 bytes, and this server's ETag, which changes with every render.
    assert!(max_bytes <= 64, "a compact payload of {max_bytes} bytes");
    let first_kind: String = conn
        .query_row(
            "SELECT kind FROM ledger WHERE seq = ?1",
            [first_full],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(first_kind, "fetch");
    drop(conn);

    // Every reader sees them: the timeline's last-seen time, verify, the
    // independent verifier, and the JSONL export verified offline.
    let url = s.server.url(&a.path);
    let h = s.json(&["history", &url, "--json"]).await;
    let last_seen = h[0]["last_seen"].as_str().unwrap().to_string();
    let head_time: String = Connection::open(&s.db)
        .unwrap()
        .query_row(
            "SELECT MAX(recorded_at) FROM ledger WHERE kind = 'fetch'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(last_seen, head_time, "{h}");
    both_verifiers_pass(&s).await;
    let jsonl = s.dir.path().join("export.jsonl");
    let e = s
        .cli(&["export", "--format", "jsonl", "-o", jsonl.to_str().unwrap()])
        .await;
    assert!(e.status.success(), "{}", stderr(&e));
    let v = s.cli(&["verify", "--jsonl", jsonl.to_str().unwrap()]).await;
    assert!(v.status.success(), "{}", stdout(&v));

    // One flipped byte in a compact entry: both verifiers fail at its seq.
    let conn = Connection::open(&s.db).unwrap();
    let seq: i64 = conn
        .query_row(
            "SELECT MAX(seq) FROM ledger WHERE ref_seq IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute_batch("DROP TRIGGER ledger_no_update").unwrap();
    conn.execute(
        // The status varint: 200 (c8 01) becomes 201 (c9 01).
        "UPDATE ledger SET payload = CAST(substr(payload, 1, 3) || x'c9' || substr(payload, 5) AS BLOB)
         WHERE seq = ?1 AND hex(substr(payload, 4, 1)) = 'C8'",
        [seq],
    )
    .unwrap();
    let changed: i64 = conn.changes() as i64;
    assert_eq!(changed, 1);
    drop(conn);
    let v = s.cli(&["verify"]).await;
    assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
    assert!(stdout(&v).contains(&format!("seq {seq}")), "{}", stdout(&v));
    let py = python_verify(&s.db);
    assert_eq!(
        py.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&py.stdout)
    );
}

//! The storage contract's conformance suite (issue 37), run against each
//! implementation: SQLite (a new ledger file) and PostgreSQL (a real server
//! started for the test, `tests/support/postgres.rs`). Then `migrate` moves
//! a real ledger, written by the binary's demo (real fetches from a
//! loopback site), from SQLite to PostgreSQL and back, and the copy must be
//! the same ledger: the same head, the same Merkle root, `verify` passing.

mod common;

#[path = "support/postgres.rs"]
mod pg;

use newsledger::ledger::entry::{self, ZERO_HASH};
use newsledger::ledger::merkle::Hash;
use newsledger::ledger::storage::{
    Payload, RawBlob, RawEntry, Storage, StorageError, sqlite::SqliteStorage, summarize,
};

/// A JSON entry after `prev`, with its hash as its encoding gives it.
fn json_entry(seq: i64, prev: Hash, url: Option<&str>, payload: &str) -> RawEntry {
    let recorded_at = format!("2026-12-07T10:00:{:02}.000Z", seq % 60);
    let kind = if seq == 1 { "genesis" } else { "fetch" };
    RawEntry {
        seq,
        entry_hash: entry::entry_hash(seq, &recorded_at, kind, url, payload, &prev),
        recorded_at,
        kind: kind.into(),
        url: url.map(str::to_string),
        payload: Payload::Json(payload.into()),
        prev_hash: prev,
        ref_seq: None,
    }
}

/// A compact entry (encoding tag 2) repeating `ref_seq`.
fn compact_entry(seq: i64, prev: Hash, ref_seq: i64, bytes: &[u8]) -> RawEntry {
    let recorded_at = format!("2026-12-07T10:01:{:02}.000Z", seq % 60);
    RawEntry {
        seq,
        entry_hash: entry::entry_hash_v2(seq, &recorded_at, "fetch", ref_seq, bytes, &prev),
        recorded_at,
        kind: "fetch".into(),
        url: None,
        payload: Payload::Compact(bytes.to_vec()),
        prev_hash: prev,
        ref_seq: Some(ref_seq),
    }
}

fn blob(n: u8, data: &[u8]) -> RawBlob {
    let mut hash = [0u8; 32];
    hash[0] = n;
    hash[31] = 0xAB;
    RawBlob {
        hash,
        codec: "identity".into(),
        size: data.len() as i64,
        data: data.to_vec(),
        base: n.is_multiple_of(2).then_some([n; 32]),
    }
}

/// Every clause of the contract, on an empty storage.
fn conformance(s: &mut dyn Storage) {
    let at = s.describe();
    assert_eq!(s.head().unwrap(), None, "{at}: a new storage is empty");
    assert!(s.entries(1, 10).unwrap().is_empty());

    // Appends are checked: the next seq, the head's hash, the encoding's hash.
    let e1 = json_entry(1, ZERO_HASH, None, r#"{"created":"2026-12-07"}"#);
    let e2 = json_entry(
        2,
        e1.entry_hash,
        Some("http://127.0.0.1:9/a/"),
        r#"{"status":200,"é":"ü"}"#,
    );
    let e3 = compact_entry(3, e2.entry_hash, 2, &[2, 0, 200, 1, 2, 3, 0, 255]);
    s.append(&[e1.clone(), e2.clone()]).unwrap();
    assert_eq!(s.head().unwrap(), Some((2, e2.entry_hash)));

    let refused = |s: &mut dyn Storage, batch: &[RawEntry], why: &str| {
        let before = s.head().unwrap();
        match s.append(batch) {
            Err(StorageError::Chain { .. }) => {}
            other => panic!("{at}: {why} was not refused as a chain break: {other:?}"),
        }
        assert_eq!(s.head().unwrap(), before, "{at}: {why} moved the head");
    };
    let mut gap = compact_entry(4, e2.entry_hash, 2, &[1]);
    gap.entry_hash = entry::entry_hash_v2(4, &gap.recorded_at, "fetch", 2, &[1], &e2.entry_hash);
    refused(s, &[gap], "a seq after a gap");
    refused(
        s,
        &[json_entry(2, e1.entry_hash, None, "{}")],
        "a seq taken",
    );
    refused(
        s,
        &[compact_entry(3, e1.entry_hash, 2, &[1])],
        "a wrong prev_hash",
    );
    let mut forged = e3.clone();
    forged.payload = Payload::Compact(vec![2, 0, 200, 9, 9, 9, 0, 255]);
    refused(s, &[forged], "a payload its hash does not cover");
    let mut renamed = json_entry(3, e2.entry_hash, Some("http://127.0.0.1:9/a/"), "{}");
    renamed.url = Some("http://127.0.0.1:9/b/".into());
    refused(s, &[renamed], "a URL its hash does not cover");
    // All or nothing: a good entry before a bad one is not kept either.
    let bad4 = json_entry(4, ZERO_HASH, None, "{}");
    refused(s, &[e3.clone(), bad4], "a batch with a bad second entry");
    assert_eq!(
        s.entries(3, 10).unwrap(),
        vec![],
        "{at}: half a batch was stored"
    );

    s.append(std::slice::from_ref(&e3)).unwrap();
    // Entries come back byte for byte, in order, in pages.
    assert_eq!(
        s.entries(1, 10).unwrap(),
        vec![e1.clone(), e2.clone(), e3.clone()]
    );
    assert_eq!(s.entries(2, 1).unwrap(), vec![e2.clone()]);
    assert_eq!(s.entries(4, 10).unwrap(), vec![]);
    // Many entries, paged, and the summary's root is the tree's.
    let mut prev = e3.entry_hash;
    let mut batch = Vec::new();
    for seq in 4..=1203 {
        let e = json_entry(
            seq,
            prev,
            Some(&format!("http://127.0.0.1:9/{}/", seq % 7)),
            &format!("{{\"n\":{seq}}}"),
        );
        prev = e.entry_hash;
        batch.push(e);
    }
    s.append(&batch).unwrap();
    let all: Vec<Hash> = (0..)
        .map(|p| s.entries(1 + p * 500, 500).unwrap())
        .take_while(|page| !page.is_empty())
        .flatten()
        .map(|e| e.entry_hash)
        .collect();
    assert_eq!(all.len(), 1203);
    let sum = summarize(s).unwrap();
    assert_eq!(sum.entries, 1203);
    assert_eq!(sum.head, Some((1203, prev)));
    assert_eq!(
        sum.root,
        newsledger::ledger::merkle::naive_root(&all),
        "{at}"
    );

    // Blobs: stored once, read back whole, paged by hash.
    let (b1, b2, b3) = (
        blob(1, b"one"),
        blob(2, &[0, 1, 2, 255]),
        blob(3, &vec![7u8; 100_000]),
    );
    s.put_blobs(&[b2.clone(), b1.clone()]).unwrap();
    s.put_blobs(&[b1.clone(), b3.clone()]).unwrap();
    let mut changed = b1.clone();
    changed.data = b"another".to_vec();
    s.put_blobs(&[changed]).unwrap();
    assert_eq!(
        s.blob(&b1.hash).unwrap(),
        Some(b1.clone()),
        "{at}: a stored blob was replaced"
    );
    assert_eq!(s.blob(&[9; 32]).unwrap(), None);
    let first = s.blobs_after(None, 2).unwrap();
    assert_eq!(first, vec![b1.clone(), b2.clone()]);
    assert_eq!(s.blobs_after(Some(b2.hash), 10).unwrap(), vec![b3.clone()]);
    assert_eq!(s.blobs_after(Some(b3.hash), 10).unwrap(), vec![]);
}

#[test]
fn sqlite_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStorage::create(&dir.path().join("contract.db")).unwrap();
    conformance(&mut s);
}

#[test]
fn postgres_keeps_the_contract() {
    let Some(server) = pg::Postgres::start() else {
        return;
    };
    let url = server.database();
    let mut s = newsledger::ledger::storage::postgres::PgStorage::connect(&url).unwrap();
    conformance(&mut s);
    // A second client appending through the same sequencer sees the head
    // the first one left, and the tables refuse to be rewritten.
    let mut other = newsledger::ledger::storage::postgres::PgStorage::connect(&url).unwrap();
    assert_eq!(other.head().unwrap(), s.head().unwrap());
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for sql in [
        "UPDATE ledger SET url = 'x' WHERE seq = 2",
        "DELETE FROM ledger WHERE seq = 1203",
        "UPDATE blobs SET codec = 'zstd'",
    ] {
        let e = client.batch_execute(sql).unwrap_err();
        assert!(
            e.to_string().contains("append-only") || format!("{e:?}").contains("append-only"),
            "{sql}: {e:?}"
        );
    }
}

/// The binary's demo writes a real ledger; it goes to PostgreSQL and back.
#[test]
fn migrate_moves_a_real_ledger_there_and_back() {
    let Some(server) = pg::Postgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("demo.db");
    let demo = std::process::Command::new(common::bin())
        .args(["--db", original.to_str().unwrap(), "demo"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let url = server.database();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(common::bin())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, there, err) = run(&[
        "migrate",
        "--from",
        original.to_str().unwrap(),
        "--to",
        &url,
    ]);
    assert_eq!(code, Some(0), "{there}{err}");
    let back = dir.path().join("back.db");
    let (code, again, err) = run(&["migrate", "--from", &url, "--to", back.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{again}{err}");
    // The same head and root each way, and the SQLite original's own.
    let both = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("both:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(both(&there), both(&again));
    let mut orig = SqliteStorage::open_read_only(&original).unwrap();
    let sum = summarize(&mut orig).unwrap();
    assert!(sum.entries > 10, "the demo wrote {} entries", sum.entries);
    assert!(both(&there).contains(&hex::encode(sum.root)), "{there}");
    // The copy back is a ledger like any other: verify passes, the same
    // articles are listed.
    let (code, verify, err) = run(&["--db", back.to_str().unwrap(), "verify"]);
    assert_eq!(code, Some(0), "{verify}{err}");
    let list = |db: &std::path::Path| run(&["--db", db.to_str().unwrap(), "articles", "--json"]).1;
    assert_eq!(list(&original), list(&back));
    // Into a storage that holds a ledger: refused, nothing written.
    let (code, _, err) = run(&[
        "migrate",
        "--from",
        original.to_str().unwrap(),
        "--to",
        &url,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("already holds a ledger"), "{err}");
    let (code, _, err) = run(&[
        "migrate",
        "--from",
        original.to_str().unwrap(),
        "--to",
        back.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    // What the record does not hold is named, not silently dropped.
    assert!(
        there.contains("not copied (the daemon's working state"),
        "{there}"
    );
    // A copy that never completed is never taken for a ledger: a SQLite
    // one stays under `.partial`, a PostgreSQL one carries a marker.
    let half = dir.path().join("half.db");
    std::fs::write(dir.path().join("half.db.partial"), b"").unwrap();
    let (code, _, err) = run(&[
        "migrate",
        "--from",
        original.to_str().unwrap(),
        "--to",
        half.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("partial copy from an interrupted migrate"),
        "{err}"
    );
    assert!(!half.exists());
    let marked = server.database();
    let (code, _, err) = run(&["migrate", "--from", back.to_str().unwrap(), "--to", &marked]);
    assert_eq!(code, Some(0), "{err}");
    let interrupted = server.database();
    let mut c = postgres::Client::connect(&interrupted, postgres::NoTls).unwrap();
    c.batch_execute(include_str!("../migrations/postgres/0001_contract.sql"))
        .unwrap();
    c.batch_execute("INSERT INTO migration VALUES (1, 'elsewhere.db', '2026-12-07T10:00:00.000Z')")
        .unwrap();
    let (code, _, err) = run(&[
        "migrate",
        "--from",
        original.to_str().unwrap(),
        "--to",
        &interrupted,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("partial copy") && err.contains("elsewhere.db"),
        "{err}"
    );
    // A file another application made is never written into.
    let other = dir.path().join("contacts.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE contacts (name TEXT)")
        .unwrap();
    let before = std::fs::read(&other).unwrap();
    let (code, _, err) = run(&[
        "migrate",
        "--from",
        original.to_str().unwrap(),
        "--to",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(std::fs::read(&other).unwrap(), before);
    // A connection string that is not a postgres:// URL is not a path (a
    // file named after its password), and a password is never printed.
    for target in [
        "host=127.0.0.1 user=newsledger password=hunter2 dbname=x",
        "POSTGRES://newsledger:hunter2@127.0.0.1:1/x",
        "postgres://newsledger:p@ss/word:hunter2@127.0.0.1:1/x",
        "postgres://newsledger@127.0.0.1:1/x?password=hunter2",
    ] {
        let (code, out, err) = run(&[
            "migrate",
            "--from",
            original.to_str().unwrap(),
            "--to",
            target,
        ]);
        assert_ne!(code, Some(0), "{target}: {out}{err}");
        assert!(
            !format!("{out}{err}").contains("hunter2"),
            "{target}: {out}{err}"
        );
    }
    assert!(
        std::fs::read_dir(".")
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().contains("hunter2")),
        "a file was named after a password"
    );
    // A source that does not exist: one clear line.
    let (code, _, err) = run(&[
        "migrate",
        "--from",
        "/nonexistent/x.db",
        "--to",
        dir.path().join("n.db").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no such ledger"), "{err}");
}

/// PostgreSQL killed (SIGKILL) while appends go on, then started again:
/// every append is whole or absent, the chain checks from the first entry
/// to the head, and no acknowledged append is lost.
#[test]
fn a_killed_server_keeps_every_acknowledged_append_whole() {
    let Some(server) = pg::Postgres::start() else {
        return;
    };
    let url = server.database();
    let mut s = newsledger::ledger::storage::postgres::PgStorage::connect(&url).unwrap();
    const BATCH: i64 = 40;
    let appender = std::thread::spawn(move || {
        let mut acknowledged = 0i64;
        let mut prev = ZERO_HASH;
        for b in 0.. {
            let batch: Vec<RawEntry> = (1..=BATCH)
                .map(|i| {
                    let seq = b * BATCH + i;
                    let e = json_entry(
                        seq,
                        prev,
                        None,
                        &format!("{{\"batch\":{b},\"pad\":\"{}\"}}", "x".repeat(2000)),
                    );
                    prev = e.entry_hash;
                    e
                })
                .collect();
            if s.append(&batch).is_err() {
                return acknowledged;
            }
            acknowledged = (b + 1) * BATCH;
        }
        acknowledged
    });
    std::thread::sleep(std::time::Duration::from_millis(700));
    server.kill();
    let acknowledged = appender.join().unwrap();
    assert!(acknowledged > 0, "nothing was appended before the kill");
    server.start_server();
    let mut again = newsledger::ledger::storage::postgres::PgStorage::connect(&url).unwrap();
    let sum = summarize(&mut again).unwrap();
    let (head, _) = sum.head.unwrap();
    assert!(
        head >= acknowledged,
        "acknowledged {acknowledged}, the head is {head}"
    );
    assert_eq!(head % BATCH, 0, "a batch was stored in part: head {head}");
    assert!(
        head <= acknowledged + BATCH,
        "head {head} after {acknowledged} acknowledged"
    );
}

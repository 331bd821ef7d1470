//! The chain is the source of truth: derived tables that disagree with it
//! fail `verify` and never reach a read command; a ledger that lost its
//! entries is not appended to; a page cannot write into another article;
//! a fetch that could not be recorded is a failure; one writer per ledger;
//! read commands work on a ledger nobody can write.

mod common;

use std::time::Duration;

use common::server::Page;
use common::{Setup, publish_quiet_edit, seed, stderr, stdout};
use rusqlite::Connection;

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Two articles, and a quiet edit of the first: revisions 1 and 2.
async fn edited() -> (Setup, String) {
    let s = common::two_articles_fetched_twice().await;
    publish_quiet_edit(&s);
    assert!(s.cli(&["once"]).await.status.success());
    let url = s.server.url(&seed("nordic-monitor").path);
    (s, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_title_fails_verify_and_is_never_shown() {
    let (s, url) = edited().await;
    let conn = Connection::open(&s.db).unwrap();
    conn.execute("UPDATE revisions SET title = 'Forged headline'", [])
        .unwrap();
    drop(conn);
    let v = s.cli(&["verify"]).await;
    assert_eq!(code(&v), 1, "{}", stdout(&v));
    assert!(stdout(&v).contains("table revisions"), "{}", stdout(&v));
    assert!(stdout(&v).contains("title"), "{}", stdout(&v));
    let h = s.json(&["history", &url, "--json"]).await;
    assert!(
        !h.to_string().contains("Forged"),
        "history reads the chain: {h}"
    );
    // `rebuild` puts the chain's rows back.
    let r = s.cli(&["rebuild"]).await;
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(stdout(&r).contains("rows differed"), "{}", stdout(&r));
    assert_eq!(code(&s.cli(&["verify"]).await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_repointed_at_another_blob_fails_verify_and_show_reads_the_chain() {
    let (s, url) = edited().await;
    // A self-consistent blob (its key is the hash of its content) with a
    // forged text, and the derived revision pointed at it.
    let forged = serde_json::json!({"title": "Forged", "text": "Nothing happened.", "extractor_version": "x"});
    let bytes = serde_json::to_vec(&forged).unwrap();
    let key = newsledger::ledger::blobs::hash_hex(&bytes);
    let conn = Connection::open(&s.db).unwrap();
    newsledger::ledger::blobs::put(&conn, &bytes).unwrap();
    conn.execute(
        "UPDATE revisions SET text_blob = ?1 WHERE revision = 1",
        [&key],
    )
    .unwrap();
    drop(conn);
    let v = s.cli(&["verify"]).await;
    assert_eq!(code(&v), 1, "{}", stdout(&v));
    assert!(stdout(&v).contains("text_blob"), "{}", stdout(&v));
    let show = s.cli(&["show", &url, "--rev", "1"]).await;
    assert!(show.status.success(), "{}", stderr(&show));
    assert!(
        !stdout(&show).contains("Nothing happened"),
        "{}",
        stdout(&show)
    );
    assert!(stdout(&show).contains("Turkey"), "{}", stdout(&show));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_or_forged_change_rows_are_caught() {
    let (s, _) = edited().await;
    let conn = Connection::open(&s.db).unwrap();
    conn.execute("DELETE FROM changes", []).unwrap();
    drop(conn);
    let v = s.cli(&["verify"]).await;
    assert_eq!(code(&v), 1, "{}", stdout(&v));
    assert!(stdout(&v).contains("table changes"), "{}", stdout(&v));

    // A change row that no entry records: `changes` folds the chain and
    // never shows it; `verify` names it.
    assert!(s.cli(&["rebuild"]).await.status.success());
    let before = stdout(&s.cli(&["changes"]).await);
    let conn = Connection::open(&s.db).unwrap();
    conn.execute(
        "INSERT INTO changes (seq, kind, url, from_revision, to_revision, detected_at, fields_json, declared)
         SELECT 3, 'changed', url, 1, 2, detected_at, '[\"body\"]', 0 FROM changes LIMIT 1",
        [],
    )
    .unwrap();
    drop(conn);
    let c = s.cli(&["changes"]).await;
    assert_eq!(code(&c), 0, "{}", stderr(&c));
    assert_eq!(stdout(&c), before);
    let v = s.cli(&["verify"]).await;
    assert_eq!(code(&v), 1, "{}", stdout(&v));
    assert!(
        stdout(&v).contains("no chained entry supports this row"),
        "{}",
        stdout(&v)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_or_wiped_ledger_fails_verify_and_is_not_appended_to() {
    let (s, _) = edited().await;
    let head: i64 = Connection::open(&s.db)
        .unwrap()
        .query_row("SELECT MAX(seq) FROM ledger", [], |r| r.get(0))
        .unwrap();
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("DROP TRIGGER ledger_no_delete").unwrap();
    conn.execute("DELETE FROM ledger WHERE seq > ?1", [head - 3])
        .unwrap();
    drop(conn);
    let v = s.cli(&["verify"]).await;
    assert_eq!(code(&v), 1, "{}", stdout(&v));
    assert!(
        stdout(&v).contains("entries were removed"),
        "{}",
        stdout(&v)
    );
    let once = s.cli(&["once"]).await;
    assert_eq!(code(&once), 3, "{}", stderr(&once));
    assert!(
        stderr(&once).contains("refusing to append"),
        "{}",
        stderr(&once)
    );
    let after: i64 = Connection::open(&s.db)
        .unwrap()
        .query_row("SELECT MAX(seq) FROM ledger", [], |r| r.get(0))
        .unwrap();
    assert_eq!(after, head - 3, "nothing appended");
    // `rebuild` keeps the evidence unless forced.
    assert_eq!(code(&s.cli(&["rebuild"]).await), 1);

    // Wiped: no entries at all beside derived rows.
    let conn = Connection::open(&s.db).unwrap();
    conn.execute("DELETE FROM ledger", []).unwrap();
    drop(conn);
    let v = s.cli(&["verify"]).await;
    assert_eq!(
        code(&v),
        1,
        "an empty ledger beside derived rows: {}",
        stdout(&v)
    );
    let once = s.cli(&["once"]).await;
    assert_eq!(code(&once), 3, "{}", stderr(&once));
    assert!(stderr(&once).contains("emptied"), "{}", stderr(&once));
    let n: i64 = Connection::open(&s.db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM ledger", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "no fresh genesis beside the old history");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_tail_is_not_appended_to() {
    let (s, _) = edited().await;
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("DROP TRIGGER ledger_no_update").unwrap();
    conn.execute(
        "UPDATE ledger SET payload = replace(payload, 'changed', 'unchanged') WHERE seq = (SELECT MAX(seq) - 1 FROM ledger)",
        [],
    )
    .unwrap();
    drop(conn);
    let once = s.cli(&["once"]).await;
    assert_eq!(code(&once), 3, "{}", stderr(&once));
    assert!(
        stderr(&once).contains("does not verify"),
        "{}",
        stderr(&once)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_declaring_another_articles_url_cannot_write_into_it() {
    let s = Setup::new().await;
    let victim = seed("nordic-monitor");
    s.publish(&victim, 0);
    let victim_url = s.server.url(&victim.path);
    // Another source's page (an aggregator) declares the victim as canonical,
    // with a different text.
    let mut copy = seed("ycpress");
    copy.path = "/aggregator/copy".into();
    let html = newsledger::demo::site::render(
        &copy,
        &victim_url,
        &newsledger::demo::site::Chrome::visit(0),
    );
    s.server.set(&copy.path, Page::html(html));
    let text = format!(
        "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\n\
         [[source]]\nname = \"outlet\"\nschedule = \"0 0 * * *\"\nurls = [\"{victim_url}\"]\n\
         [[source]]\nname = \"aggregator\"\nschedule = \"0 0 * * *\"\nurls = [\"{}\"]\n",
        s.db.display(),
        s.server.url(&copy.path)
    );
    std::fs::write(&s.config, text).unwrap();
    for _ in 0..2 {
        let o = s.cli(&["once"]).await;
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(!stderr(&o).contains("article changed"), "{}", stderr(&o));
    }
    // The aggregator's page goes away: a removal of its own article only.
    s.server.remove(&copy.path);
    let o = s.cli(&["once"]).await;
    assert!(stderr(&o).contains("article gone"), "{}", stderr(&o));
    let h = s.json(&["history", &victim_url, "--json"]).await;
    let kinds: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["new"], "the victim's history is its own: {h}");
    let changes = s.json(&["changes", "--json"]).await;
    for c in changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] != "new")
    {
        assert_ne!(
            c["url"], victim_url,
            "nothing flagged on the victim: {changes}"
        );
    }
    assert_eq!(code(&s.cli(&["verify"]).await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_the_ledger_refuses_is_a_failure_until_a_cycle_records() {
    let s = common::two_articles_fetched_twice().await;
    publish_quiet_edit(&s);
    // A real SQLite refusal that is not a full disk: a trigger on a table
    // the writer must insert into.
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON revisions WHEN NEW.revision > 1 BEGIN SELECT RAISE(ABORT, 'revisions refused for the test'); END;",
    )
    .unwrap();
    drop(conn);
    let o = s.cli(&["once"]).await;
    assert_eq!(code(&o), 3, "once exits 3: {}", stderr(&o));
    let err = stderr(&o);
    let url = s.server.url(&seed("nordic-monitor").path);
    assert!(
        err.lines().any(|l| l.contains("ERROR")
            && l.contains(&url)
            && l.contains("revisions refused for the test")),
        "the URL and the real cause: {err}"
    );
    assert!(err.contains("failed=1"), "counted as failed: {err}");
    let health = s.cli(&["health"]).await;
    assert_eq!(code(&health), 1, "{}", stdout(&health));
    assert!(
        stdout(&health).contains("could not record"),
        "{}",
        stdout(&health)
    );

    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("DROP TRIGGER refuse").unwrap();
    drop(conn);
    let o = s.cli(&["once"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("article changed"),
        "the edit is recorded now"
    );
    assert_eq!(code(&s.cli(&["health"]).await), 0);
    assert_eq!(code(&s.cli(&["verify"]).await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_exits_at_once() {
    let s = common::two_articles_fetched_twice().await;
    s.write_config("0 0 * * *", &[&seed("nordic-monitor").path]);
    let mut daemon = common::spawn_run(&s.config);
    // Wait until the daemon holds the lock.
    let lock = format!("{}.lock", s.db.display());
    let t0 = std::time::Instant::now();
    loop {
        let probe = std::fs::OpenOptions::new().write(true).open(&lock);
        if probe.is_ok_and(|f| f.try_lock().is_err()) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the daemon never locked"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = std::time::Instant::now();
    for args in [&["once"][..], &["run"][..], &["rebuild"][..]] {
        let o = s.cli(args).await;
        assert_eq!(code(&o), 3, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("in use by another newsledger"),
            "{}",
            stderr(&o)
        );
    }
    assert!(t.elapsed() < Duration::from_secs(10), "refused at once");
    // Readers are not writers.
    assert_eq!(code(&s.cli(&["verify"]).await), 0);
    daemon.kill().await.unwrap();
    daemon.wait().await.unwrap();
    // The kernel released the lock with the process.
    assert!(s.cli(&["once"]).await.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_commands_work_on_a_ledger_nobody_can_write() {
    let (s, url) = edited().await;
    // A read-only mount (tmpfs, remounted ro): as root, file modes alone
    // would not stop writes. Skipped where mounting is not allowed.
    let mnt = s.dir.path().join("ro");
    std::fs::create_dir(&mnt).unwrap();
    let mount = |opts: &str| {
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs", mnt.to_str().unwrap()])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !mount("size=16m") {
        eprintln!("cannot mount a tmpfs here: read-only media not tested");
        return;
    }
    // A ledger as an archive receives it: the database file alone.
    let conn = Connection::open(&s.db).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    drop(conn);
    std::fs::copy(&s.db, mnt.join("ledger.db")).unwrap();
    assert!(mount("remount,ro"));
    let db = mnt.join("ledger.db");
    let db = db.to_str().unwrap();
    let mut failures = vec![];
    for args in [
        vec!["history", url.as_str(), "--db", db],
        vec!["show", url.as_str(), "--db", db],
        vec!["diff", url.as_str(), "--db", db],
        vec!["changes", "--db", db],
        vec!["status", "--db", db],
        vec!["verify", "--db", db],
        vec!["export", "--format", "jsonl", "--db", db],
    ] {
        let o = s.cli(&args).await;
        if !o.status.success() {
            failures.push(format!("{args:?}: {}", stderr(&o)));
        }
    }
    let py =
        std::process::Command::new(std::env::var("NEWSLEDGER_PYTHON").unwrap_or("python3".into()))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tools/verify_ledger.py"
            ))
            .arg(db)
            .output()
            .unwrap();
    if !py.status.success() {
        failures.push(format!(
            "verify_ledger.py: {}{}",
            String::from_utf8_lossy(&py.stdout),
            String::from_utf8_lossy(&py.stderr)
        ));
    }
    // A writer on it is refused with the cause, naming the file once.
    let config = s.dir.path().join("ro.toml");
    std::fs::write(
        &config,
        format!("[ledger]\npath = \"{db}\"\n[[source]]\nname = \"x\"\nschedule = \"0 0 * * *\"\nurls = [\"{url}\"]\n"),
    )
    .unwrap();
    let o = common::run(Some(&config), &["once"]).await;
    let err = stderr(&o);
    if o.status.code() != Some(3)
        || !err.contains("cannot be written")
        || err.contains("ledger ledger")
    {
        failures.push(format!(
            "once on read-only media: {:?} {err}",
            o.status.code()
        ));
    }
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_capture_is_the_response_as_sent() {
    use std::io::Write;
    let s = Setup::new().await;
    let a = seed("ycpress");
    let url = s.server.url(&a.path);
    let html = newsledger::demo::site::render(&a, &url, &newsledger::demo::site::Chrome::visit(0));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(html.as_bytes()).unwrap();
    let wire = gz.finish().unwrap();
    let mut raw = format!(
        "HTTP/1.1 200 Fine Thanks\r\nContent-Type: text/html; charset=utf-8\r\nContent-Encoding: gzip\r\nX-Served-By: edge-7\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        wire.len()
    )
    .into_bytes();
    raw.extend_from_slice(&wire);
    let mut page = Page::html("");
    page.body = raw.clone();
    page.mode = common::server::Mode::Raw;
    s.server.set(&a.path, page);
    s.write_config("0 0 * * *", &[&a.path]);
    let o = s.cli(&["once"]).await;
    assert!(o.status.success(), "{}", stderr(&o));

    let conn = Connection::open(&s.db).unwrap();
    let payload: String = conn
        .query_row("SELECT payload FROM ledger WHERE kind = 'fetch'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let p: serde_json::Value = serde_json::from_str(&payload).unwrap();
    use newsledger::ledger::blobs::hash_hex;
    assert_eq!(p["outcome"], "new", "{p}");
    assert_eq!(p["wire_sha256"], hash_hex(&wire), "the body as sent: {p}");
    assert_eq!(
        p["body_sha256"],
        hash_hex(html.as_bytes()),
        "the decoded body: {p}"
    );
    assert_eq!(p["peer_ip"], "127.0.0.1");
    let capture = newsledger::ledger::blobs::get(&conn, p["raw_blob"].as_str().unwrap()).unwrap();
    // Byte for byte what the server wrote: header case and order, the
    // body still compressed.
    assert!(
        capture == raw,
        "the capture is not the bytes written:\n{}",
        String::from_utf8_lossy(&capture[..capture.len().min(400)])
    );
    drop(conn);
    let show = s.cli(&["show", &url]).await;
    assert!(
        stdout(&show).contains("Azerbai"),
        "extraction read the decoded body"
    );
}

/// What an independent audit of issue 31's first fix found, each on a fresh
/// copy of one ledger: the ledger's own index rebuilt under another
/// definition, a chained entry moved to another URL, a truncation whose
/// `derived_state` was deleted, a position that is not a number, a lost
/// `schema_version`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookkeeping_that_hides_an_entry_or_a_truncation_is_caught() {
    let (s, url) = edited().await;
    let run = |db: &std::path::Path, args: &[&str]| {
        let mut full = vec!["--db", db.to_str().unwrap()];
        full.extend_from_slice(args);
        let out = std::process::Command::new(common::bin())
            .args(&full)
            .output()
            .unwrap();
        (code(&out), stdout(&out), stderr(&out))
    };
    let revision_seq: i64 = Connection::open(&s.db)
        .unwrap()
        .query_row(
            "SELECT MAX(seq) FROM ledger WHERE kind = 'revision' AND url = ?1",
            [&url],
            |r| r.get(0),
        )
        .unwrap();
    let copy = |name: &str, sql: &str| {
        let db = s.dir.path().join(format!("{name}.db"));
        let c = Connection::open(&s.db).unwrap();
        c.execute("VACUUM INTO ?1", [db.to_str().unwrap()]).unwrap();
        drop(c);
        let c = Connection::open(&db).unwrap();
        c.execute_batch(sql).unwrap();
        drop(c);
        db
    };

    // 1. `ledger_url` built without the revision entry, then its definition
    //    put back: every read would miss revision 2.
    let db = copy(
        "index",
        &format!(
            "PRAGMA writable_schema = ON;
             UPDATE sqlite_master SET sql = 'CREATE INDEX ledger_url ON ledger (url) WHERE url IS NOT NULL AND seq <> {revision_seq}' WHERE name = 'ledger_url';"
        ),
    );
    let c = Connection::open(&db).unwrap();
    c.execute_batch(
        "REINDEX ledger_url; PRAGMA writable_schema = ON;
         UPDATE sqlite_master SET sql = 'CREATE INDEX ledger_url ON ledger (url) WHERE url IS NOT NULL' WHERE name = 'ledger_url';",
    )
    .unwrap();
    drop(c);
    let (code_v, out, _) = run(&db, &["verify"]);
    assert_eq!(code_v, 1, "{out}");
    assert!(out.contains("ledger_url"), "{out}");
    assert_eq!(run(&db, &["rebuild"]).0, 0);
    assert_eq!(run(&db, &["verify"]).0, 0, "rebuild reindexes");
    let (_, h, _) = run(&db, &["history", &url, "--json"]);
    assert!(h.contains("\"revision\": 2"), "{h}");

    // 2. The revision entry moved to another URL behind the triggers: the
    //    article's replay lacks the revision its fetch recorded.
    let db = copy(
        "moved",
        &format!(
            "DROP TRIGGER ledger_no_update;
             UPDATE ledger SET url = 'http://127.0.0.1/elsewhere' WHERE seq = {revision_seq};"
        ),
    );
    for args in [vec!["history", url.as_str()], vec!["show", url.as_str()]] {
        let (c, out, err) = run(&db, &args);
        assert_eq!(c, 1, "{args:?}: {out}{err}");
        assert!(err.contains("no revision entry for it follows"), "{err}");
    }

    // 3. The end cut off, and the position that said so deleted: the rows
    //    that cite the lost entries still say so.
    let db = copy(
        "cut",
        &format!(
            "DROP TRIGGER ledger_no_delete;
             DELETE FROM ledger WHERE seq >= {revision_seq};
             DELETE FROM derived_state;"
        ),
    );
    let (c, _, err) = run(&db, &["history", &url]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("entries were removed"), "{err}");
    let (c, _, err) = run(&db, &["rebuild"]);
    assert_eq!(c, 1, "kept as evidence unless --force: {err}");

    // 4. A position that is not a number: a finding, not a runtime failure.
    let db = copy("text", "UPDATE derived_state SET through_seq = 'x';");
    let (c, out, _) = run(&db, &["verify"]);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("derived_state"), "{out}");

    // 6. `ledger_url` rebuilt in reverse order, its definition put back:
    //    the same rows, in an order lookups cannot use.
    let db = copy(
        "desc",
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_master SET sql = 'CREATE INDEX ledger_url ON ledger (url DESC) WHERE url IS NOT NULL' WHERE name = 'ledger_url';",
    );
    let (c, out, _) = run(&db, &["verify"]);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("integrity_check"), "{out}");
    assert_eq!(run(&db, &["rebuild"]).0, 0);
    assert_eq!(run(&db, &["verify"]).0, 0, "rebuild reindexes");

    // 7-9. Columns no hash covers, and a column of the wrong type: a
    //      compact entry given a URL, a full entry given a ref_seq, a URL
    //      that is not UTF-8.
    let compact: i64 = Connection::open(&s.db)
        .unwrap()
        .query_row(
            "SELECT MIN(seq) FROM ledger WHERE ref_seq IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for (name, sql) in [
        (
            "url-on-compact",
            format!("UPDATE ledger SET url = '{url}' WHERE seq = {compact}"),
        ),
        (
            "ref-on-full",
            format!("UPDATE ledger SET ref_seq = {compact} WHERE seq = {revision_seq}"),
        ),
        (
            "not-utf8",
            format!("UPDATE ledger SET url = CAST(x'ff41' AS TEXT) WHERE seq = {revision_seq}"),
        ),
    ] {
        let db = copy(name, &format!("DROP TRIGGER ledger_no_update; {sql};"));
        let (c, out, err) = run(&db, &["verify"]);
        assert_eq!(c, 1, "{name}: {out}{err}");
        assert!(out.starts_with("BROKEN at seq"), "{name}: {out}");
        let (c, out, err) = run(&db, &["history", &url]);
        assert_ne!(c, 0, "{name}: {out}");
        assert_ne!(c, 3, "{name}: a finding, not a runtime failure: {err}");
    }

    // 10. The head's hash zeroed: the value users keep is not printed.
    let db = copy(
        "head",
        "DROP TRIGGER ledger_no_update;
         UPDATE ledger SET entry_hash = zeroblob(32) WHERE seq = (SELECT MAX(seq) FROM ledger);",
    );
    for args in [vec!["status"], vec!["checkpoint", "--head"]] {
        let (c, out, err) = run(&db, &args);
        assert_eq!(c, 1, "{args:?}: {out}{err}");
        assert!(!out.contains("0000000000000000"), "{out}");
    }

    // 11. A WARC export is made from entries that verify.
    let db = copy(
        "warc",
        &format!(
            "DROP TRIGGER ledger_no_update;
             UPDATE ledger SET payload = replace(payload, '127.0.0.1', 'evil.example') WHERE seq = {};",
            revision_seq - 1
        ),
    );
    let (c, _, err) = run(&db, &["export", "--format", "warc", "-o", "/dev/null"]);
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("does not verify"), "{err}");

    // 5. schema_version lost: verify names it, rebuild records it again.
    let db = copy("schema", "DELETE FROM schema_version WHERE version > 3;");
    let (c, out, _) = run(&db, &["verify"]);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("schema_version"), "{out}");
    let (c, _, err) = run(&db, &["rebuild"]);
    assert_eq!(c, 0, "{err}");
    assert_eq!(run(&db, &["verify"]).0, 0);
}

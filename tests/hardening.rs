//! What a local user or a careless operator could do to the files around a
//! ledger: a second name for the ledger (a hard link) to get a second
//! writer in; a signing key others can read, a FIFO or a device as the key.

mod common;

use common::{Setup, stderr};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_link_to_the_ledger_does_not_let_a_second_writer_in() {
    let s = Setup::new().await;
    let a = common::seed("ycpress");
    s.publish(&a, 0);
    s.write_config("0 0 * * *", &[&a.path]);
    assert!(s.cli(&["once"]).await.status.success());
    let other = s.dir.path().join("other-name.db");
    std::fs::hard_link(&s.db, &other).unwrap();
    let out = s.cli(&["once"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 hard links"), "{}", stderr(&out));
    // Reads still work; with one name again, writing does too.
    assert!(s.cli(&["articles"]).await.status.success());
    std::fs::remove_file(&other).unwrap();
    assert!(s.cli(&["once"]).await.status.success());
    // A symlink is another spelling of the same file: it takes the same
    // lock, held here by this process.
    let alias = s.dir.path().join("alias.db");
    std::os::unix::fs::symlink(&s.db, &alias).unwrap();
    let held = newsledger::ledger::lock_writer(&s.db).unwrap();
    let text = std::fs::read_to_string(&s.config).unwrap();
    let aliased = s.dir.path().join("alias.toml");
    std::fs::write(
        &aliased,
        text.replace(&s.db.display().to_string(), &alias.display().to_string()),
    )
    .unwrap();
    let out = common::run(Some(&aliased), &["once"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    drop(held);
    assert!(
        common::run(Some(&aliased), &["once"])
            .await
            .status
            .success()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signing_key_must_be_a_private_regular_file() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::new().await;
    let a = common::seed("ycpress");
    s.publish(&a, 0);
    s.write_config("0 0 * * *", &[&a.path]);
    let key = s.dir.path().join("checkpoint.key");
    let out = common::run(
        None,
        &[
            "key",
            "generate",
            "--name",
            "test/log",
            "-o",
            key.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let with_key = |k: &std::path::Path| {
        let mut text = std::fs::read_to_string(&s.config).unwrap();
        text = text.split("\n[checkpoint]").next().unwrap().to_string();
        text.push_str(&format!("\n[checkpoint]\nkey = \"{}\"\n", k.display()));
        std::fs::write(&s.config, text).unwrap();
    };
    with_key(&key);
    assert!(s.cli(&["once"]).await.status.success());
    // Readable by others: refused, with the fix.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = s.cli(&["once"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    // A FIFO never blocks the start, and a device is never read.
    let fifo = s.dir.path().join("key.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for k in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        with_key(k);
        let t0 = std::time::Instant::now();
        let out = s.cli(&["once"]).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {}",
            k.display(),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
        assert!(t0.elapsed() < std::time::Duration::from_secs(20));
    }
}

/// Another key (so another origin) on a ledger whose checkpoints are of one
/// log signs nothing until the configuration says which log it replaces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_key_does_not_silently_change_the_log() {
    let s = Setup::new().await;
    let a = common::seed("ycpress");
    s.publish(&a, 0);
    s.write_config("0 0 * * *", &[&a.path]);
    let base = std::fs::read_to_string(&s.config).unwrap();
    let key = |name: &str| {
        let path = s.dir.path().join(format!("{}.key", name.replace('/', "_")));
        let path2 = path.clone();
        let name = name.to_string();
        async move {
            let out = common::run(
                None,
                &[
                    "key",
                    "generate",
                    "--name",
                    &name,
                    "-o",
                    path2.to_str().unwrap(),
                ],
            )
            .await;
            assert!(out.status.success(), "{}", stderr(&out));
            path
        }
    };
    let (first, second) = (key("first.test/log").await, key("second.test/log").await);
    let origin_of_latest = || {
        let conn = rusqlite::Connection::open(&s.db).unwrap();
        newsledger::ledger::checkpoints::latest(&conn)
            .unwrap()
            .map(|c| c.body.origin)
    };
    let configure = |k: &std::path::Path, extra: &str| {
        std::fs::write(
            &s.config,
            format!("{base}\n[checkpoint]\nkey = \"{}\"\n{extra}", k.display()),
        )
        .unwrap();
    };
    configure(&first, "");
    assert!(s.cli(&["once"]).await.status.success());
    assert_eq!(origin_of_latest().as_deref(), Some("first.test/log"));
    configure(&second, "");
    s.publish(&a, 1);
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "the cycle records: {}", stderr(&out));
    assert!(
        stderr(&out).contains("replaces = \"first.test/log\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        origin_of_latest().as_deref(),
        Some("first.test/log"),
        "nothing signed"
    );
    configure(&second, "replaces = \"first.test/log\"\n");
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(origin_of_latest().as_deref(), Some("second.test/log"));
    // Another key under the same origin is a move too.
    let other = s.dir.path().join("second-again.key");
    let out = common::run(
        None,
        &[
            "key",
            "generate",
            "--name",
            "second.test/log",
            "-o",
            other.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    configure(&other, "");
    s.publish(&a, 2);
    let out = s.cli(&["once"]).await;
    assert!(
        stderr(&out).contains("signed by second.test/log+"),
        "{}",
        stderr(&out)
    );
    let keys = || {
        let conn = rusqlite::Connection::open(&s.db).unwrap();
        newsledger::ledger::checkpoints::latest(&conn)
            .unwrap()
            .map(|c| c.key)
    };
    let before = keys();
    assert!(before.is_some());
    configure(&other, "replaces = \"second.test/log\"\n");
    assert!(s.cli(&["once"]).await.status.success());
    assert_ne!(
        keys(),
        before,
        "signed by the new key once the move is said"
    );
}

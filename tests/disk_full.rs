//! Disk full: the ledger on a small tmpfs mounted by the test (needs root;
//! elsewhere the test says why and passes). The daemon logs ERROR, keeps
//! running, loses nothing committed, and writes again once space returns.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::server::Page;
use common::{Setup, bin};

fn mount(dir: &std::path::Path, size: &str, remount: bool) -> bool {
    let opts = if remount {
        format!("remount,size={size}")
    } else {
        format!("size={size}")
    };
    std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &opts, "tmpfs", dir.to_str().unwrap()])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Text that does not compress much: the ledger fills its disk quickly.
fn noisy_page(seed: u64, words: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut p = String::from("<html><body><article>");
    for para in 0..words / 50 {
        p.push_str("<p>");
        for _ in 0..50 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p.push_str(&format!("w{:x}, ", x % 0xffffff));
        }
        p.push_str(&format!("end {para}.</p>"));
    }
    p.push_str("</article></body></html>");
    p
}

fn entries(db: &std::path::Path) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row("SELECT COUNT(*) FROM ledger", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_survived_and_writing_resumes_when_space_returns() {
    let s = Setup::new().await;
    let mnt = s.dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    if !mount(&mnt, "2m", false) {
        eprintln!(
            "skipping: cannot mount a tmpfs here (needs root); run as root to test a full disk"
        );
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let db = mnt.join("ledger.db");
    let paths: Vec<String> = (0..6).map(|i| format!("/big/{i}/")).collect();
    let publish = |round: u64| {
        for (i, p) in paths.iter().enumerate() {
            s.server
                .set(p, Page::html(noisy_page(round * 100 + i as u64, 4000)));
        }
    };
    publish(0);
    let urls: Vec<String> = paths
        .iter()
        .map(|p| format!("\"{}\"", s.server.url(p)))
        .collect();
    std::fs::write(
        &s.config,
        format!(
            "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\nrespect_robots_txt = false\n[[source]]\nname = \"big\"\nschedule = \"* * * * * *\"\nurls = [{}]\n",
            db.display(),
            urls.join(", ")
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(bin())
        .args(["--config", s.config.to_str().unwrap(), "run"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Drained as it is written: a full pipe would block the daemon's logging.
    let stderr_pipe = child.stderr.take().unwrap();
    let drained = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut err = String::new();
        let mut pipe = stderr_pipe;
        let _ = pipe.read_to_string(&mut err).await;
        err
    });
    // Every round changes every page: new revisions until the disk is full.
    let t0 = Instant::now();
    let mut round = 1;
    let mut full_at = None;
    while t0.elapsed() < Duration::from_secs(40) {
        publish(round);
        round += 1;
        tokio::time::sleep(Duration::from_millis(700)).await;
        let used = std::fs::read_dir(&mnt)
            .unwrap()
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum::<u64>();
        if used > 1_900_000 {
            full_at.get_or_insert(Instant::now());
        }
        if full_at.is_some_and(|t| t.elapsed() > Duration::from_secs(3)) {
            break;
        }
    }
    assert!(full_at.is_some(), "the disk never filled");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the daemon kept running on a full disk"
    );
    let before = entries(&db);

    // Space returns: the daemon writes again.
    assert!(mount(&mnt, "64m", true), "remount");
    let t1 = Instant::now();
    while entries(&db) <= before {
        assert!(
            t1.elapsed() < Duration::from_secs(20),
            "no write after space returned"
        );
        publish(round);
        round += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    let err = drained.await.unwrap();
    assert!(
        // Which write meets the full disk first depends on sizes and timing:
        // a fetch (not recorded) or the cycle's own bookkeeping (the cycle
        // does not start). Either is an ERROR that names the cause.
        err.lines().any(|l| l.contains("ERROR")
            && (l.contains("not recorded") || l.contains("ledger unwritable"))
            && l.contains("full")),
        "an ERROR line naming what was not written and the full disk: {err}"
    );
    assert!(entries(&db) > before);
    let verify = s.cli(&["verify", "--db", db.to_str().unwrap()]).await;
    assert!(verify.status.success(), "{}", common::stdout(&verify));
}

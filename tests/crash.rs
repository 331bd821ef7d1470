//! Crash loop: `newsledger run` killed with SIGKILL at random moments while
//! it ingests a changing local site, restarted each time. After every kill
//! the chain verifies and no revision is duplicated or skipped.
//!
//! CI runs 12 kills; `NEWSLEDGER_CRASH_KILLS=50 cargo test --release --test crash`
//! runs the long version.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::server::Page;
use common::{Setup, bin, seed};
use newsledger::demo::site::{self, Block, Chrome};

fn kills() -> usize {
    std::env::var("NEWSLEDGER_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

/// A small deterministic generator (xorshift): reproducible kill timings.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_never_breaks_the_ledger() {
    let s = Setup::new().await;
    let a = seed("nordic-monitor");
    let paths: Vec<String> = (0..40).map(|i| format!("/live/{i}/")).collect();
    let publish = |round: u64| {
        for (i, p) in paths.iter().enumerate() {
            let mut v = a.clone();
            // Every article changes every few rounds, at its own pace.
            let version = round / (1 + i as u64 % 3);
            v.blocks.push(Block::Paragraph(format!(
                "Correction {version}: the figure was revised."
            )));
            let url = s.server.url(p);
            s.server
                .set(p, Page::html(site::render(&v, &url, &Chrome::visit(round))));
        }
    };
    publish(0);
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    s.write_config("* * * * * *", &refs);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut resumed = 0;
    for round in 0..kills() {
        publish(round as u64 + 1);
        let mut child = tokio::process::Command::new(bin())
            .args(["--config", s.config.to_str().unwrap(), "run"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Kill between 50 ms and 2.5 s after start: before, during or after a cycle.
        tokio::time::sleep(Duration::from_millis(50 + rng.next() % 2450)).await;
        let pid = child.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap();
        let _ = child.wait().await;
        let err = common::stderr_of(&mut child).await;
        // A restart after an interrupted cycle fetches only what it had not
        // reached (all of it only when the kill came before the first fetch).
        for line in err
            .lines()
            .filter(|l| l.contains("resuming an interrupted cycle"))
        {
            resumed += 1;
            let pending: usize = line
                .split("pending=")
                .nth(1)
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .expect("pending count");
            assert!(pending <= paths.len(), "{line}");
        }
        if !s.db.exists() {
            continue;
        }
        let verify = s.cli(&["verify"]).await;
        assert!(
            verify.status.success(),
            "after kill {round}: {}",
            common::stdout(&verify)
        );
        let conn = rusqlite::Connection::open(&s.db).unwrap();
        // Revisions of each article are numbered 1..n without gaps or doubles,
        // and no two consecutive ones have the same content.
        let mut stmt = conn
            .prepare("SELECT url, revision, content_hash FROM revisions ORDER BY url, revision")
            .unwrap();
        let rows: Vec<(String, i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut prev: Option<(String, i64, String)> = None;
        for row in rows {
            match &prev {
                Some((u, n, h)) if *u == row.0 => {
                    assert_eq!(
                        row.1,
                        n + 1,
                        "revision numbers of {u} have a gap or a double"
                    );
                    assert_ne!(&row.2, h, "{u}: a revision repeats its predecessor");
                }
                _ => assert_eq!(row.1, 1, "{}: the first revision is 1", row.0),
            }
            prev = Some(row);
        }
        // No version lost: every content the daemon fetched and hashed is a
        // recorded revision of that article (fetch and revision commit together).
        let lost: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM ledger f WHERE f.kind = 'fetch'
                   AND json_extract(iif(typeof(f.payload) = 'text', f.payload, NULL), '$.content_hash') IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM revisions r
                                   WHERE r.url = json_extract(iif(typeof(f.payload) = 'text', f.payload, NULL), '$.article_url')
                                     AND r.content_hash = json_extract(iif(typeof(f.payload) = 'text', f.payload, NULL), '$.content_hash'))",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            lost, 0,
            "after kill {round}: fetched versions without a revision"
        );
        // Every revision entry in the ledger has its derived row, and vice versa.
        let entries: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM ledger WHERE kind = 'revision'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let derived: i64 = conn
            .query_row("SELECT COUNT(*) FROM revisions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(entries, derived, "after kill {round}");
    }
    // A clean run at the end finishes the work: the ledger still extends.
    let t0 = Instant::now();
    let child = tokio::process::Command::new(bin())
        .args(["--config", s.config.to_str().unwrap(), "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap()
        .status;
    assert!(status.success());
    assert!(t0.elapsed() < Duration::from_secs(15));
    assert!(s.cli(&["verify"]).await.status.success());
    eprintln!(
        "{} kills, {resumed} restarts resumed an interrupted cycle",
        kills()
    );
}

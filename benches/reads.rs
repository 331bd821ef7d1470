//! Read latency at a million entries (issue 31): `history`, `articles`,
//! `changes` and the web front page, now that every value they show is
//! folded from chained entries.
//!
//!     cargo bench --bench reads
//!     NEWSLEDGER_BENCH_PEER=/path/to/other/newsledger cargo bench --bench reads
//!
//! The ledger is the shape of a year's watching, compressed: 10,000 articles
//! (NEWSLEDGER_BENCH_ARTICLES) each fetched 100 times, the first fetch full
//! with its revision, every later one a compact entry, and one article in
//! ten edited halfway (a full fetch and a second revision): 1,002,000
//! entries. It is built once at NEWSLEDGER_BENCH_LEDGER
//! (target/bench-reads.db) and reused.
//!
//! Each command is timed as a whole process (`newsledger --db L articles`,
//! output to /dev/null), this build and the peer taking turns for 5 rounds;
//! the front page is fetched from `newsledger serve` over loopback. History
//! latency is measured in process over 200 articles (p50, p99). Prints one
//! Markdown table.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;

use newsledger::ledger::entry::{Compact, CompactOutcome};
use newsledger::ledger::{self, Kind};

#[path = "support/stats.rs"]
mod stats;
use stats::{median, percentile};

fn url(i: u64) -> String {
    format!("https://news{}.example/2026/01/article-{i}/", i % 100)
}

fn fetch_payload(i: u64, outcome: &str, content: u64) -> serde_json::Value {
    json!({
        "source": format!("desk-{}", i % 7), "requested_url": url(i), "final_url": url(i),
        "started_at": "2026-01-19T12:00:00.000Z", "finished_at": "2026-01-19T12:00:00.120Z",
        "status": 200, "body_bytes": 84211, "body_sha256": format!("{:064x}", i * 3 + content),
        "content_hash": format!("{:064x}", i * 7 + content), "content_type": "text/html; charset=utf-8",
        "etag": null, "last_modified": null, "extractor": "newsledger-extract/14",
        "article_url": url(i), "outcome": outcome,
    })
}

/// Appends a full fetch and its revision; returns the fetch's seq.
fn fetch_and_revision(tx: &rusqlite::Transaction<'_>, i: u64, rev: i64) -> i64 {
    let outcome = if rev == 1 { "new" } else { "changed" };
    let p = fetch_payload(i, outcome, rev as u64);
    let seq = ledger::append(tx, Kind::Fetch, Some(&url(i)), &p, Utc::now()).expect("fetch");
    let article = json!({"title": format!("Article {i}, version {rev}"), "text": format!("Body of article {i}, version {rev}."), "extractor_version": "newsledger-extract/14"});
    let blob = ledger::blobs::put(tx, article.to_string().as_bytes()).expect("blob");
    let r = json!({
        "article_url": url(i), "revision": rev, "change": if rev == 1 { "new" } else { "changed" },
        "content_hash": p["content_hash"], "field_hashes": {"body": format!("{:064x}", i + rev as u64)},
        "fields_changed": if rev == 1 { json!(["title", "byline", "body"]) } else { json!(["body"]) },
        "words_added": 4, "words_removed": if rev == 1 { 0 } else { 2 }, "text_blob": blob, "raw_blob": null,
        "fetch_seq": seq, "extractor": "newsledger-extract/14", "title": format!("Article {i}, version {rev}"), "declared": false,
        "source": p["source"],
    });
    ledger::append(tx, Kind::Revision, Some(&url(i)), &r, Utc::now()).expect("revision");
    seq
}

fn build(path: &Path, articles: u64, fetches: u64) {
    let mut conn = ledger::open_writable(path).expect("open");
    let mut anchors = Vec::new();
    let tx = conn.transaction().expect("tx");
    for i in 0..articles {
        anchors.push(fetch_and_revision(&tx, i, 1));
    }
    tx.commit().expect("commit");
    for round in 0..fetches.saturating_sub(2) {
        let tx = conn.transaction().expect("tx");
        for i in 0..articles {
            if round == fetches.saturating_sub(2) / 2 && i % 10 == 0 {
                anchors[i as usize] = fetch_and_revision(&tx, i, 2);
                continue;
            }
            let c = Compact {
                outcome: CompactOutcome::Unchanged,
                status: 200,
                started_ms: -131,
                finished_ms: -9,
                body_bytes: 84_211,
                etag: None,
                last_modified: None,
                body_sha256: Some([(i % 251) as u8; 32]),
            };
            ledger::append_compact(&tx, anchors[i as usize], &c, Utc::now()).expect("compact");
        }
        tx.commit().expect("commit");
    }
    let tx = conn.transaction().expect("tx");
    ledger::derive::store::rebuild(&tx).expect("rebuild");
    tx.commit().expect("commit");
}

/// Seconds for one run of `bin --db ledger ARGS` (output discarded).
fn time_cli(bin: &str, ledger: &Path, args: &[&str]) -> f64 {
    let t0 = Instant::now();
    let status = Command::new(bin)
        .arg("--db")
        .arg(ledger)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run newsledger");
    assert!(status.success(), "{bin} {args:?} failed");
    t0.elapsed().as_secs_f64()
}

/// `serve` on a free loopback port; per path, seconds per GET (a first
/// request, then 5 timed).
fn time_pages(bin: &str, ledger: &Path, paths: &[&str]) -> Vec<Vec<f64>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new(bin)
        .arg("--db")
        .arg(ledger)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let get = |path: &str| -> Option<f64> {
        let t0 = Instant::now();
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut body = Vec::new();
        s.read_to_end(&mut body).ok()?;
        assert!(body.starts_with(b"HTTP/1.1 200"), "GET {path} failed");
        Some(t0.elapsed().as_secs_f64())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while get("/status").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let times = paths
        .iter()
        .map(|p| {
            get(p);
            (0..5).filter_map(|_| get(p)).collect()
        })
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    times
}

fn main() {
    let articles: u64 = std::env::var("NEWSLEDGER_BENCH_ARTICLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let fetches: u64 = std::env::var("NEWSLEDGER_BENCH_FETCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let path: PathBuf = std::env::var("NEWSLEDGER_BENCH_LEDGER")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(if fetches == 100 {
                format!("target/bench-reads-{articles}-v2.db")
            } else {
                format!("target/bench-reads-{articles}x{fetches}-v2.db")
            })
        });
    if !path.exists() {
        let t0 = Instant::now();
        build(&path, articles, fetches);
        eprintln!(
            "built {} in {:.0} s",
            path.display(),
            t0.elapsed().as_secs_f64()
        );
    }
    let conn = ledger::open_read_only(&path).expect("open");
    let entries: i64 = conn
        .query_row("SELECT MAX(seq) FROM ledger", [], |r| r.get(0))
        .expect("head");

    // History, in process: one article's entries replayed and checked.
    let mut lat = Vec::new();
    for k in 0..200u64 {
        let u = url((k * 7_919) % articles);
        let t0 = Instant::now();
        let record = ledger::read::article(&conn, &u).expect("article");
        let h = record.history();
        assert!(!h.is_empty());
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p99) = (percentile(&mut lat, 0.5), percentile(&mut lat, 0.99));

    let me = env!("CARGO_BIN_EXE_newsledger");
    let peer = std::env::var("NEWSLEDGER_BENCH_PEER").ok();
    let mut rows: Vec<(String, String)> = vec![(
        format!(
            "history latency, {entries} entries, {articles} articles (in process, 200 articles)"
        ),
        format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
    )];
    // The search index is built on first use: once, before timing.
    time_cli(me, &path, &["search", "version", "--limit", "1"]);
    let commands: [(&str, &[&str]); 8] = [
        ("articles --limit 100", &["articles", "--limit", "100"]),
        (
            "articles --limit 100 --offset 50000",
            &["articles", "--limit", "100", "--offset", "50000"],
        ),
        (
            "articles --source desk-3 --limit 100",
            &["articles", "--source", "desk-3", "--limit", "100"],
        ),
        ("changes (first 50)", &["changes"]),
        ("changes --since 1h", &["changes", "--since", "1h"]),
        (
            "changes --kind changed --offset 5000",
            &["changes", "--kind", "changed", "--offset", "5000"],
        ),
        ("status", &["status"]),
        (
            "search version --limit 20",
            &["search", "version", "--limit", "20"],
        ),
    ];
    for (name, args) in commands {
        let mut mine = Vec::new();
        let mut theirs = Vec::new();
        time_cli(me, &path, args);
        for _ in 0..5 {
            mine.push(time_cli(me, &path, args) * 1e3);
            if let Some(p) = &peer {
                theirs.push(time_cli(p, &path, args) * 1e3);
            }
        }
        let m = median(mine);
        let cell = if theirs.is_empty() {
            format!("{m:.0} ms")
        } else {
            let t = median(theirs);
            format!("{m:.0} ms (peer {t:.0} ms, ratio {:.2})", m / t)
        };
        rows.push((
            format!("`{name}`, whole process, median of 5, {entries} entries"),
            cell,
        ));
    }
    let one = url(articles / 2);
    let article_page = format!("/article?url={one}");
    let paths: Vec<&str> = vec![
        "/",
        "/?page=100",
        "/?kind=changed",
        "/articles",
        "/articles?page=500",
        "/articles?status=changed",
        "/sources",
        "/status",
        "/feed.atom",
        "/search?q=version",
        &article_page,
    ];
    let mine = time_pages(me, &path, &paths);
    let theirs = peer.as_ref().map(|p| time_pages(p, &path, &paths));
    for (i, p) in paths.iter().enumerate() {
        let m = median(
            mine.get(i)
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|t| t * 1e3)
                .collect(),
        );
        let cell = match theirs.as_ref().and_then(|t| t.get(i)) {
            Some(t) => {
                let t = median(t.iter().map(|t| t * 1e3).collect());
                format!("{m:.0} ms (peer {t:.0} ms, ratio {:.2})", m / t)
            }
            None => format!("{m:.0} ms"),
        };
        rows.push((
            format!("web `GET {p}`, median of 5, {entries} entries"),
            cell,
        ));
    }
    println!("| measure | result | target |");
    println!("| --- | --- | --- |");
    for (k, v) in rows {
        let target = if k.starts_with("history") {
            "p99 < 10 ms"
        } else {
            "< 200 ms"
        };
        println!("| {k} | {v} | {target} |");
    }
}

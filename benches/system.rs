//! System benchmarks: ledger appends, verify throughput, history latency,
//! bytes per unchanged-fetch entry, memory, and end-to-end ingest from a
//! loopback site of many hosts. Prints one Markdown table.
//!
//!     cargo bench --bench system                 # 100,000-entry ledger
//!     NEWSLEDGER_BENCH_ENTRIES=1000000 cargo bench --bench system
//!
//! bench/system.sh runs it and records the table in BENCHMARKS.md.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;

#[path = "../tests/support/server.rs"]
mod server;
use newsledger::demo::site::{self, Chrome};
use newsledger::ledger::{self, Kind};
use server::{Page, Server};

#[path = "support/stats.rs"]
mod stats;
use stats::{median, percentile};

/// A realistic payload of an `unchanged` fetch entry.
fn unchanged_payload(i: u64) -> serde_json::Value {
    json!({
        "source": "bench", "requested_url": format!("https://news{}.example/2026/01/article-{i}/", i % 100),
        "final_url": format!("https://news{}.example/2026/01/article-{i}/", i % 100),
        "started_at": "2026-01-19T12:00:00.000Z", "finished_at": "2026-01-19T12:00:00.120Z",
        "status": 200, "body_bytes": 84211, "body_sha256": format!("{:064x}", i),
        "content_hash": format!("{:064x}", i * 7 + 1), "content_type": "text/html; charset=utf-8",
        "etag": null, "last_modified": null, "extractor": "newsledger-extract/1",
        "article_url": format!("https://news{}.example/2026/01/article-{i}/", i % 100), "outcome": "unchanged",
    })
}

/// Builds a ledger of `n` fetch entries in batches (the bulk path: one
/// transaction per 10,000 entries). One article in ten gets its first fetch
/// and `revision` entry (with a text blob), as the writer records them, so
/// that `history` replays real entries; then the derived tables are
/// rebuilt from the chain (timed apart).
fn build(path: &Path, n: u64) -> (Duration, Duration) {
    let mut conn = ledger::open_writable(path).expect("open");
    let t0 = Instant::now();
    let mut i = 0;
    while i < n {
        let tx = conn.transaction().expect("tx");
        for _ in 0..10_000.min(n - i) {
            let mut p = unchanged_payload(i);
            let url = p["article_url"].as_str().unwrap_or_default().to_string();
            if i % 10 == 0 {
                p["outcome"] = json!("new");
            }
            let seq = ledger::append(&tx, Kind::Fetch, Some(&url), &p, Utc::now()).expect("append");
            if i % 10 == 0 {
                let article = json!({"title": "T", "text": format!("Body of article {i}."), "extractor_version": "newsledger-extract/2"});
                let blob = ledger::blobs::put(&tx, article.to_string().as_bytes()).expect("blob");
                let rev = json!({
                    "article_url": url, "revision": 1, "change": "new", "content_hash": p["content_hash"],
                    "field_hashes": {"body": format!("{:064x}", i)}, "fields_changed": ["title", "byline", "body"],
                    "words_added": 4, "words_removed": 0, "text_blob": blob, "raw_blob": null,
                    "fetch_seq": seq, "extractor": "newsledger-extract/2", "title": "T", "declared": false,
                });
                ledger::append(&tx, Kind::Revision, Some(&url), &rev, Utc::now())
                    .expect("revision");
            }
            i += 1;
        }
        tx.commit().expect("commit");
    }
    let built = t0.elapsed();
    let t1 = Instant::now();
    let tx = conn.transaction().expect("tx");
    ledger::derive::store::rebuild(&tx).expect("rebuild");
    tx.commit().expect("commit");
    (built, t1.elapsed())
}

/// Appends with one durable (synchronous=FULL) transaction each, as the daemon does.
fn durable_appends(path: &Path, n: u64) -> f64 {
    let mut conn = ledger::open_writable(path).expect("open");
    let t0 = Instant::now();
    for i in 0..n {
        let tx = conn.transaction().expect("tx");
        let p = unchanged_payload(i);
        ledger::append(&tx, Kind::Fetch, p["article_url"].as_str(), &p, Utc::now())
            .expect("append");
        tx.commit().expect("commit");
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

/// Bytes on disk per compact entry (an unchanged refetch): 1,000 articles
/// fetched 100 times each, the first fetch full (with its revision), every
/// later one compact, as the writer stores them; measured as the growth of
/// the file over the compact entries alone (derived rows, indexes and tree
/// nodes included).
fn compact_entry_bytes(path: &Path) -> (f64, f64) {
    use newsledger::ledger::entry::{Compact, CompactOutcome};
    let mut conn = ledger::open_writable(path).expect("open");
    let mut anchors = Vec::new();
    let tx = conn.transaction().expect("tx");
    for i in 0..1_000u64 {
        let p = unchanged_payload(i);
        let url = p["article_url"].as_str().unwrap_or_default().to_string();
        anchors.push(ledger::append(&tx, Kind::Fetch, Some(&url), &p, Utc::now()).expect("full"));
    }
    tx.commit().expect("commit");
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
    let before = ledger::size_on_disk(path);
    let mut n = 0u64;
    for round in 0..99u64 {
        let tx = conn.transaction().expect("tx");
        for (i, anchor) in anchors.iter().enumerate() {
            let c = Compact {
                outcome: CompactOutcome::Unchanged,
                status: 200,
                started_ms: -131,
                finished_ms: -9,
                body_bytes: 84_211,
                etag: None,
                last_modified: None,
                body_sha256: Some(
                    sha2::Digest::finalize(sha2::Digest::chain_update(
                        sha2::Sha256::default(),
                        (round * 1_000 + i as u64).to_le_bytes(),
                    ))
                    .into(),
                ),
            };
            ledger::append_compact(&tx, *anchor, &c, Utc::now()).expect("compact");
            n += 1;
        }
        tx.commit().expect("commit");
    }
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
    let compact = (ledger::size_on_disk(path) - before) as f64 / n as f64;
    // The same fetches as full entries, for comparison.
    let full_path = path.with_extension("full.db");
    let mut conn = ledger::open_writable(&full_path).expect("open");
    let tx = conn.transaction().expect("tx");
    for i in 0..1_000u64 {
        let p = unchanged_payload(i);
        ledger::append(&tx, Kind::Fetch, p["article_url"].as_str(), &p, Utc::now()).expect("full");
    }
    tx.commit().expect("commit");
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
    let before = ledger::size_on_disk(&full_path);
    for _ in 0..20u64 {
        let tx = conn.transaction().expect("tx");
        for i in 0..1_000u64 {
            let p = unchanged_payload(i);
            ledger::append(&tx, Kind::Fetch, p["article_url"].as_str(), &p, Utc::now())
                .expect("full");
        }
        tx.commit().expect("commit");
    }
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
    let full = (ledger::size_on_disk(&full_path) - before) as f64 / 20_000.0;
    (compact, full)
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let entries: u64 = std::env::var("NEWSLEDGER_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rows: Vec<(String, String, String)> = Vec::new();

    // Ledger: durable appends/s (median of 3 × 500).
    let appends = median(
        (0..3)
            .map(|r| durable_appends(&dir.path().join(format!("a{r}.db")), 500))
            .collect(),
    );
    rows.push((
        "ledger appends, one durable transaction each".into(),
        format!("{appends:.0} /s"),
        "—".into(),
    ));

    let (compact, full) = compact_entry_bytes(&dir.path().join("compact.db"));
    rows.push((
        "bytes on disk per unchanged refetch: compact entry / full entry (same URL fetched again)"
            .into(),
        format!("{compact:.0} B / {full:.0} B"),
        "≤ 200 B".into(),
    ));

    // Growth: build, verify, history at 10k, 100k (and 1M when asked).
    let mut sizes = vec![10_000u64, 100_000];
    if entries > 100_000 {
        sizes.push(entries);
    }
    // NEWSLEDGER_BENCH_ONLY=ingest: the end-to-end ingest alone.
    if std::env::var("NEWSLEDGER_BENCH_ONLY").is_ok_and(|v| v == "ingest") {
        sizes.clear();
    }
    for n in sizes {
        let path = dir.path().join(format!("l{n}.db"));
        let (build_time, rebuild_time) = build(&path, n);
        let total: i64 = rusqlite::Connection::open(&path)
            .and_then(|c| c.query_row("SELECT MAX(seq) FROM ledger", [], |r| r.get(0)))
            .expect("head");
        let conn = ledger::open_read_only(&path).expect("ro");
        let verify_rate = median(
            (0..3)
                .map(|_| {
                    let t0 = Instant::now();
                    let r = ledger::verify::verify(&conn, None).expect("verify");
                    assert!(r.ok(), "{:?} {:?}", r.first_break, r.derived.first());
                    r.entries as f64 / t0.elapsed().as_secs_f64()
                })
                .collect(),
        );
        let bytes = ledger::size_on_disk(&path) as f64 / n as f64;
        let chain_rate = median(
            (0..3)
                .map(|_| {
                    let t0 = Instant::now();
                    let options = ledger::verify::Options {
                        chain_only: true,
                        progress: None,
                    };
                    let r = ledger::verify::verify_with(&conn, None, &options).expect("verify");
                    assert!(r.ok());
                    r.entries as f64 / t0.elapsed().as_secs_f64()
                })
                .collect(),
        );
        // history: the query behind `newsledger history`, on indexed derived tables.
        let mut lat: Vec<f64> = (0..500)
            .map(|i| {
                let a = ((i as u64 * 7919) % (n / 10)) * 10;
                let url = format!("https://news{}.example/2026/01/article-{a}/", a % 100);
                let t0 = Instant::now();
                let h = ledger::read::article(&conn, &url)
                    .expect("history")
                    .history();
                assert_eq!(h.len(), 1, "{url}");
                t0.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        let (p50, p99) = (percentile(&mut lat, 0.5), percentile(&mut lat, 0.99));
        rows.push((
            format!("bulk build, {n} fetches ({total} entries)"),
            format!("{:.0} entries/s", total as f64 / build_time.as_secs_f64()),
            "—".into(),
        ));
        rows.push((
            format!("rebuild derived tables from the chain, {total} entries"),
            format!("{:.0} entries/s", total as f64 / rebuild_time.as_secs_f64()),
            "—".into(),
        ));
        rows.push((
            format!("verify --chain-only (hashes and links; one thread per core from 400k entries), {total} entries"),
            format!("{chain_rate:.0} entries/s"),
            "≥ 1,000,000/s".into(),
        ));
        rows.push((
            format!("verify (chain, blobs, derived tables), {total} entries"),
            format!("{verify_rate:.0} entries/s"),
            "—".into(),
        ));
        rows.push((
            format!("history latency, {n} entries"),
            format!("p50 {p50:.3} ms, p99 {p99:.3} ms"),
            "p99 < 10 ms".into(),
        ));
        rows.push((
            format!("bytes per fetch entry as built here (full JSON entries, every URL distinct), {n} entries"),
            format!("{bytes:.0} B"),
            "—".into(),
        ));
    }

    // End to end: 100 hosts × 100 articles on loopback, politeness off.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (rate, peak, peer) = rt.block_on(async {
        let seeds = site::seeds();
        let mut servers = Vec::new();
        let mut urls = Vec::new();
        for h in 0..100u8 {
            let s = Server::start_on(&format!("127.0.1.{}", h + 1))
                .await
                .expect("bind loopback");
            for i in 0..100 {
                let a = &seeds[i % seeds.len()];
                let path = format!("/a/{i}/");
                let url = s.url(&path);
                s.set(
                    &path,
                    Page::html(site::render(a, &url, &Chrome::visit(i as u64))),
                );
                urls.push(url::Url::parse(&url).expect("url"));
            }
            servers.push(s);
        }
        // The ingest runs in its own `newsledger once` process, so that its
        // peak RSS is the daemon's own (GNU time reports it). With
        // NEWSLEDGER_BENCH_PEER=/path/to/another/newsledger (an earlier
        // release), the same ingest runs with it first, into its own ledger.
        let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
        let ingest = |exe: String, name: &'static str| {
            let cfg_path = dir.path().join(format!("{name}.toml"));
            let list = list.join(", ");
            let db = dir.path().join(format!("{name}.db"));
            let n = urls.len();
            async move {
                std::fs::write(
                    &cfg_path,
                    format!(
                        "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\nrespect_robots_txt = false\nconcurrency = 32\n[[source]]\nname = \"bench\"\nschedule = \"0 0 1 1 *\"\nurls = [{list}]\n",
                        db.display(),
                    ),
                )
                .expect("write");
                let t0 = Instant::now();
                let out = tokio::process::Command::new("/usr/bin/time")
                    .args(["-f", "%M", &exe, "--config", cfg_path.to_str().expect("path"), "once"])
                    .env("RUST_LOG", "warn")
                    .output()
                    .await
                    .expect("run once");
                let rate = n as f64 / t0.elapsed().as_secs_f64();
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(stdout.contains(&format!("{n} new")), "{exe}: {stdout}");
                let peak_kib: u64 = String::from_utf8_lossy(&out.stderr).lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
                (rate, peak_kib)
            }
        };
        let peer = match std::env::var("NEWSLEDGER_BENCH_PEER") {
            Ok(exe) => Some(ingest(exe, "peer").await.0),
            Err(_) => None,
        };
        let (rate, peak_kib) = ingest(env!("CARGO_BIN_EXE_newsledger").to_string(), "e2e").await;
        drop(servers);
        (rate, peak_kib, peer)
    });
    if let Some(p) = peer {
        rows.push((
            "end-to-end ingest with NEWSLEDGER_BENCH_PEER, same run".into(),
            format!("{p:.0} articles/s (ratio {:.2})", rate / p),
            "—".into(),
        ));
    }
    rows.push((
        "end-to-end ingest, 100 hosts × 100 articles (new), durable commits".into(),
        format!("{rate:.0} articles/s"),
        "≥ 500/s".into(),
    ));
    rows.push((
        "peak RSS of `once` during that ingest".into(),
        format!("{:.1} MiB", peak as f64 / 1024.0),
        "—".into(),
    ));

    // Idle daemon watching 100,000 configured articles.
    let cfg_path = dir.path().join("idle.toml");
    let list: Vec<String> = (0..100_000)
        .map(|i| format!("\"https://news{}.example/a/{i}/\"", i % 100))
        .collect();
    std::fs::write(&cfg_path, format!("[ledger]\npath = \"{}\"\n[[source]]\nname = \"idle\"\nschedule = \"0 0 1 1 *\"\nurls = [{}]\n", dir.path().join("idle.db").display(), list.join(", "))).expect("write");
    let exe = env!("CARGO_BIN_EXE_newsledger");
    let mut child = std::process::Command::new(exe)
        .args(["--config", cfg_path.to_str().expect("path"), "run"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_secs(2));
    let idle = rss_kib(child.id(), "VmRSS:");
    let _ = child.kill();
    let _ = child.wait();
    rows.push((
        "RSS of `run`, idle, 100,000 watched articles".into(),
        format!("{:.1} MiB", idle as f64 / 1024.0),
        "< 64 MB".into(),
    ));

    println!("| measure | result | target |\n| --- | --- | --- |");
    for (m, r, t) in rows {
        println!("| {m} | {r} | {t} |");
    }
    projection(compact, full);
}

/// Ledger size per year from the measured per-entry costs (this run) and
/// per-revision costs (`cargo bench --bench blobs`: a first capture of a
/// 60–200 KB page ≈ 31 KB stored at zstd level 1, its text ≈ 3 KB; a later one-sentence
/// edit ≈ 0.5 KB as deltas), for articles fetched hourly all year
/// (configured URLs) and for discovered articles on the default revisit
/// ladder. Assumed, not measured: two edits per article per year, one full
/// entry in 50 fetches (a validator disappearing, an error, a restart of
/// the sequence).
fn projection(compact: f64, full: f64) {
    const FIRST_REVISION: f64 = 34_500.0 + 1_500.0; // capture + text + revision/fetch entries
    const EDIT: f64 = 500.0 + 1_500.0; // deltas + revision/fetch entries
    let per_fetch = compact * 49.0 / 50.0 + full / 50.0;
    let hourly = |n: f64| n * (8_760.0 * per_fetch + FIRST_REVISION + 2.0 * EDIT);
    // Default ladder: hourly (every cycle) for 2 days, daily to 30 days,
    // weekly to ~3 months: about 48 + 28 + 9 fetches, then retired.
    let ladder_fetches = 48.0 + 28.0 + 9.0;
    let ladder = |n: f64| n * (ladder_fetches * per_fetch + FIRST_REVISION + 2.0 * EDIT);
    let gb = |b: f64| b / 1e9;
    println!(
        "\n| articles | fetched hourly all year | discovered per year, on the revisit ladder | before (full 881 B entries, hourly) |\n| --- | --- | --- | --- |"
    );
    for n in [1_000.0, 10_000.0, 100_000.0] {
        println!(
            "| {n:.0} | {:.1} GB | {:.2} GB | {:.1} GB |",
            gb(hourly(n)),
            gb(ladder(n)),
            gb(n * (8_760.0 * full + FIRST_REVISION + 2.0 * EDIT)),
        );
    }
    println!(
        "\nPer fetch: {per_fetch:.0} B (compact {compact:.0} B, full {full:.0} B); a new article {FIRST_REVISION:.0} B; an edit {EDIT:.0} B."
    );
}

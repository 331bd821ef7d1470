//! Beyond one machine (issue 37, part 6), measured in one run: a loopback
//! site of 10 hosts (127.0.3.1–10) whose every response takes 200 ms, 300
//! articles; `newsledger once` records them into SQLite (the default), into
//! PostgreSQL with one worker, and into PostgreSQL with three worker
//! processes at once (leases and the hosts' pace shared), first ingest then
//! re-fetch. Then appends per second through each storage's sequencer
//! (checked appends of 64 entries, the writer's group size), and the rate
//! at which `verify` reads a PostgreSQL ledger whole.
//!
//!     cargo bench --bench workers
//!
//! Needs PostgreSQL's server binaries (Debian: apt-get install postgresql).
//! Every request goes to 127.0.0.0/8.

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod pg;
#[path = "../tests/support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use newsledger::demo::site;
use newsledger::ledger::entry::{self, ZERO_HASH};
use newsledger::ledger::storage::postgres::PgStorage;
use newsledger::ledger::storage::sqlite::SqliteStorage;
use newsledger::ledger::storage::{Payload, RawEntry, Storage, replica};

const HOSTS: usize = 10;
const PER_HOST: usize = 30;
const LATENCY: Duration = Duration::from_millis(200);

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_newsledger")
}

fn spawn_once(cfg: &Path) -> Child {
    Command::new(exe())
        .args(["--config", cfg.to_str().expect("path"), "once"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run once")
}

/// Runs the workers' `once` together; seconds until the last one ends, and
/// how many fetches of each outcome their summaries name.
fn cycle(cfgs: &[PathBuf], outcome: &str) -> (f64, usize) {
    let t0 = Instant::now();
    let children: Vec<Child> = cfgs.iter().map(|c| spawn_once(c)).collect();
    let mut n = 0;
    for c in children {
        let out = c.wait_with_output().expect("once");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        n += stdout
            .lines()
            .filter_map(|l| {
                let at = l.find(&format!(" {outcome}"))?;
                l[..at]
                    .rsplit(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .sum::<usize>();
    }
    (t0.elapsed().as_secs_f64(), n)
}

fn config(dir: &Path, name: &str, urls: &[String], ledger: &str) -> PathBuf {
    let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    let text = format!(
        "[ledger]\npath = \"{}\"\n{ledger}\n[fetch]\nper_host_interval = \"0s\"\ntimeout = \"20s\"\nconcurrency = 64\n\n[[source]]\nname = \"bench\"\nschedule = \"0 0 1 1 *\"\nurls = [{}]\n\n[node]\nname = \"{name}\"\n",
        dir.join(format!("{name}.db")).display(),
        list.join(", ")
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("config");
    path
}

/// A chain of `n` JSON entries after a genesis, as a writer's would be.
fn chain(n: usize) -> Vec<RawEntry> {
    let mut prev = ZERO_HASH;
    (1..=n as i64)
        .map(|seq| {
            let recorded_at = format!("2026-12-07T10:00:{:02}.000Z", seq % 60);
            let kind = if seq == 1 { "genesis" } else { "fetch" };
            let url = (seq > 1).then(|| format!("https://example.org/a/{seq}"));
            let payload = format!(
                "{{\"outcome\":\"unchanged\",\"requested_url\":\"https://example.org/a/{seq}\",\"source\":\"bench\",\"status\":200}}"
            );
            let hash = entry::entry_hash(seq, &recorded_at, kind, url.as_deref(), &payload, &prev);
            let e = RawEntry {
                seq,
                recorded_at,
                kind: kind.into(),
                url,
                payload: Payload::Json(payload),
                prev_hash: prev,
                entry_hash: hash,
                ref_seq: None,
            };
            prev = hash;
            e
        })
        .collect()
}

/// Entries per second through a storage's checked append, 64 at a time.
fn appends(s: &mut dyn Storage, entries: &[RawEntry]) -> f64 {
    let t0 = Instant::now();
    for batch in entries.chunks(64) {
        s.append(batch).expect("append");
    }
    entries.len() as f64 / t0.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let Some(pg) = pg::Postgres::start() else {
        eprintln!("PostgreSQL's server binaries not found: apt-get install postgresql");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let seeds = site::seeds();
    let mut urls = Vec::new();
    let servers: Vec<server::Server> = (1..=HOSTS)
        .map(|h| {
            let s = rt
                .block_on(server::Server::start_on(&format!("127.0.3.{h}")))
                .expect("bind 127.0.3.x");
            for i in 0..PER_HOST {
                let mut a = seeds[(h + i) % seeds.len()].clone();
                a.path = format!("/a/{i:04}/");
                let url = s.url(&a.path);
                let page = site::render(&a, &url, &site::Chrome::visit(0));
                s.set(&a.path, server::Page::html(page).with_delay(LATENCY));
                urls.push(url);
            }
            s
        })
        .collect();
    let n = urls.len();
    println!(
        "{n} articles on {HOSTS} loopback hosts, every response {} ms; `once` with `concurrency = 64`, per_host_interval 0s.\n",
        LATENCY.as_millis()
    );
    println!("| ledger | workers | first ingest | articles/s | re-fetch | articles/s |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let sqlite = vec![config(dir.path(), "sqlite", &urls, "")];
    let one_url = pg.database();
    let one = vec![config(
        dir.path(),
        "pg1",
        &urls,
        &format!("url = \"{one_url}\""),
    )];
    let three_url = pg.database();
    let three: Vec<PathBuf> = (1..=3)
        .map(|w| {
            config(
                dir.path(),
                &format!("pg3-w{w}"),
                &urls,
                &format!("url = \"{three_url}\""),
            )
        })
        .collect();
    for (label, workers, cfgs) in [
        ("SQLite (default)", 1, &sqlite),
        ("PostgreSQL", 1, &one),
        ("PostgreSQL", 3, &three),
    ] {
        let (first, new) = cycle(cfgs, "new");
        let (again, same) = cycle(cfgs, "not_modified");
        assert_eq!(new, n, "{label} x{workers}: {new} new of {n}");
        assert!(same >= n, "{label} x{workers}: {same} not modified of {n}");
        println!(
            "| {label} | {workers} | {first:.1} s | {:.0} | {again:.1} s | {:.0} |",
            n as f64 / first,
            n as f64 / again
        );
    }
    drop(servers);

    // Appends through each storage's sequencer.
    let entries = chain(20_000);
    let appended_url = pg.database();
    let mut pg_store = PgStorage::connect(&appended_url).expect("connect");
    let pg_rate = appends(&mut pg_store, &entries);
    let sqlite_path = dir.path().join("appends.db");
    let mut sqlite_store = SqliteStorage::create(&sqlite_path).expect("create");
    let sqlite_rate = appends(&mut sqlite_store, &entries);
    println!(
        "\nChecked appends, 64 entries a call, {} entries: PostgreSQL {pg_rate:.0}/s, SQLite {sqlite_rate:.0}/s (PostgreSQL {:.2}x).",
        entries.len(),
        pg_rate / sqlite_rate
    );

    // A new replica of those entries (each checked as it is pulled, the
    // chain folded), then PostgreSQL read whole and compared with it.
    let pulled = dir.path().join("pulled.db");
    let t0 = Instant::now();
    replica::follow(&appended_url, &pulled).expect("follow");
    let follow_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    replica::audit(&appended_url, &pulled).expect("audit");
    let whole_s = t0.elapsed().as_secs_f64();
    println!(
        "Those {} entries: a new replica made from PostgreSQL in {follow_s:.2} s ({:.0} entries/s, each checked, the chain folded); PostgreSQL read whole and compared with it in {whole_s:.2} s ({:.0} entries/s).",
        entries.len(),
        entries.len() as f64 / follow_s,
        entries.len() as f64 / whole_s
    );

    // verify on PostgreSQL: the ledger the one worker recorded, read whole.
    let replica_path = dir.path().join("pg1.db");
    let t0 = Instant::now();
    let audited = replica::audit(&one_url, &replica_path).expect("audit");
    let audit_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let out = Command::new(exe())
        .args(["--db", &one_url, "verify"])
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .expect("verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verify_s = t0.elapsed().as_secs_f64();
    println!(
        "`verify --db postgres://…` of that ledger ({} entries, {} blobs) from a new replica: {verify_s:.2} s; PostgreSQL read whole and compared: {audit_s:.2} s ({:.0} entries/s).",
        audited.shared.entries,
        audited.blobs_same,
        audited.shared.entries as f64 / audit_s
    );
}

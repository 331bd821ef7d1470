//! Realistic ingest: nginx (the distribution's package) serves 100 loopback
//! hosts × 50 article pages of 60–200 KB, built from the seed articles with
//! heavy chrome (inline scripts and styles, mega menus, card grids, footers),
//! with nginx's own ETag and Last-Modified. `newsledger once` ingests them
//! all into a new ledger (durable commits), then runs again: every page
//! answers 304 to the conditional request. Prints one Markdown table.
//!
//!     cargo bench --bench ingest
//!     NEWSLEDGER_BENCH_PEER=/path/to/other/newsledger cargo bench --bench ingest
//!
//! With a peer, the two binaries take turns for NEWSLEDGER_BENCH_ROUNDS
//! rounds (5 unless set), each on a new ledger, and the table gives the
//! medians and the median of the per-round ratios.
//!
//! Needs `nginx` on PATH or in /usr/sbin (Debian: nginx-light). Every
//! request goes to 127.0.2.0/24.

#[path = "support/nginx.rs"]
mod nginx;
#[path = "support/pages.rs"]
mod pages;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use newsledger::demo::site;

const HOSTS: usize = 100;
const PAGES: usize = 50;
/// The paced re-fetch's per-host interval: 50 pages per host take 5 s.
const PACE: &str = "100ms";

/// Writes the 100 × 50 pages under `root/HOST/a/N/index.html`; returns
/// the URLs and the bytes written.
fn build_site(root: &Path, port: u16) -> (Vec<String>, u64) {
    let seeds = site::seeds();
    let mut urls = Vec::new();
    let mut bytes = 0u64;
    let mut rng = pages::Rng(0x9e37_79b9_7f4a_7c15);
    for h in 0..HOSTS {
        for p in 0..PAGES {
            let seed = &seeds[(h + p) % seeds.len()];
            let url = format!("http://127.0.2.{}:{port}/a/{p}/", h + 1);
            let target = 60_000 + (rng.next() % 140_000) as usize;
            let page = pages::page(
                seed,
                &url,
                (h * PAGES + p) as u64,
                &mut rng,
                target - 20_000,
            );
            let dir = root.join(format!("{}", h + 1)).join(format!("a/{p}"));
            std::fs::create_dir_all(&dir).expect("site dir");
            std::fs::write(dir.join("index.html"), &page).expect("page");
            bytes += page.len() as u64;
            urls.push(url);
        }
    }
    (urls, bytes)
}

struct Run {
    rate: f64,
    peak_mib: f64,
    seconds: f64,
    /// newsledger's CPU time (user + system) per article, ms: steadier
    /// than the rate on a shared machine, and what the rate is made of.
    cpu_ms: f64,
    /// Bytes written to storage per fetch, KB: what a year of fetches
    /// costs the disk, beyond what the ledger keeps.
    written_kb: f64,
}

/// One `newsledger once` over every URL; `expect` is the outcome every
/// fetch must have had ("new", "not modified"); `run` names the run
/// ("first", "again", "steady", "paced").
fn once(exe: &str, cfg: &Path, n: usize, expect: &str, run: &str) -> Run {
    let t0 = Instant::now();
    // NEWSLEDGER_BENCH_WRAP="perf record -o FILE --" profiles the first
    // ingests, or the runs NEWSLEDGER_BENCH_WRAP_RUN names.
    let wrapped = std::env::var("NEWSLEDGER_BENCH_WRAP_RUN").unwrap_or_else(|_| "first".into());
    let wrap = std::env::var("NEWSLEDGER_BENCH_WRAP")
        .ok()
        .filter(|_| wrapped == run)
        .unwrap_or_default();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M %U %S %O"])
        .args(wrap.split_whitespace())
        .args([exe, "--config", cfg.to_str().expect("path"), "once"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run once");
    let seconds = t0.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{n} {expect}")),
        "{exe}: expected {n} {expect}: {stdout}"
    );
    // GNU time's last line: peak RSS (KiB), user and system seconds, and
    // file system outputs (512-byte blocks the process wrote to storage:
    // WAL frames, checkpoints, the database file).
    let stderr = String::from_utf8_lossy(&out.stderr);
    let figures: Vec<f64> = stderr
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let figure = |i: usize| figures.get(i).copied().unwrap_or(0.0);
    Run {
        rate: n as f64 / seconds,
        peak_mib: figure(0) / 1024.0,
        seconds,
        cpu_ms: (figure(1) + figure(2)) * 1000.0 / n as f64,
        written_kb: figure(3) * 512.0 / 1000.0 / n as f64,
    }
}

/// One round: a first ingest, the re-fetch after it (each not-modified
/// fetch recorded in full, the first 304 of its URL), a second re-fetch (the
/// steady state: compact entries that refer to those), a third paced as a
/// daemon fetches, and the ledger's size.
struct Measured {
    first: Run,
    again: Run,
    steady: Run,
    paced: Run,
    size: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Each figure's median over the rounds (not one round's figures).
fn medians(runs: &[Measured]) -> Measured {
    let of = |f: &dyn Fn(&Run) -> f64, which: fn(&Measured) -> &Run| {
        median(runs.iter().map(|r| f(which(r))).collect())
    };
    let run = |which: fn(&Measured) -> &Run| Run {
        rate: of(&|r| r.rate, which),
        peak_mib: of(&|r| r.peak_mib, which),
        seconds: of(&|r| r.seconds, which),
        cpu_ms: of(&|r| r.cpu_ms, which),
        written_kb: of(&|r| r.written_kb, which),
    };
    Measured {
        first: run(|m| &m.first),
        again: run(|m| &m.again),
        steady: run(|m| &m.steady),
        paced: run(|m| &m.paced),
        size: median(runs.iter().map(|r| r.size as f64).collect()) as u64,
    }
}

/// Bytes written to storage per fetch in each of a round's runs.
fn written(first: &Run, again: &Run, steady: &Run, paced: &Run) -> String {
    format!(
        "{:.1} KB / {:.1} KB / {:.1} KB / {:.1} KB",
        first.written_kb, again.written_kb, steady.written_kb, paced.written_kb
    )
}

/// Deletes a measured ledger and its side files (each round's is ~200 MB).
fn remove_ledger(db: &Path) {
    let name = db.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir(db.parent().unwrap_or(Path::new("."))) {
        for e in entries.flatten() {
            if e.file_name().to_str().is_some_and(|f| f.starts_with(name)) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let Some(nginx) = nginx::binary() else {
        eprintln!("nginx not found: install it (Debian: apt-get install nginx-light)");
        std::process::exit(2);
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("site");
    let port = nginx::free_port();
    let (urls, bytes) = build_site(&root, port);
    nginx::readable(dir.path());
    // The ceiling extraction alone sets: pages/s on one thread, for 200 pages.
    let sample: Vec<(String, String)> = urls
        .iter()
        .take(200)
        .map(|u| {
            let path = u.split_once("/a/").map(|(_, p)| p).unwrap_or_default();
            let host = u
                .trim_start_matches("http://127.0.2.")
                .split(':')
                .next()
                .unwrap_or("1");
            let html =
                std::fs::read_to_string(root.join(host).join("a").join(path).join("index.html"))
                    .expect("page");
            (u.clone(), html)
        })
        .collect();
    // Best of three passes: the fastest is the least disturbed by the
    // machine's other tenants.
    let extract_rate = (0..3)
        .map(|_| {
            let t0 = Instant::now();
            for (u, html) in &sample {
                let a = newsledger::extract::extract(html, Some(u), &Default::default());
                assert!(!a.text.is_empty(), "{u}");
            }
            sample.len() as f64 / t0.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max);
    let mut servers = String::new();
    for h in 1..=HOSTS {
        let _ = writeln!(
            servers,
            "server {{ listen 127.0.2.{h}:{port}; root {}/{h}; index index.html; }}",
            root.display()
        );
    }
    let ready = format!("127.0.2.{HOSTS}:{port}");
    let mut server = nginx::Nginx::start(&nginx, &dir.path().join("nginx"), &servers, &ready);

    let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    let config = |name: &str, interval: &str| {
        let cfg = dir.path().join(format!("{name}-{interval}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"{interval}\"\nrespect_robots_txt = false\nconcurrency = 64\n[[source]]\nname = \"bench\"\nschedule = \"0 0 1 1 *\"\nurls = [{}]\n",
                dir.path().join(format!("{name}.db")).display(),
                list.join(", ")
            ),
        )
        .expect("config");
        cfg
    };
    let n = urls.len();
    let mut rows: Vec<(String, String, String)> = Vec::new();
    // One measurement: a new ledger ingested, then every page again three
    // times (304s).
    let measure = |exe: &str, name: &str| {
        let cfg = config(name, "0s");
        let first = once(exe, &cfg, n, "new", "first");
        let again = once(exe, &cfg, n, "not_modified", "again");
        let steady = once(exe, &cfg, n, "not_modified", "steady");
        // As a daemon's cycle fetches: one request per host every PACE,
        // so the writer commits a fetch or two at a time, not dozens.
        let paced = once(exe, &config(name, PACE), n, "not_modified", "paced");
        let db = dir.path().join(format!("{name}.db"));
        let size = newsledger::ledger::size_on_disk(&db);
        // NEWSLEDGER_BENCH_KEEP=FILE keeps a copy of the round's ledger
        // (the last round's), to see where its pages went (`dbstat`).
        if let Ok(keep) = std::env::var("NEWSLEDGER_BENCH_KEEP") {
            std::fs::copy(&db, keep).expect("NEWSLEDGER_BENCH_KEEP: copy the ledger");
        }
        remove_ledger(&db);
        Measured {
            first,
            again,
            steady,
            paced,
            size,
        }
    };
    let main_exe = env!("CARGO_BIN_EXE_newsledger");
    let peer_exe = std::env::var("NEWSLEDGER_BENCH_PEER").ok();
    // With a peer, the two binaries take turns over several rounds, the
    // one that goes first alternating, and each figure is the median: this
    // machine's speed drifts by more than the differences being measured,
    // and runs back to back share the drift.
    let rounds = std::env::var("NEWSLEDGER_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if peer_exe.is_some() { 5 } else { 1 })
        .max(1);
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    for round in 0..rounds {
        let peer_first = round % 2 == 0;
        if let (Some(peer), true) = (&peer_exe, peer_first) {
            theirs.push(measure(peer, &format!("peer{round}")));
        }
        mine.push(measure(main_exe, &format!("ingest{round}")));
        if let (Some(peer), false) = (&peer_exe, peer_first) {
            theirs.push(measure(peer, &format!("peer{round}")));
        }
    }
    server.stop();
    let Measured {
        first,
        again,
        steady,
        paced,
        size,
    } = medians(&mine);
    let peer = (!theirs.is_empty()).then(|| {
        let ratio = |f: &dyn Fn(&Measured, &Measured) -> f64| {
            median(mine.iter().zip(&theirs).map(|(m, t)| f(m, t)).collect())
        };
        (
            medians(&theirs),
            ratio(&|m, t| m.first.rate / t.first.rate),
            ratio(&|m, t| t.first.cpu_ms / m.first.cpu_ms),
            ratio(&|m, t| m.again.rate / t.again.rate),
        )
    });

    rows.push((
        format!(
            "first ingest, {HOSTS} hosts × {PAGES} pages ({:.0} KB average, {:.0} MB), durable commits{}",
            bytes as f64 / n as f64 / 1000.0,
            bytes as f64 / 1e6,
            if rounds > 1 {
                format!("; medians of {rounds} rounds")
            } else {
                String::new()
            }
        ),
        format!(
            "{:.0} articles/s ({:.1} s, {:.0} MB/s; CPU {:.2} ms per article)",
            first.rate,
            first.seconds,
            bytes as f64 / 1e6 / first.seconds,
            first.cpu_ms
        ),
        "≥ 1,000/s".into(),
    ));
    rows.push((
        "extraction alone (parse included), one thread, same pages, best of 3".into(),
        format!(
            "{extract_rate:.0} pages/s (so at most {:.0}/s on {} cores for extraction alone)",
            extract_rate * std::thread::available_parallelism().map_or(2, |n| n.get()) as f64,
            std::thread::available_parallelism().map_or(2, |n| n.get())
        ),
        "—".into(),
    ));
    rows.push((
        "conditional re-fetch, every page 304".into(),
        format!(
            "{:.0} fetches/s ({:.1} s; CPU {:.2} ms per fetch)",
            again.rate, again.seconds, again.cpu_ms
        ),
        "≥ 2,000/s".into(),
    ));
    rows.push((
        "conditional re-fetch again, every page 304 (compact entries: the steady state)".into(),
        format!(
            "{:.0} fetches/s ({:.1} s; CPU {:.2} ms per fetch)",
            steady.rate, steady.seconds, steady.cpu_ms
        ),
        "—".into(),
    ));
    rows.push((
        "peak RSS of `once`: first ingest / re-fetch".into(),
        format!("{:.1} MiB / {:.1} MiB", first.peak_mib, again.peak_mib),
        "—".into(),
    ));
    rows.push((
        format!("written to storage per fetch (GNU time's file system outputs): first ingest / first re-fetch / second re-fetch / third re-fetch paced at one request per host every {PACE}"),
        format!(
            "{}{}",
            written(&first, &again, &steady, &paced),
            peer.as_ref()
                .map(|(p, ..)| format!(
                    " (peer {})",
                    written(&p.first, &p.again, &p.steady, &p.paced)
                ))
                .unwrap_or_default()
        ),
        "—".into(),
    ));
    rows.push((
        "ledger size after the four runs".into(),
        format!(
            "{:.1} MB ({:.1} KB per article, pages {:.0} KB)",
            size as f64 / 1e6,
            size as f64 / n as f64 / 1000.0,
            bytes as f64 / n as f64 / 1000.0
        ),
        "—".into(),
    ));
    if let Some((
        Measured {
            first: pf,
            again: pa,
            size: ps,
            ..
        },
        first_ratio,
        cpu_ratio,
        again_ratio,
    )) = peer
    {
        rows.push((
            format!(
                "NEWSLEDGER_BENCH_PEER in the same run, medians of {rounds} alternating rounds: first ingest / re-fetch / size"
            ),
            format!(
                "{:.0} articles/s (ratio {first_ratio:.2}; CPU {:.2} ms per article, ratio {cpu_ratio:.2}) / {:.0} fetches/s (ratio {again_ratio:.2}) / {:.1} MB",
                pf.rate,
                pf.cpu_ms,
                pa.rate,
                ps as f64 / 1e6
            ),
            "—".into(),
        ));
    }
    println!("| measure | result | target |\n| --- | --- | --- |");
    for (m, r, t) in rows {
        println!("| {m} | {r} | {t} |");
    }
}

//! A cycle's memory as the watch list grows (issue 37, part 0): nginx (the
//! distribution's package) serves 100 loopback hosts, each with a sitemap
//! of N/100 article URLs; the articles are 100 real-size pages (60–200 KB,
//! built from the seed articles with heavy chrome) that every host serves
//! under each of its URLs. Two sources of 50 hosts each discover them
//! (`max_new_links` high enough to take a whole sitemap at once), then
//! `newsledger once` ingests them into a new ledger, and runs again (every
//! page answers 304). For each N, GNU time's peak RSS of both runs.
//!
//!     cargo bench --bench scale
//!     NEWSLEDGER_BENCH_SCALES=5000,20000,100000 cargo bench --bench scale
//!     NEWSLEDGER_BENCH_PEER=/path/to/other/newsledger cargo bench --bench scale
//!
//! With a peer, each N runs with both binaries (the peer first), and the
//! table gives both figures and their ratio. Every request goes to
//! 127.0.2.0/24.

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
/// Distinct pages; a URL's page is its number's last two digits.
const PAGES: usize = 100;

/// One `newsledger once`: peak RSS (MiB), seconds, and what it printed.
struct Run {
    peak_mib: f64,
    seconds: f64,
}

fn once(exe: &str, cfg: &Path, n: usize, expect: &str) -> Run {
    let t0 = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .args([exe, "--config", cfg.to_str().expect("path"), "once"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run once");
    let seconds = t0.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Each source's line counts its outcomes ("25000 new, ..."): the sum
    // over both sources must be every article.
    let total: usize = stdout
        .lines()
        .filter_map(|l| {
            let at = l.find(&format!(" {expect}"))?;
            l[..at]
                .rsplit(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    assert_eq!(
        total, n,
        "{exe}: expected {n} {expect} in all:\n{stdout}\n{stderr}"
    );
    let peak_kib: f64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time's peak RSS");
    Run {
        peak_mib: peak_kib / 1024.0,
        seconds,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let Some(nginx_bin) = nginx::binary() else {
        eprintln!("nginx not found: install it (Debian: apt-get install nginx-light)");
        std::process::exit(2);
    };
    let scales: Vec<usize> = std::env::var("NEWSLEDGER_BENCH_SCALES")
        .unwrap_or_else(|_| "5000,20000,100000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("NEWSLEDGER_BENCH_SCALES: numbers"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("site");
    let port = nginx::free_port();

    // The pages, shared by every host.
    let seeds = site::seeds();
    let mut rng = pages::Rng(0x9e37_79b9_7f4a_7c15);
    let shared = root.join("pages");
    std::fs::create_dir_all(&shared).expect("pages dir");
    let mut page_bytes = 0usize;
    for p in 0..PAGES {
        let target = 60_000 + (rng.next() % 140_000) as usize;
        let url = format!("http://127.0.2.1:{port}/a/{p:06}.html");
        let page = pages::page(
            &seeds[p % seeds.len()],
            &url,
            p as u64,
            &mut rng,
            target - 20_000,
        );
        page_bytes += page.len();
        std::fs::write(shared.join(format!("p{p:02}.html")), page).expect("page");
    }
    // Each host's sitemaps, one per scale.
    for h in 1..=HOSTS {
        let host_dir = root.join(format!("hosts/{h}"));
        std::fs::create_dir_all(&host_dir).expect("host dir");
        for &n in &scales {
            let mut xml = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
            );
            for i in 0..n / HOSTS {
                let _ = writeln!(
                    xml,
                    "<url><loc>http://127.0.2.{h}:{port}/a/{i:06}.html</loc></url>"
                );
            }
            xml.push_str("</urlset>\n");
            std::fs::write(host_dir.join(format!("sitemap-{n}.xml")), xml).expect("sitemap");
        }
    }
    nginx::readable(dir.path());
    let mut servers = String::new();
    for h in 1..=HOSTS {
        let _ = writeln!(
            servers,
            "server {{ listen 127.0.2.{h}:{port}; root {}/hosts/{h}; location ~ ^/a/\\d*?(\\d\\d)\\.html$ {{ root {}; try_files /p$1.html =404; }} }}",
            root.display(),
            shared.display()
        );
    }
    let ready = format!("127.0.2.{HOSTS}:{port}");
    let mut server = nginx::Nginx::start(&nginx_bin, &dir.path().join("nginx"), &servers, &ready);

    let config = |name: &str, n: usize| {
        let db = dir.path().join(format!("{name}-{n}.db"));
        let mut toml = format!(
            "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\nrespect_robots_txt = false\nconcurrency = 64\nallow_networks = [\"127.0.2.0/24\"]\n",
            db.display()
        );
        for (s, hosts) in [("a", 1..=HOSTS / 2), ("b", HOSTS / 2 + 1..=HOSTS)] {
            let sitemaps: Vec<String> = hosts
                .map(|h| format!("\"http://127.0.2.{h}:{port}/sitemap-{n}.xml\""))
                .collect();
            let _ = write!(
                toml,
                "[[source]]\nname = \"{s}\"\nschedule = \"0 0 1 1 *\"\nmax_new_links = 1000000\nsitemaps = [{}]\n",
                sitemaps.join(", ")
            );
        }
        let cfg = dir.path().join(format!("{name}-{n}.toml"));
        std::fs::write(&cfg, toml).expect("config");
        (cfg, db)
    };
    let main_exe = env!("CARGO_BIN_EXE_newsledger").to_string();
    let peer_exe = std::env::var("NEWSLEDGER_BENCH_PEER").ok();
    let mut exes: Vec<(&str, String)> = Vec::new();
    if let Some(p) = &peer_exe {
        exes.push(("peer", p.clone()));
    }
    exes.push(("this", main_exe));

    // (scale, binary) -> (first, again)
    let mut results: Vec<(usize, &str, Run, Run)> = Vec::new();
    for &n in &scales {
        for (name, exe) in &exes {
            let (cfg, db) = config(name, n);
            let first = once(exe, &cfg, n, "new");
            let again = once(exe, &cfg, n, "not_modified");
            eprintln!(
                "{name} at {n}: first ingest {:.1} MiB in {:.1} s, re-fetch {:.1} MiB in {:.1} s",
                first.peak_mib, first.seconds, again.peak_mib, again.seconds
            );
            for suffix in ["", "-wal", "-shm", ".lock"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
            }
            results.push((n, name, first, again));
        }
    }
    server.stop();

    let find = |n: usize, name: &str| results.iter().find(|r| r.0 == n && r.1 == name);
    let smallest = scales.iter().copied().min().unwrap_or(0);
    println!(
        "| watched articles | first ingest: peak RSS | re-fetch (304): peak RSS | first ingest, articles/s |{}",
        if peer_exe.is_some() {
            " peer: first ingest / re-fetch peak RSS |"
        } else {
            ""
        }
    );
    println!(
        "| --- | --- | --- | --- |{}",
        if peer_exe.is_some() { " --- |" } else { "" }
    );
    for &n in &scales {
        let Some((_, _, first, again)) = find(n, "this") else {
            continue;
        };
        let base = find(smallest, "this");
        let growth = |now: f64, at: fn(&(usize, &str, Run, Run)) -> f64| {
            base.map_or(String::new(), |b| {
                format!(" ({:.2}× of {smallest})", now / at(b))
            })
        };
        let peer = find(n, "peer").map_or(String::new(), |(_, _, pf, pa)| {
            format!(
                " {:.1} / {:.1} MiB (this run {:.2}× / {:.2}×) |",
                pf.peak_mib,
                pa.peak_mib,
                first.peak_mib / pf.peak_mib,
                again.peak_mib / pa.peak_mib
            )
        });
        println!(
            "| {n} | {:.1} MiB{} | {:.1} MiB{} | {:.0} |{peer}",
            first.peak_mib,
            growth(first.peak_mib, |r| r.2.peak_mib),
            again.peak_mib,
            growth(again.peak_mib, |r| r.3.peak_mib),
            n as f64 / first.seconds,
        );
    }
    println!(
        "\nPages: {PAGES} distinct, {:.0} KB average, each host serving them under all of its URLs; {HOSTS} hosts, two sources of 50 sitemaps.",
        page_bytes as f64 / PAGES as f64 / 1000.0
    );
}

//! `newsledger run` as a real process: signals, resumption, and readers
//! working while it writes.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::server::Page;
use common::{Setup, bin, seed};
use newsledger::demo::site::{self, Block, Chrome};

fn spawn_run(s: &Setup) -> tokio::process::Child {
    common::spawn_run(&s.config)
}

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let st = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(st.success());
}

async fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stop(mut child: tokio::process::Child) -> (std::process::ExitStatus, String, Duration) {
    sigterm(&child);
    let t0 = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exit within 10 s")
        .unwrap();
    let elapsed = t0.elapsed();
    let err = common::stderr_of(&mut child).await;
    (status, err, elapsed)
}

/// The URLs fetched so far; none while the daemon is still creating the
/// ledger (the file exists before its tables do).
fn fetched_urls(db: &std::path::Path) -> Vec<String> {
    let Ok(conn) = rusqlite::Connection::open(db) else {
        return vec![];
    };
    let Ok(mut stmt) = conn.prepare(
        // A compact entry's URL is that of the full entry it repeats.
        "SELECT json_extract(iif(typeof(l.payload) = 'text', l.payload,
            (SELECT r.payload FROM ledger r WHERE r.seq = l.ref_seq)), '$.requested_url')
         FROM ledger l WHERE kind = 'fetch' ORDER BY seq",
    ) else {
        return vec![];
    };
    stmt.query_map([], |r| r.get(0))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_cycle_exits_cleanly_and_the_next_start_resumes() {
    let s = Setup::new().await;
    // A second host (another loopback address) with pages slower than the
    // shutdown grace: requests to it are serial, so one is in flight and two
    // wait when SIGTERM comes; all three are abandoned.
    let slow = common::server::Server::start_on("127.0.0.2").await.unwrap();
    let a = seed("nordic-monitor");
    let mut urls = Vec::new();
    for i in 0..6 {
        let path = format!("/story-{i}/");
        let server = if i >= 3 { &slow } else { &s.server };
        let url = server.url(&path);
        let mut page = Page::html(site::render(&a, &url, &Chrome::visit(0)));
        if i >= 3 {
            page = page.with_delay(Duration::from_secs(30));
        }
        server.set(&path, page);
        urls.push(url);
    }
    let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    let text = format!(
        "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\n[[source]]\nname = \"test-news\"\nschedule = \"* * * * * *\"\nurls = [{}]\n",
        s.db.display(),
        list.join(", ")
    );
    std::fs::write(&s.config, text).unwrap();
    let paths: Vec<String> = (0..6).map(|i| format!("/story-{i}/")).collect();

    let child = spawn_run(&s);
    wait_until("a slow request in flight", Duration::from_secs(15), || {
        slow.hits().iter().any(|h| h.path.starts_with("/story-"))
    })
    .await;
    wait_until("the fast pages recorded", Duration::from_secs(10), || {
        s.db.exists() && fetched_urls(&s.db).len() >= 3
    })
    .await;
    let (status, err, elapsed) = stop(child).await;
    assert!(status.success(), "exit status {status:?}: {err}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert!(err.contains("shutdown requested"), "{err}");
    let recorded = fetched_urls(&s.db);
    assert_eq!(
        recorded.len(),
        3,
        "only complete fetches are committed: {recorded:?}"
    );
    let verify = s.cli(&["verify"]).await;
    assert!(verify.status.success(), "{}", common::stdout(&verify));

    // Next start: the slow pages answer now; the interrupted cycle resumes
    // with exactly the URLs it had not reached.
    for path in &paths[3..] {
        let url = slow.url(path);
        slow.set(path, Page::html(site::render(&a, &url, &Chrome::visit(0))));
    }
    let child = spawn_run(&s);
    wait_until("the resumed fetches", Duration::from_secs(15), || {
        fetched_urls(&s.db).len() >= 6
    })
    .await;
    let (status, err, _) = stop(child).await;
    assert!(status.success(), "{err}");
    assert!(
        err.contains("resuming an interrupted cycle") && err.contains("pending=3"),
        "{err}"
    );
    let recorded = fetched_urls(&s.db);
    let mut first_six: Vec<String> = recorded[..6].to_vec();
    first_six.sort();
    let mut want: Vec<String> = urls.clone();
    want.sort();
    assert_eq!(first_six, want, "each URL once before any refetch");
    assert!(s.cli(&["verify"]).await.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_a_locked_database_while_run_writes() {
    let s = Setup::new().await;
    let a = seed("ycpress");
    let mut paths = Vec::new();
    for i in 0..12 {
        let path = format!("/live-{i}/");
        paths.push(path);
    }
    let publish = |round: usize| {
        for p in &paths {
            // Every round edits every article: revisions and changes on each cycle.
            let mut edited = a.clone();
            edited.blocks.push(Block::Paragraph(format!(
                "Update {round}: the story continues."
            )));
            let url = s.server.url(p);
            s.server.set(
                p,
                Page::html(site::render(&edited, &url, &Chrome::visit(round as u64))),
            );
        }
    };
    publish(0);
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    s.write_config("* * * * * *", &refs);
    let child = spawn_run(&s);
    wait_until("the first cycle", Duration::from_secs(15), || {
        s.db.exists() && fetched_urls(&s.db).len() >= 12
    })
    .await;

    let url = s.server.url(&paths[0]);
    let mut failures = Vec::new();
    let mut runs = 0;
    let t0 = Instant::now();
    let mut round = 1;
    while t0.elapsed() < Duration::from_secs(6) {
        publish(round);
        round += 1;
        let (ha, ca, sa, va) = (
            ["history", url.as_str(), "--json"],
            ["changes", "--json"],
            ["status", "--json"],
            ["verify"],
        );
        let (h, c, st, v) = tokio::join!(s.cli(&ha), s.cli(&ca), s.cli(&sa), s.cli(&va));
        for o in [h, c, st, v] {
            runs += 1;
            let err = common::stderr(&o);
            if !o.status.success() || err.contains("locked") {
                failures.push(format!("{:?}: {err}{}", o.status, common::stdout(&o)));
            }
        }
    }
    let (status, err, _) = stop(child).await;
    assert!(status.success(), "{err}");
    assert!(
        failures.is_empty(),
        "{} of {runs} reads failed: {:?}",
        failures.len(),
        failures.first()
    );
    assert!(runs >= 8, "only {runs} reads ran");
    let changes = s.json(&["changes", "--json"]).await;
    assert!(
        changes.as_array().unwrap().len() >= 12,
        "the daemon kept writing revisions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_notifications_reach_a_notify_socket() {
    let s = Setup::new().await;
    let a = seed("ycpress");
    s.publish(&a, 0);
    s.write_config("* * * * * *", &[&a.path]);
    let sock_path = s.dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let child = tokio::process::Command::new(bin())
        .arg("--config")
        .arg(&s.config)
        .arg("run")
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut got: Vec<String> = Vec::new();
    let t0 = Instant::now();
    let mut buf = [0u8; 4096];
    while t0.elapsed() < Duration::from_secs(15) {
        let done = got.iter().any(|m| m == "READY=1")
            && got.iter().any(|m| m.starts_with("STATUS="))
            && got.iter().filter(|m| *m == "WATCHDOG=1").count() >= 2;
        if done {
            break;
        }
        let recv = tokio::task::block_in_place(|| sock.recv(&mut buf));
        if let Ok(n) = recv {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let (status, err, _) = stop(child).await;
    assert!(status.success(), "{err}");
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(got.iter().any(|m| m == "READY=1"), "{got:?}");
    let status_line = got
        .iter()
        .find(|m| m.starts_with("STATUS="))
        .unwrap_or_else(|| panic!("no STATUS line in {got:?}: {err}"));
    assert!(
        status_line.contains("test-news: last cycle") && status_line.contains("1 fetched"),
        "{status_line}"
    );
    assert!(
        got.iter().filter(|m| *m == "WATCHDOG=1").count() >= 2,
        "{got:?}"
    );
    assert!(got.iter().any(|m| m == "STOPPING=1"), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_have_one_summary_line_per_source_and_cycle() {
    let s = Setup::new().await;
    let a = seed("nordic-monitor");
    s.publish(&a, 0);
    s.write_config("0 * * * *", &[&a.path]);
    let out = s.cli(&["--log-format", "json", "once"]).await;
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = common::stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let summaries: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["message"] == "cycle finished")
        .collect();
    assert_eq!(summaries.len(), 1, "{lines:?}");
    let s0 = summaries[0];
    assert_eq!(s0["source"], "test-news");
    assert_eq!(s0["new"], 1);
    assert_eq!(s0["failed"], 0);
    assert_eq!(s0["level"], "INFO");
    assert!(s0["duration_ms"].is_u64());
}

/// One article on the test site and a config with a metrics listener on a
/// free port.
async fn with_metrics(schedule: &str) -> (Setup, u16) {
    let s = Setup::new().await;
    let a = seed("nordic-monitor");
    s.publish(&a, 0);
    s.write_config(schedule, &[&a.path]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text.push_str(&format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(&s.config, text).unwrap();
    (s, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_endpoint_serves_prometheus_text() {
    let (s, port) = with_metrics("* * * * * *").await;
    let child = spawn_run(&s);
    wait_until("two cycles", Duration::from_secs(15), || {
        s.db.exists() && fetched_urls(&s.db).len() >= 2
    })
    .await;
    let body = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    // Idle connections that never send a byte, more than the listener
    // serves at once: they are closed (header timeout), and the listener
    // answers again afterwards.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap(),
        );
    }
    let mut closed = 0;
    for c in &mut idle {
        let mut b = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_secs(12), c.read(&mut b)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 100, "every idle connection is closed");
    // A request split over several writes, with a query string.
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    for part in [
        "GET /met",
        "rics?name[]=x HTTP/1.1\r\nHo",
        "st: localhost:1\r\nConnection: close\r\n\r\n",
    ] {
        c.write_all(part.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut split = String::new();
    c.read_to_string(&mut split).await.unwrap();
    assert!(split.starts_with("HTTP/1.1 200"), "{split}");
    assert!(split.contains("newsledger_fetches_total"), "{split}");

    let (status, err, _) = stop(child).await;
    assert!(status.success(), "{err}");
    let sample =
        regex::Regex::new(r#"^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$"#)
            .unwrap();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        assert!(sample.is_match(line), "not a Prometheus sample: {line}");
    }
    let value = |name: &str| -> f64 {
        body.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(
        value("newsledger_fetches_total{source=\"test-news\",outcome=\"new\"}"),
        1.0
    );
    assert!(value("newsledger_fetch_duration_seconds_count{source=\"test-news\"}") >= 2.0);
    assert!(value("newsledger_downloaded_bytes_total{source=\"test-news\"}") > 10_000.0);
    assert_eq!(
        value("newsledger_revisions_total{source=\"test-news\"}"),
        1.0
    );
    assert!(value("newsledger_ledger_entries") >= 5.0);
    assert!(value("newsledger_ledger_size_bytes") > 0.0);
    assert!(
        value("newsledger_last_successful_cycle_timestamp_seconds{source=\"test-news\"}") > 1.7e9
    );
    assert_eq!(value("newsledger_extraction_stuck_jobs"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_good_config_and_keeps_running_on_a_bad_one() {
    let s = Setup::new().await;
    let a = seed("nordic-monitor");
    let b = seed("ycpress");
    s.publish(&a, 0);
    s.publish(&b, 0);
    s.write_config("* * * * * *", &[&a.path]);
    let child = spawn_run(&s);
    let pid = child.id().unwrap().to_string();
    let hup = || {
        assert!(
            std::process::Command::new("kill")
                .args(["-HUP", &pid])
                .status()
                .unwrap()
                .success()
        )
    };
    wait_until("the first cycle", Duration::from_secs(15), || {
        s.db.exists() && !fetched_urls(&s.db).is_empty()
    })
    .await;

    // A bad file: refused, the daemon goes on with the running configuration.
    let good = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, good.replace("schedule =", "schedul =")).unwrap();
    hup();
    let before = fetched_urls(&s.db).len();
    wait_until(
        "cycles after a refused reload",
        Duration::from_secs(10),
        || fetched_urls(&s.db).len() >= before + 2,
    )
    .await;

    // A good file with a second URL: reloaded, the new URL is fetched.
    s.write_config("* * * * * *", &[&a.path, &b.path]);
    hup();
    let b_url = s.server.url(&b.path);
    wait_until("the new URL fetched", Duration::from_secs(15), || {
        fetched_urls(&s.db).contains(&b_url)
    })
    .await;
    let (status, err, _) = stop(child).await;
    assert!(status.success(), "{err}");
    assert!(err.contains("configuration reload refused"), "{err}");
    assert!(
        err.contains("schedul"),
        "the refusal names the bad key: {err}"
    );
    assert!(err.contains("configuration reloaded"), "{err}");
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let sources: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM ledger WHERE kind = 'source'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sources, 2, "the changed source configuration is recorded");
    assert!(s.cli(&["verify"]).await.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_systemd_log_lines_carry_priorities_and_no_timestamps() {
    let s = Setup::new().await;
    let a = seed("ycpress");
    s.publish(&a, 0);
    let missing = s.server.url("/missing");
    let text = format!(
        "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\n[[source]]\nname = \"test-news\"\nschedule = \"0 * * * *\"\nurls = [\"{}\", \"{missing}\"]\n",
        s.db.display(),
        s.server.url(&a.path)
    );
    std::fs::write(&s.config, text).unwrap();
    let out = tokio::process::Command::new(bin())
        .args(["--config", s.config.to_str().unwrap(), "once"])
        .env("JOURNAL_STREAM", "8:12345")
        .env("RUST_LOG", "info")
        .output()
        .await
        .unwrap();
    let err = common::stderr(&out);
    let summary = err
        .lines()
        .find(|l| l.contains("cycle finished"))
        .expect("summary line");
    assert!(summary.starts_with("<6>"), "{summary}");
    let failed = err
        .lines()
        .find(|l| l.contains("fetch failed"))
        .expect("failure line");
    assert!(failed.starts_with("<4>"), "{failed}");
    for line in err.lines() {
        assert!(
            line.starts_with('<') && !line[3..].starts_with(|c: char| c.is_ascii_digit()),
            "a priority and no timestamp: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_listener_survives_running_out_of_file_descriptors() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (s, port) = with_metrics("0 0 1 1 *").await;
    // The daemon gets 48 file descriptors; 100 connections would exhaust
    // them.
    let mut child = common::spawn_run_under(&["prlimit", "--nofile=48", "--"], &s.config);
    let get = |port: u16| async move {
        let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(5), c.read_to_string(&mut out))
            .await
            .ok()?
            .ok()?;
        Some(out)
    };
    wait_until("the listener", Duration::from_secs(15), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..100 {
        if let Ok(c) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            idle.push(c);
        }
    }
    // The idle ones time out, descriptors come back, the listener serves.
    let t0 = std::time::Instant::now();
    let mut served = None;
    while t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(r) = get(port).await.filter(|r| r.starts_with("HTTP/1.1 200")) {
            served = Some(r);
            break;
        }
    }
    drop(idle);
    assert!(served.is_some(), "the listener came back");
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let err = common::stderr_of(&mut child).await;
    // Its connection cap is a share of the open-file limit (48 here: 4
    // connections), so the listener never ran the process out of
    // descriptors: the rest were closed at accept.
    assert!(
        !err.contains("cannot accept a connection"),
        "the descriptors never ran out: {err}"
    );
}

/// A cycle with more URLs than it runs at once starts each next URL as a
/// fetch ends, until every one is fetched (and each once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_larger_than_its_window_fetches_every_url() {
    let s = Setup::new().await;
    let paths: Vec<String> = (0..300).map(|i| format!("/n/{i}")).collect();
    for (i, p) in paths.iter().enumerate() {
        s.server.set(
            p,
            Page::html(format!(
                "<html><head><title>Note {i}</title></head><body><article><h1>Note {i}</h1><p>Short note number {i} about the harbour, long enough to be an article text of its own.</p></article></body></html>"
            )),
        );
    }
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    s.write_config("0 0 1 1 *", &refs);
    let out = s.cli(&["once"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("300 new"), "{stdout}");
    let asked = s
        .server
        .hits()
        .iter()
        .filter(|h| h.path.starts_with("/n/"))
        .count();
    assert_eq!(asked, 300);
}

/// `[metrics] listen = "PORT"` listens on loopback; with `token`, a scrape
/// without `Authorization: Bearer TOKEN` (any case of the scheme) is 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_a_bare_port_are_on_loopback_and_take_a_bearer_token() {
    let s = Setup::new().await;
    let a = seed("nordic-monitor");
    s.publish(&a, 0);
    s.write_config("0 0 1 1 *", &[&a.path]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "metrics-token-0123456789";
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text.push_str(&format!(
        "\n[metrics]\nlisten = \"{port}\"\ntoken = \"{token}\"\n"
    ));
    std::fs::write(&s.config, text).unwrap();
    let mut child = spawn_run(&s);
    wait_until("the listener", Duration::from_secs(15), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/metrics");
    let client = reqwest::Client::new();
    let bare = client.get(&url).send().await.unwrap();
    assert_eq!(bare.status().as_u16(), 401);
    // A page that rebinds its own name to 127.0.0.1 sends that name.
    let rebound = client
        .get(&url)
        .header("host", "rebound.evil.example")
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status().as_u16(), 421);
    for scheme in ["Bearer", "bearer"] {
        let ok = client
            .get(&url)
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status().as_u16(), 200, "{scheme}");
        assert!(ok.text().await.unwrap().contains("newsledger_"));
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
}

/// JSON logs carry revision numbers as numbers (never `"Some(3)"`), and a
/// change with no body excerpt (a headline edit) has no empty `diff`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_numbers_and_no_empty_fields() {
    let s = Setup::new().await;
    let a = seed("nordic-monitor");
    s.publish(&a, 0);
    s.write_config("0 * * * *", &[&a.path]);
    assert!(s.cli(&["once"]).await.status.success());
    let mut edited = a.clone();
    edited.title = format!("{} (updated)", a.title);
    s.publish(&edited, 0);
    let out = s.cli(&["--log-format", "json", "once"]).await;
    assert!(out.status.success());
    let changed: Vec<serde_json::Value> = common::stderr(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["message"] == "article changed")
        .collect();
    assert_eq!(changed.len(), 1, "{}", common::stderr(&out));
    let c = &changed[0];
    assert_eq!(c["from_revision"], 1, "{c}");
    assert_eq!(c["to_revision"], 2, "{c}");
    assert!(
        c.get("diff")
            .is_none_or(|d| d.as_str().is_some_and(|d| !d.is_empty())),
        "{c}"
    );
    assert!(!c.to_string().contains("Some("), "{c}");
}

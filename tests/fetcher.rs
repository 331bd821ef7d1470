//! The fetcher against deliberately misbehaving servers on loopback
//! (127.0.0.1 and 127.0.0.2 stand for two hosts): robots.txt, politeness,
//! retries, timeouts, size caps, redirect loops, charsets.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::server::{Mode, Page, Server};
use newsledger::config::FetchConfig;
use newsledger::extract;
use newsledger::fetch::{Conditional, Fetcher};

fn config() -> FetchConfig {
    FetchConfig {
        per_host_interval: Duration::ZERO,
        timeout: Duration::from_secs(5),
        stall_timeout: Duration::from_secs(1),
        max_body_bytes: 1_000_000,
        ..FetchConfig::default()
    }
}

fn class_of(r: &newsledger::fetch::FetchResult) -> &'static str {
    r.response.as_ref().err().map_or("ok", |e| e.class)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_disallow_and_crawl_delay_are_honoured() {
    let s = Server::start().await.unwrap();
    let mut robots = Page::html("User-agent: *\nDisallow: /private/\nCrawl-delay: 1\n");
    robots.content_type = "text/plain".into();
    s.set("/robots.txt", robots);
    s.set("/a", Page::html("<p>a</p>"));
    s.set("/b", Page::html("<p>b</p>"));
    s.set("/private/x", Page::html("<p>secret</p>"));
    let f = Fetcher::new(&config()).unwrap();
    let denied = f.fetch(&s.url("/private/x"), &Conditional::default()).await;
    assert_eq!(class_of(&denied), "robots");
    assert!(
        denied
            .response
            .unwrap_err()
            .message
            .contains("disallowed by robots.txt")
    );
    let (ua, ub, c) = (s.url("/a"), s.url("/b"), Conditional::default());
    let (a, b) = tokio::join!(f.fetch(&ua, &c), f.fetch(&ub, &c));
    assert_eq!((class_of(&a), class_of(&b)), ("ok", "ok"));
    let hits = s.hits();
    assert!(
        !hits.iter().any(|h| h.path == "/private/x"),
        "a disallowed URL is never requested"
    );
    assert_eq!(
        hits.iter().filter(|h| h.path == "/robots.txt").count(),
        1,
        "robots.txt is cached"
    );
    let t: Vec<Instant> = hits
        .iter()
        .filter(|h| h.path == "/a" || h.path == "/b")
        .map(|h| h.at)
        .collect();
    assert_eq!(t.len(), 2);
    let gap = if t[1] > t[0] {
        t[1] - t[0]
    } else {
        t[0] - t[1]
    };
    assert!(
        gap >= Duration::from_millis(950),
        "Crawl-delay: 1 keeps requests a second apart, got {gap:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_host_stays_serial_while_two_hosts_run_in_parallel() {
    let a = Server::start().await.unwrap();
    let b = Server::start_on("127.0.0.2").await.unwrap();
    for s in [&a, &b] {
        s.set(
            "/1",
            Page::html("<p>1</p>").with_delay(Duration::from_millis(600)),
        );
        s.set(
            "/2",
            Page::html("<p>2</p>").with_delay(Duration::from_millis(600)),
        );
    }
    let f = Fetcher::new(&FetchConfig {
        respect_robots_txt: false,
        ..config()
    })
    .unwrap();
    let c = Conditional::default();
    let t0 = Instant::now();
    let (ua1, ua2, ub1) = (a.url("/1"), a.url("/2"), b.url("/1"));
    let (a1, a2, b1) = tokio::join!(f.fetch(&ua1, &c), f.fetch(&ua2, &c), f.fetch(&ub1, &c));
    assert!([&a1, &a2, &b1].iter().all(|r| class_of(r) == "ok"));
    let at = |s: &Server, p: &str| s.hits().iter().find(|h| h.path == p).unwrap().at - t0;
    let (ta1, ta2, tb1) = (at(&a, "/1"), at(&a, "/2"), at(&b, "/1"));
    let (first_a, second_a) = if ta1 < ta2 { (ta1, ta2) } else { (ta2, ta1) };
    assert!(
        second_a - first_a >= Duration::from_millis(550),
        "host A serial: {first_a:?} then {second_a:?}"
    );
    assert!(
        tb1 < first_a + Duration::from_millis(300),
        "host B did not wait for host A: {tb1:?} vs {first_a:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_retried_after_the_wait() {
    let s = Server::start().await.unwrap();
    s.set("/busy", Page::status(429).with_header("Retry-After", "2"));
    let f = Fetcher::new(&FetchConfig {
        respect_robots_txt: false,
        ..config()
    })
    .unwrap();
    let url = s.url("/busy");
    let t0 = Instant::now();
    let cond = Conditional::default();
    let fetch = f.fetch(&url, &cond);
    tokio::pin!(fetch);
    // The server recovers once it has said 429 once.
    let result = loop {
        tokio::select! {
            r = &mut fetch => break r,
            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                if !s.hits().is_empty() {
                    s.set("/busy", Page::html("<p>ok</p>"));
                }
            }
        }
    };
    assert_eq!(class_of(&result), "ok");
    assert_eq!(result.response.as_ref().unwrap().status, 200);
    assert_eq!(result.retries.len(), 1);
    assert_eq!(result.retries[0].status, Some(429));
    assert!(
        t0.elapsed() >= Duration::from_secs(2),
        "Retry-After: 2 honoured, took {:?}",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_5xx_is_retried_a_bounded_number_of_times() {
    let s = Server::start().await.unwrap();
    s.set("/down", Page::status(503));
    let f = Fetcher::new(&FetchConfig {
        respect_robots_txt: false,
        retries: 2,
        ..config()
    })
    .unwrap();
    let r = f.fetch(&s.url("/down"), &Conditional::default()).await;
    assert_eq!(r.response.as_ref().unwrap().status, 503);
    assert_eq!(r.retries.len(), 2);
    assert_eq!(s.hits().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_drip_and_stalled_bodies_are_cut_by_timeouts() {
    let s = Server::start().await.unwrap();
    s.set(
        "/drip",
        Page::html("x".repeat(100)).with_mode(Mode::Drip(Duration::from_millis(300))),
    );
    s.set(
        "/stall",
        Page::html("x".repeat(100)).with_mode(Mode::StallAfter(10)),
    );
    let f = Fetcher::new(&FetchConfig {
        respect_robots_txt: false,
        retries: 0,
        timeout: Duration::from_secs(2),
        ..config()
    })
    .unwrap();
    let t0 = Instant::now();
    let drip = f.fetch(&s.url("/drip"), &Conditional::default()).await;
    assert_eq!(class_of(&drip), "timeout");
    assert!(t0.elapsed() < Duration::from_secs(4));
    let t0 = Instant::now();
    let stall = f.fetch(&s.url("/stall"), &Conditional::default()).await;
    assert_eq!(class_of(&stall), "timeout");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "the stall timeout (1 s) cut it: {:?}",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_gigabyte_and_a_gzip_bomb_are_cut_by_the_cap() {
    let s = Server::start().await.unwrap();
    s.set("/huge", Page::html("").with_mode(Mode::Endless(1 << 30)));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 64 * 1024 * 1024]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 200_000);
    let mut page = Page::html("").with_header("Content-Encoding", "gzip");
    page.body = bomb;
    page.etag = None;
    s.set("/bomb", page);
    let f = Fetcher::new(&FetchConfig {
        respect_robots_txt: false,
        retries: 0,
        ..config()
    })
    .unwrap();
    let t0 = Instant::now();
    let huge = f.fetch(&s.url("/huge"), &Conditional::default()).await;
    assert_eq!(class_of(&huge), "body_too_large");
    let bomb = f.fetch(&s.url("/bomb"), &Conditional::default()).await;
    assert_eq!(
        class_of(&bomb),
        "body_too_large",
        "{:?}",
        bomb.response.as_ref().err()
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_is_refused() {
    let s = Server::start().await.unwrap();
    s.set(
        "/loop1",
        Page::status(302).with_header("Location", "/loop2"),
    );
    s.set(
        "/loop2",
        Page::status(302).with_header("Location", "/loop1"),
    );
    let f = Fetcher::new(&FetchConfig {
        respect_robots_txt: false,
        retries: 0,
        ..config()
    })
    .unwrap();
    let r = f.fetch(&s.url("/loop1"), &Conditional::default()).await;
    assert_eq!(class_of(&r), "redirects");
    assert!(s.hits().len() <= 11, "at most 10 redirects followed");
}

/// Serves `text` encoded as `label`, with or without a charset header.
async fn charset_roundtrip(label: &str, text: &str, header: bool, meta: bool) -> String {
    let enc = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap();
    let meta_tag = if meta {
        format!("<meta charset=\"{label}\">")
    } else {
        String::new()
    };
    let html = format!(
        "<html><head>{meta_tag}<title>t</title></head><body><article><p>{text}</p><p>{text} 2</p></article></body></html>"
    );
    let (bytes, _, unmappable) = enc.encode(&html);
    assert!(!unmappable);
    let s = Server::start().await.unwrap();
    let mut page = Page::html("");
    page.body = bytes.into_owned();
    page.content_type = if header {
        format!("text/html; charset={label}")
    } else {
        "text/html".into()
    };
    s.set("/p", page);
    let f = Fetcher::new(&FetchConfig {
        respect_robots_txt: false,
        ..config()
    })
    .unwrap();
    let r = f.fetch(&s.url("/p"), &Conditional::default()).await;
    let resp = r.response.unwrap();
    let decoded = extract::decode(&resp.body, resp.header("content-type"));
    extract::extract(&decoded, None, &Default::default()).text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turkish_and_cyrillic_pages_decode_with_and_without_a_charset_header() {
    let turkish = "Türkiye'nin İstihbarat Teşkilatı ve Çevik Kuvvet, Erdoğan hükümetinin ağır eleştirilere maruz kalan şubeleridir; ğüşıöç ĞÜŞİÖÇ.";
    let cyrillic = "Азербайджан и Турция подписали меморандум о взаимной военной безопасности в Баку, сообщает агентство.";
    for (label, text) in [
        ("windows-1254", turkish),
        ("iso-8859-9", turkish),
        ("windows-1251", cyrillic),
    ] {
        let want = format!("{text}\n\n{text} 2");
        assert_eq!(
            charset_roundtrip(label, text, true, false).await,
            want,
            "{label} with a header"
        );
        assert_eq!(
            charset_roundtrip(label, text, false, true).await,
            want,
            "{label} with <meta charset>"
        );
        assert_eq!(
            charset_roundtrip(label, text, false, false).await,
            want,
            "{label} detected"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_requests_work_with_last_modified_only_and_across_redirects() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start().await.unwrap();
    let a = newsledger::demo::site::seeds().remove(0);
    let page = |url: &str| {
        Page::html(newsledger::demo::site::render(
            &a,
            url,
            &newsledger::demo::site::Chrome::visit(0),
        ))
    };
    // Only Last-Modified, no ETag.
    let mut lm = page(&s.url("/lm")).with_header("Last-Modified", "Wed, 30 Mar 2022 06:12:00 GMT");
    lm.etag = None;
    s.set("/lm", lm);
    // A moved article: the conditional request follows the redirect.
    s.set("/old", Page::status(301).with_header("Location", "/new"));
    let mut moved = page(&s.url("/new"));
    moved.etag = Some("W/\"weak-1\"".into());
    s.set("/new", moved);
    let db = dir.path().join("l.db");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\n[[source]]\nname = \"c\"\nschedule = \"0 * * * *\"\nurls = [\"{}\", \"{}\"]\n",
            db.display(),
            s.url("/lm"),
            s.url("/old")
        ),
    )
    .unwrap();
    let run = |args: &'static [&'static str]| {
        let config = config.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_newsledger"))
                .arg("--config")
                .arg(&config)
                .args(args)
                .output()
                .await
                .unwrap()
        }
    };
    let first = run(&["once"]).await;
    assert_eq!(String::from_utf8_lossy(&first.stdout).trim(), "c: 2 new");
    let second = run(&["once"]).await;
    assert_eq!(
        String::from_utf8_lossy(&second.stdout).trim(),
        "c: 2 not_modified",
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let hits = s.hits();
    assert!(hits.iter().any(|h| h.path == "/lm"
        && h.header("if-modified-since") == Some("Wed, 30 Mar 2022 06:12:00 GMT")));
    assert!(
        hits.iter()
            .any(|h| h.path == "/new" && h.header("if-none-match") == Some("W/\"weak-1\""))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_records_every_misbehaviour_and_the_ledger_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start().await.unwrap();
    s.set("/ok", Page::html("<html><body><article><p>A real paragraph of news text, with commas, long enough to count as an article body here.</p></article></body></html>"));
    s.set(
        "/drip",
        Page::html("x".repeat(100)).with_mode(Mode::Drip(Duration::from_millis(400))),
    );
    s.set(
        "/stall",
        Page::html("x".repeat(100)).with_mode(Mode::StallAfter(10)),
    );
    s.set("/huge", Page::html("").with_mode(Mode::Endless(1 << 30)));
    s.set(
        "/loop1",
        Page::status(302).with_header("Location", "/loop1"),
    );
    s.set("/binary", {
        let mut p = Page::html("");
        p.body = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        p
    });
    s.set("/empty", Page::html(""));
    let urls: Vec<String> = [
        "/ok", "/drip", "/stall", "/huge", "/loop1", "/binary", "/empty", "/missing",
    ]
    .iter()
    .map(|p| format!("\"{}\"", s.url(p)))
    .collect();
    let db = dir.path().join("l.db");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\ntimeout = \"2s\"\nstall_timeout = \"1s\"\nretries = 0\nmax_body_bytes = 1000000\n[[source]]\nname = \"bad\"\nschedule = \"0 * * * *\"\nurls = [{}]\n",
            db.display(),
            urls.join(", ")
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_newsledger"))
        .arg("--config")
        .arg(&config)
        .arg("once")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "bad: 1 new, 6 failed, 1 skipped"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut classes: Vec<String> = conn
        .prepare("SELECT json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.error_class') FROM ledger WHERE kind = 'fetch' AND json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.outcome') = 'failed'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    classes.sort();
    assert_eq!(
        classes,
        vec![
            "body_too_large",
            "empty_extraction",
            "http_status",
            "redirects",
            "timeout",
            "timeout"
        ]
    );
    let verify = tokio::process::Command::new(env!("CARGO_BIN_EXE_newsledger"))
        .args(["verify", "--db", db.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(verify.status.success());
}

/// A fetch waiting for its host's turn (the politeness interval) holds no
/// concurrency permit: another host's fetch takes the only one meanwhile,
/// and the waiting fetch gets it when its turn comes. Stopping while it
/// waits sends nothing and returns no permit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_takes_its_permit_only_when_its_hosts_turn_comes() {
    use std::sync::Arc;
    let a = Server::start().await.unwrap();
    let b = Server::start().await.unwrap();
    for p in ["/1", "/2", "/3"] {
        a.set(p, Page::html("<p>a</p>"));
    }
    b.set("/1", Page::html("<p>b</p>"));
    let f = Arc::new(
        Fetcher::new(&FetchConfig {
            per_host_interval: Duration::from_secs(3),
            ..config()
        })
        .unwrap(),
    );
    let permits = Arc::new(tokio::sync::Semaphore::new(1));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let cond = Conditional::default();
    let (first, permit) = f
        .fetch_in_turn(&a.url("/1"), &cond, None, &permits, &stop, None)
        .await;
    assert_eq!(class_of(&first), "ok");
    assert!(permit.is_some());
    drop(permit);
    // A fetch on its own task: its class, whether it got a permit, when.
    let spawn = |url: String| {
        let (f, permits, stop) = (f.clone(), permits.clone(), stop.clone());
        tokio::spawn(async move {
            let (r, p) = f
                .fetch_in_turn(&url, &Conditional::default(), None, &permits, &stop, None)
                .await;
            (class_of(&r), p.is_some(), Instant::now())
        })
    };
    // Host A's next turn is 3 s away: a fetch of A/2 waits for it.
    let waiting = spawn(a.url("/2"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        permits.available_permits(),
        1,
        "a fetch waiting for its host holds no permit"
    );
    let (other, permit) = f
        .fetch_in_turn(&b.url("/1"), &cond, None, &permits, &stop, None)
        .await;
    let b_done = Instant::now();
    assert_eq!(class_of(&other), "ok");
    drop(permit);
    let (class, had_permit, a_done) = waiting.await.unwrap();
    assert_eq!((class, had_permit), ("ok", true));
    assert!(
        b_done < a_done,
        "host B went while host A waited for its turn"
    );
    // A third fetch of A waits again; stopping ends the wait, asks nothing.
    let stopped = spawn(a.url("/3"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_tx.send(true).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(2), stopped)
        .await
        .expect("stopping ends the wait for the host's turn")
        .unwrap();
    assert_eq!((stopped.0, stopped.1), ("interrupted", false));
    assert!(
        !a.hits().iter().any(|h| h.path == "/3"),
        "nothing was asked after stopping"
    );
}

/// A configured URL is the operator's and is fetched as written, and so is
/// a redirect to its own host; a redirect to another host connects only to
/// addresses the guard allows. Here the other host is 127.0.0.2, which the
/// default policy (no private networks) refuses at connect time: the
/// second server never sees a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_sites_redirect_to_another_origin_passes_the_address_guard() {
    let site = Server::start().await.unwrap();
    let elsewhere = Server::start_on("127.0.0.2").await.unwrap();
    elsewhere.set("/meta-data/", Page::html("<p>secret</p>"));
    site.set(
        "/same",
        Page::status(302).with_header("Location", "/article"),
    );
    site.set("/article", Page::html("<p>the article</p>"));
    site.set(
        "/away",
        Page::status(302).with_header("Location", &elsewhere.url("/meta-data/")),
    );
    let f = Fetcher::new(&FetchConfig {
        respect_robots_txt: false,
        retries: 0,
        ..config()
    })
    .unwrap();
    let same = f.fetch(&site.url("/same"), &Conditional::default()).await;
    assert_eq!(
        class_of(&same),
        "ok",
        "a redirect to the same origin is followed"
    );
    assert_eq!(same.final_url, site.url("/article"));
    let away = f.fetch(&site.url("/away"), &Conditional::default()).await;
    assert_eq!(class_of(&away), "refused");
    let why = away.response.unwrap_err().message;
    assert!(
        why.contains("refused by the link guard") && why.contains("127.0.0.2"),
        "{why}"
    );
    assert!(
        why.contains("redirect from"),
        "the message names the redirect: {why}"
    );
    assert!(
        elsewhere.hits().is_empty(),
        "no request reached the other origin"
    );
    // `allow_networks` opens exactly the ranges it lists: 127.0.0.3/32
    // leaves 127.0.0.2 refused, 127.0.0.2/32 lets it in.
    for (allowed, reached) in [("127.0.0.3/32", false), ("127.0.0.2/32", true)] {
        let f = Fetcher::new(&FetchConfig {
            respect_robots_txt: false,
            retries: 0,
            allow_networks: vec![allowed.parse().unwrap()],
            ..config()
        })
        .unwrap();
        let away = f.fetch(&site.url("/away"), &Conditional::default()).await;
        assert_eq!(
            class_of(&away) == "ok",
            reached,
            "allow_networks = [{allowed}]"
        );
    }
    assert_eq!(
        elsewhere.hits().len(),
        1,
        "reached once, through 127.0.0.2/32"
    );
    // Allowed when the operator allows private networks.
    let open = Fetcher::new(&FetchConfig {
        respect_robots_txt: false,
        retries: 0,
        allow_private_networks: true,
        ..config()
    })
    .unwrap();
    let away = open
        .fetch(&site.url("/away"), &Conditional::default())
        .await;
    assert_eq!(class_of(&away), "ok");
    assert_eq!(elsewhere.hits().len(), 2);
}

//! The web view, in a real browser: Debian's Chromium driven through
//! chromedriver (tests/support/browser.py, Selenium) against `newsledger
//! serve` on a ledger this test builds from a loopback site. Plus the
//! server's guards over plain HTTP, and the self-contained report.
//!
//! Without /usr/bin/chromium and /usr/bin/chromedriver the browser part is
//! skipped with a message, unless NEWSLEDGER_REQUIRE_BROWSER is set (CI
//! sets it and installs both).

mod common;

use std::time::{Duration, Instant};

use common::server::Page;
use common::{Setup, stderr, stdout};

const PARAGRAPHS: [&str; 3] = [
    "The harbour council met on Tuesday to approve the plan for the new ferry terminal, after months of debate over its cost and its effect on the old town.",
    "Residents had asked for a public hearing before any vote, and several council members said the budget had grown by 30 percent since the spring estimate.",
    "The mayor said construction would begin next year and that the terminal would open before the summer season of the following year, if the funds arrive.",
];
const ADDED: &str =
    "The council later admitted that the contract had been signed before the vote took place.";
const TITLE: &str = "Ferry terminal approved";
const NEW_TITLE: &str = "Ferry terminal approved after a year of delay";

/// The page in five versions, each one edit after the last: 2 moves the
/// meeting and adds a sentence; 3 adds a comma; 4 changes a number; 5
/// changes the headline. A long body (the background paragraphs) makes a
/// one-word edit's diff long unless unchanged text is folded.
fn page(version: u8, port: u16) -> String {
    let mut paras: Vec<String> = PARAGRAPHS.iter().map(|p| p.to_string()).collect();
    if version >= 2 {
        paras[0] = paras[0].replace("Tuesday", "Wednesday");
        paras.push(ADDED.to_string());
    }
    if version >= 3 {
        paras[2] = paras[2].replace("next year and that", "next year, and that");
    }
    if version >= 4 {
        paras[1] = paras[1].replace("30 percent", "35 percent");
    }
    for i in 0..40 {
        paras.push(format!(
            "Background {i}: the old ferry pier, built in the harbour's busiest decade, has carried \
             passengers to the islands for generations, and every council since has promised to \
             replace it before the next winter storms, which it never did."
        ));
    }
    let title = if version >= 5 { NEW_TITLE } else { TITLE };
    let body: String = paras.iter().map(|p| format!("<p>{p}</p>")).collect();
    // A hostile page: script, image, stylesheet and frame, all of which the
    // sandboxed capture must neither run nor load.
    format!(
        "<!DOCTYPE html><html><head><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"http://127.0.0.1:{port}/beacon.css\">\
         <script>document.title='PWNED';fetch('http://127.0.0.1:{port}/beacon-fetch');</script></head>\
         <body><article><h1>{title}</h1>{body}</article>\
         <img src=\"http://127.0.0.1:{port}/beacon.png\">\
         <iframe src=\"http://127.0.0.1:{port}/beacon-frame\"></iframe>\
         <script>document.body.innerHTML='PWNED';</script></body></html>"
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_serve(s: &Setup, extra: &[&str]) -> (tokio::process::Child, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = tokio::process::Command::new(common::bin())
        .args(["serve", "--db", s.db.to_str().unwrap(), "--listen", &listen])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://{listen}");
    let t0 = Instant::now();
    while reqwest::get(&base).await.is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_view_in_a_real_browser() {
    let s = Setup::new().await;
    let port = s.server.addr().port();
    s.server.set("/ferry", Page::html(page(1, port)));
    s.write_config("0 0 * * *", &["/ferry"]);
    assert!(s.cli(&["once"]).await.status.success());
    for version in 2..=5 {
        s.server.set("/ferry", Page::html(page(version, port)));
        let out = s.cli(&["once"]).await;
        assert!(
            stderr(&out).contains("article changed"),
            "version {version}: {}",
            stderr(&out)
        );
    }
    let article = s.server.url("/ferry");
    let (mut child, base) = start_serve(&s, &[]).await;

    // The feed, as HTML: each change with its substance and its own link.
    let feed = reqwest::get(&base).await.unwrap().text().await.unwrap();
    let row = |from: i64| {
        let link = format!("from={from}&amp;to={}\"", from + 1);
        let start = feed
            .find(&link)
            .unwrap_or_else(|| panic!("{link} in {feed}"));
        let end = feed[start..]
            .find("</tr>")
            .map_or(feed.len(), |e| start + e);
        feed[start..end].to_string()
    };
    let moved = row(1);
    assert!(
        moved.contains("sig-substantive") && moved.contains("a sentence added"),
        "{moved}"
    );
    assert!(
        moved.contains("label-stealth") && moved.contains("+"),
        "{moved}"
    );
    let comma = row(2);
    assert!(
        comma.contains("sig-trivial") && comma.contains("punctuation"),
        "{comma}"
    );
    let number = row(3);
    assert!(
        number.contains("sig-substantive") && number.contains("a number changed (30 → 35)"),
        "{number}"
    );
    assert!(
        number.contains("<del>30</del>") && number.contains("<ins>35</ins>"),
        "{number}"
    );
    let headline = row(4);
    assert!(
        headline.contains(&format!("<del>{TITLE}</del>"))
            && headline.contains(&format!("<ins>{NEW_TITLE}</ins>"))
            && headline.contains("the headline changed"),
        "{headline}"
    );
    // "At least substantive" leaves the comma out, and pages.
    let substantive = reqwest::get(format!("{base}/?significance=substantive"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!substantive.contains("from=2&amp;to=3\""), "{substantive}");
    assert!(substantive.contains("from=3&amp;to=4\""), "{substantive}");
    // A one-word edit's diff folds the unchanged background away.
    let one_word = reqwest::get(format!(
        "{base}/article?url={}&from=3&to=4",
        urlencode(&article)
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        one_word.contains("<details class=\"unchanged\">"),
        "{one_word}"
    );
    assert!(one_word.contains("unchanged words"), "{one_word}");

    // Plain HTTP: headers and guards.
    let client = reqwest::Client::new();
    let raw = client
        .get(format!("{base}/raw?url={}&rev=1", urlencode(&article)))
        .send()
        .await
        .unwrap();
    let csp = raw.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.starts_with("sandbox") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let page_csp = client.get(&base).send().await.unwrap();
    assert!(
        page_csp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let post = client.post(&base).body("x").send().await.unwrap();
    assert_eq!(post.status().as_u16(), 405);
    let long = client
        .get(format!("{base}/search?q={}", "a".repeat(5000)))
        .send()
        .await
        .unwrap();
    assert_eq!(long.status().as_u16(), 414);
    let atom = client
        .get(format!("{base}/feed.atom"))
        .send()
        .await
        .unwrap();
    assert!(
        atom.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let atom = atom.text().await.unwrap();
    assert!(
        atom.contains("<entry>") && atom.contains("changed: Ferry terminal approved"),
        "{atom}"
    );
    let missing = client
        .get(format!("{base}/article?url=http://nowhere.invalid/"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    // The browser.
    // Chromium, its driver and Selenium, or a printed note (CI requires them).
    if let Some(python) = common::browser_python() {
        s.server.clear_hits();
        let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/screenshots");
        let spec = serde_json::json!({
            "base": base, "article": article,
            "added": ["Wednesday", ADDED], "removed": ["Tuesday"],
            "phrase": "contract had been signed before the vote", "revision": 2,
            "title": TITLE, "new_title": NEW_TITLE,
            "screenshots": shots,
        });
        let spec_file = s.dir.path().join("spec.json");
        std::fs::write(&spec_file, spec.to_string()).unwrap();
        let out = tokio::process::Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/support/browser.py"
            ))
            .arg(&spec_file)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        let beacons: Vec<String> = s
            .server
            .hits()
            .into_iter()
            .map(|h| h.path)
            .filter(|p| p.starts_with("/beacon"))
            .collect();
        assert!(beacons.is_empty(), "the capture loaded {beacons:?}");
        for name in [
            "changes-desktop",
            "changes-phone",
            "article-inline-desktop",
            "article-side-phone",
            "one-word-edit-phone",
        ] {
            let png = std::fs::read(format!("{shots}/{name}.png")).unwrap();
            assert!(png.starts_with(b"\x89PNG") && png.len() > 5000, "{name}");
        }
    }
    child.kill().await.unwrap();

    // The report: one file, no external resource, the change in it.
    let report = s.dir.path().join("report.html");
    let out = s
        .cli(&["report", &article, "-o", report.to_str().unwrap()])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("<del>Tuesday</del>") && html.contains("<ins>Wednesday</ins>"),
        "{html}"
    );
    assert!(html.contains(&format!("<ins>{ADDED}</ins>")));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );
    assert!(html.contains("How to verify"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_strings_are_escaped_in_every_view() {
    let s = Setup::new().await;
    let title = "Budget <script>alert(1)</script> & \"quotes\" <img src=x onerror=alert(2)>";
    let body: String = PARAGRAPHS.iter().map(|p| format!("<p>{p}</p>")).collect();
    let html = format!(
        "<html><head><title>{t}</title></head><body><article><h1>{t}</h1>{body}</article></body></html>",
        t = title
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    );
    s.server.set("/x", Page::html(html));
    s.write_config("0 0 * * *", &["/x"]);
    assert!(s.cli(&["once"]).await.status.success());
    let url = s.server.url("/x");
    let (mut child, base) = start_serve(&s, &[]).await;
    for page in [
        "/".to_string(),
        "/articles".to_string(),
        format!("/article?url={}", urlencode(&url)),
        format!("/revision?url={}&rev=1", urlencode(&url)),
        "/search?q=harbour+council".to_string(),
        "/feed.atom".to_string(),
    ] {
        let text = reqwest::get(format!("{base}{page}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains("<script>alert"), "{page}: {text}");
        assert!(!text.contains("<img src=x"), "{page}");
    }
    let article = reqwest::get(format!("{base}/article?url={}", urlencode(&url)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        article.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{article}"
    );
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_loopback_only_with_a_token() {
    let s = common::two_articles_fetched_twice().await;
    let out = s
        .cli(&[
            "serve",
            "--db",
            s.db.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
        ])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a loopback address"),
        "{}",
        stderr(&out)
    );
    // An address already taken is a failure at run time (exit 3), named.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = s
        .cli(&["serve", "--db", s.db.to_str().unwrap(), "--listen", &addr])
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("cannot listen on {addr}")),
        "{}",
        stderr(&out)
    );
    drop(taken);
    // With a token (on loopback here): refused without it, let in with it.
    let token = "correct-horse-battery-staple";
    let (mut child, base) = start_serve(&s, &["--token", token]).await;
    let client = reqwest::Client::new();
    assert_eq!(
        client.get(&base).send().await.unwrap().status().as_u16(),
        401
    );
    // Taken once: a redirect away from the address with the token in it.
    let once = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let with = once
        .get(format!("{base}/?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(with.status().as_u16(), 303);
    assert_eq!(with.headers()["location"], "/");
    let cookie = with.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let bearer = client
        .get(format!("{base}/articles"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status().as_u16(), 200);
    let wrong = client
        .get(format!("{base}/articles"))
        .header("authorization", "Bearer correct-horse-battery-stapl3")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    child.kill().await.unwrap();
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

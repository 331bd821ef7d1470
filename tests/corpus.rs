//! The bad-input corpus (tests/corpus/) and broken HTTP responses, served
//! to the real binary: each is recorded with an outcome, nothing panics,
//! the run finishes and the ledger verifies.

mod common;

use common::server::{Mode, Page};
use common::{Setup, stdout};

fn raw(bytes: &[u8]) -> Page {
    let mut p = Page::html("").with_mode(Mode::Raw);
    p.body = bytes.to_vec();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_recorded_and_the_ledger_verifies() {
    let s = Setup::new().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut page = Page::html("");
        page.body = std::fs::read(&path).unwrap();
        page.etag = None;
        s.server.set(&format!("/corpus/{name}"), page);
        paths.push(format!("/corpus/{name}"));
    }
    assert!(paths.len() >= 6);
    let broken: [(&str, &[u8]); 5] = [
        ("/broken/no-colon", b"HTTP/1.1 200 OK\r\nContent-Type text/html\r\nthis header has no colon\r\n\r\n<p>x</p>"),
        ("/broken/status-line", b"garbage here\r\n\r\n<p>x</p>"),
        ("/broken/nul-header", b"HTTP/1.1 200 OK\r\nX-Bad: a\0b\r\nContent-Length: 8\r\n\r\n<p>x</p>"),
        ("/broken/short-body", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 99999\r\n\r\n<p>short</p>"),
        ("/broken/empty", b""),
    ];
    for (p, bytes) in broken {
        s.server.set(p, raw(bytes));
        paths.push(p.to_string());
    }
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    s.write_config("0 * * * *", &refs);
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let fetches: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM ledger WHERE kind = 'fetch'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        fetches as usize,
        paths.len(),
        "every URL has its fetch entry: {}",
        stdout(&out)
    );
    let failed_broken: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM ledger WHERE kind = 'fetch' AND url LIKE '%/broken/%' AND json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.outcome') = 'failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        failed_broken >= 3,
        "broken HTTP is recorded as failed ({failed_broken})"
    );
    assert!(s.cli(&["verify"]).await.status.success());

    // What extraction made of some of them.
    let text = |name: &str| -> serde_json::Value {
        let path = format!("{dir}/{name}");
        let o = std::process::Command::new(common::bin())
            .args([
                "extract",
                &path,
                "--json",
                "--url",
                "https://xn--bcher-kva.example/x",
            ])
            .output()
            .unwrap();
        assert!(o.status.success());
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(text("jsonld-not-json.html")["title"], "The OG title");
    assert_eq!(
        text("absurd-dates.html")["published"],
        serde_json::Value::Null
    );
    assert_eq!(
        text("absurd-dates.html")["modified"],
        serde_json::Value::Null
    );
    assert!(
        text("truncated.html")["text"]
            .as_str()
            .unwrap()
            .starts_with("This page stops in the middle")
    );
    assert!(
        text("wrong-charset.html")["text"]
            .as_str()
            .unwrap()
            .contains('\u{FFFD}'),
        "invalid UTF-8 is replaced, not fatal"
    );
    let idn = s.server.url("/corpus/idn-links.html");
    // Identity is the fetched URL; the page's declared canonical (another
    // host) is recorded as metadata only.
    let (history_url, declared): (String, String) = conn
        .query_row(
            "SELECT f.article_url, json_extract(iif(typeof(l.payload) = 'text', l.payload, NULL), '$.declared_canonical')
             FROM fetch_state f JOIN ledger l ON l.seq = f.last_seq WHERE f.url = ?1",
            [&idn],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(history_url, idn);
    assert_eq!(
        crate_normalize(&declared),
        "https://xn--bcher-kva.example/%C3%A7ay/haber?id=%E2%9C%93"
    );
}

fn crate_normalize(u: &str) -> String {
    newsledger::identity::normalize(u).unwrap()
}

//! Every kind of 2xx response a source can serve is recorded with what was
//! done with it, by the real binary against a real local server: an HTML
//! article is extracted and prepared (one CPU job) and filed; a binary body
//! served as HTML and a PDF are recorded as skipped, each with its reason
//! and the hash of the body it was given, and file no article.

mod common;

use common::server::Page;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn each_response_is_recorded_with_what_was_done_with_it() {
    let s = common::Setup::new().await;
    let a = common::seed("ycpress");
    s.publish(&a, 0);
    let binary: Vec<u8> = (0..6000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut disguised = Page::html("");
    disguised.body = binary.clone();
    s.server.set("/download", disguised);
    let pdf_body = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    let mut pdf = Page::html("");
    pdf.body = pdf_body.clone();
    pdf.content_type = "application/pdf".into();
    s.server.set("/report.pdf", pdf);
    s.write_config("0 0 * * *", &[&a.path, "/download", "/report.pdf"]);
    let o = s.cli(&["once"]).await;
    assert!(o.status.success(), "{}", common::stderr(&o));

    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let entry = |path: &str| -> (String, Option<String>, String) {
        conn.query_row(
            "SELECT json_extract(payload, '$.outcome'), json_extract(payload, '$.reason'),
                    json_extract(payload, '$.body_sha256')
             FROM ledger WHERE kind = 'fetch' AND json_extract(payload, '$.requested_url') = ?1",
            [s.server.url(path)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    let hex = |b: &[u8]| hex::encode(Sha256::digest(b));

    let (outcome, reason, _) = entry(&a.path);
    assert_eq!((outcome.as_str(), reason), ("new", None));
    let (title, text_blob, raw_blob): (String, String, Option<String>) = conn
        .query_row(
            "SELECT title, text_blob, raw_blob FROM revisions WHERE url = ?1",
            [s.server.url(&a.path)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(title, a.title, "the article was extracted");
    let text = newsledger::ledger::blobs::get(&conn, &text_blob).unwrap();
    let article: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let first = a
        .blocks
        .iter()
        .find_map(|b| match b {
            newsledger::demo::site::Block::Paragraph(p) => Some(p.as_str()),
            _ => None,
        })
        .unwrap();
    assert!(
        article["text"].as_str().unwrap().contains(first),
        "its text blob holds the extracted text"
    );
    let raw = newsledger::ledger::blobs::get(&conn, &raw_blob.expect("capture kept")).unwrap();
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "the capture is the exchange"
    );

    let (outcome, reason, body) = entry("/download");
    assert_eq!(outcome, "skipped");
    assert_eq!(
        reason.as_deref(),
        Some("binary body served as HTML: not parsed")
    );
    assert_eq!(body, hex(&binary), "the body it was given is named");

    let (outcome, reason, body) = entry("/report.pdf");
    assert_eq!(outcome, "skipped");
    assert_eq!(reason.as_deref(), Some("not HTML: application/pdf"));
    assert_eq!(body, hex(&pdf_body));

    let articles: i64 = conn
        .query_row("SELECT COUNT(*) FROM articles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(articles, 1, "only the article is filed");
    let v = s.cli(&["verify"]).await;
    assert!(v.status.success(), "{}", common::stdout(&v));
}

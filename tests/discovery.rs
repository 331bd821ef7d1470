//! Discovery from RSS, Atom, a sitemap index with a news sitemap, and a
//! listing page; links to other hosts and (by default) to private addresses
//! are refused without any traffic to them.

mod common;

use common::server::Page;
use common::{Setup, stdout};

fn xml(body: String) -> Page {
    let mut p = Page::html(body);
    p.content_type = "application/xml".into();
    p
}

/// The four seed articles, moved under `/{prefix}/{i}/`.
fn seeds_under(prefix: &str) -> Vec<newsledger::demo::site::SeedArticle> {
    newsledger::demo::site::seeds()
        .into_iter()
        .enumerate()
        .map(|(i, mut a)| {
            a.path = format!("/{prefix}/{i}/");
            a
        })
        .collect()
}

async fn site() -> (Setup, Vec<String>) {
    let s = Setup::new().await;
    let mut article_urls = Vec::new();
    for a in seeds_under("articles") {
        s.publish(&a, 0);
        article_urls.push(s.server.url(&a.path));
    }
    let u = |i: usize| article_urls[i].clone();
    s.server.set("/feed.xml", xml(format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>N</title><item><link>{}?utm_source=rss</link></item><item><link>http://other.example/elsewhere</link></item></channel></rss>",
        u(0)
    )));
    s.server.set("/atom.xml", xml(format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><link rel=\"alternate\" href=\"{}\"/></entry></feed>",
        u(1)
    )));
    s.server.set(
        "/sitemap_index.xml",
        xml(format!(
            "<sitemapindex><sitemap><loc>{}</loc></sitemap></sitemapindex>",
            s.server.url("/news-sitemap.xml")
        )),
    );
    s.server.set("/news-sitemap.xml", xml(format!(
        "<urlset xmlns:news=\"http://www.google.com/schemas/sitemap-news/0.9\"><url><loc>{}</loc><news:news><news:publication_date>2022-02-08T10:05:00+03:00</news:publication_date></news:news></url></urlset>",
        u(2)
    )));
    s.server.set("/section/", Page::html(format!(
        "<html><body><nav><a href=\"/about/\">About</a></nav><article><h2><a href=\"{}\">Teaser</a></h2></article></body></html>",
        "/articles/3/"
    )));
    (s, article_urls)
}

fn write_config(s: &Setup, allow_private: bool) {
    let text = format!(
        "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\nallow_private_networks = {allow_private}\n[[source]]\nname = \"found\"\nschedule = \"0 * * * *\"\nfeeds = [\"{}\", \"{}\"]\nsitemaps = [\"{}\"]\nlistings = [\"{}\"]\n",
        s.db.display(),
        s.server.url("/feed.xml"),
        s.server.url("/atom.xml"),
        s.server.url("/sitemap_index.xml"),
        s.server.url("/section/"),
    );
    std::fs::write(&s.config, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_sitemaps_and_listings_fill_the_watch_list() {
    let (s, urls) = site().await;
    write_config(&s, true);
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    // 5 discovery documents (the index led to the news sitemap) and 4 articles.
    assert_eq!(stdout(&out).trim(), "found: 4 new, 5 discovery");
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let mut watched: Vec<String> = conn
        .prepare("SELECT url FROM watchlist ORDER BY url")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    watched.sort();
    let mut want = urls.clone();
    want.sort();
    assert_eq!(
        watched, want,
        "tracking parameters stripped; the other host and the nav link left out"
    );
    let published: Option<String> = conn
        .query_row(
            "SELECT published FROM watchlist WHERE url = ?1",
            [&urls[2]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(published.as_deref(), Some("2022-02-08T10:05:00+03:00"));
    assert!(!s.server.hits().iter().any(|h| h.path.contains("elsewhere")));
    // Second cycle: young articles are due every cycle, each fetched once more.
    let out = s.cli(&["once"]).await;
    assert!(stdout(&out).contains("4 not_modified"), "{}", stdout(&out));
    assert!(s.cli(&["verify"]).await.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_links_to_private_addresses_are_refused_by_default() {
    let (s, _) = site().await;
    write_config(&s, false);
    let out = s.cli(&["--log-format", "json", "once"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    // The four configured documents are fetched (configured URLs are the
    // operator's choice); the child sitemap and every article link, all on
    // a loopback address, are refused.
    assert_eq!(stdout(&out).trim(), "found: 4 discovery");
    let err = common::stderr(&out);
    assert!(err.contains("source looks broken"), "{err}");
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM watchlist", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
    assert!(
        !s.server
            .hits()
            .iter()
            .any(|h| h.path.starts_with("/articles/")),
        "no request reached a refused link"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redesign_that_shrinks_articles_is_reported() {
    let s = Setup::new().await;
    let mut paths = Vec::new();
    for a in seeds_under("r") {
        s.publish(&a, 0);
        paths.push(a.path.clone());
    }
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    s.write_config("0 * * * *", &refs);
    assert!(s.cli(&["once"]).await.status.success());
    // The "redesign": every page now shows only its first paragraph as body.
    for mut a in seeds_under("r") {
        a.blocks.truncate(2);
        s.publish(&a, 0);
    }
    let out = s.cli(&["once"]).await;
    let err = common::stderr(&out);
    assert!(
        err.contains("source looks broken: several articles lost more than half of their text"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sitemap_of_a_whole_archive_is_taken_in_over_several_cycles() {
    let s = Setup::new().await;
    let mut body = String::from(
        "<?xml version=\"1.0\"?><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">",
    );
    for i in 0..25 {
        body.push_str(&format!(
            "<url><loc>{}</loc></url>",
            s.server.url(&format!("/archive/{i}"))
        ));
        s.server.set(&format!("/archive/{i}"), Page::status(404));
    }
    body.push_str("</urlset>");
    let mut page = Page::html(body);
    page.content_type = "application/xml".into();
    s.server.set("/sitemap.xml", page);
    let text = format!(
        "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\nallow_private_networks = true\n\
         [[source]]\nname = \"archive\"\nschedule = \"0 0 * * *\"\nsitemaps = [\"{}\"]\nmax_new_links = 10\n",
        s.db.display(),
        s.server.url("/sitemap.xml")
    );
    std::fs::write(&s.config, text).unwrap();
    let watched = || -> i64 {
        rusqlite::Connection::open(&s.db)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM watchlist", [], |r| r.get(0))
            .unwrap()
    };
    let mut seen = vec![];
    for _ in 0..3 {
        let o = s.cli(&["once"]).await;
        assert!(o.status.success(), "{}", common::stderr(&o));
        seen.push(watched());
    }
    assert_eq!(
        seen,
        [10, 20, 25],
        "10 new links a cycle, the rest kept for later cycles"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn articles_past_the_revisit_ladder_are_retired_and_not_rediscovered() {
    let s = Setup::new().await;
    let a = common::seed("ycpress");
    s.publish(&a, 0);
    let feed = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><item><link>{}</link></item></channel></rss>",
        s.server.url(&a.path)
    );
    let mut page = Page::html(feed);
    page.content_type = "application/rss+xml".into();
    s.server.set("/feed.xml", page);
    let text = format!(
        "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\nallow_private_networks = true\n\
         [[source]]\nname = \"old\"\nschedule = \"0 0 * * *\"\nfeeds = [\"{}\"]\n",
        s.db.display(),
        s.server.url("/feed.xml")
    );
    std::fs::write(&s.config, text).unwrap();
    assert!(s.cli(&["once"]).await.status.success());
    let url = s.server.url(&a.path);
    let fetches = || -> i64 {
        rusqlite::Connection::open(&s.db)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM ledger WHERE kind = 'fetch' AND json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.requested_url') = ?1",
                [&url],
                |r| r.get(0),
            )
            .unwrap()
    };
    let all: Vec<String> = rusqlite::Connection::open(&s.db)
        .unwrap()
        .prepare("SELECT payload FROM ledger WHERE kind = 'fetch'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(fetches(), 1, "{url} {all:#?}");
    // A hundred days later (the default ladder ends at 90).
    rusqlite::Connection::open(&s.db)
        .unwrap()
        .execute(
            "UPDATE watchlist SET discovered_at = '2026-01-01T00:00:00.000Z'",
            [],
        )
        .unwrap();
    for _ in 0..2 {
        let o = s.cli(&["once"]).await;
        assert!(o.status.success(), "{}", common::stderr(&o));
    }
    assert_eq!(fetches(), 1, "not fetched again");
    let (n, retired): (i64, Option<String>) = rusqlite::Connection::open(&s.db)
        .unwrap()
        .query_row("SELECT COUNT(*), MAX(retired_at) FROM watchlist", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(n, 1, "the feed still lists it: not added again");
    assert!(retired.is_some(), "retired");
}

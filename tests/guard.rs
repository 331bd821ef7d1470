//! The link guard on every path in: a discovered link, each redirect hop of
//! it, a name that resolves to a private address, and a watch-list URL
//! fetched after the configuration changed. Loopback only: 127.0.0.1 and
//! 127.0.0.2 stand for two hosts, ports for two services; names resolve
//! from a table inside the test (reqwest's resolver hook), never from DNS.
//! Link-local and other private ranges are tested without any request
//! (src/fetch/guard.rs): a guard bug must not send a packet anywhere.

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use common::server::{Page, Server};
use newsledger::config::FetchConfig;
use newsledger::fetch::guard::{AddressPolicy, Guard, REFUSED};
use newsledger::fetch::{Conditional, Fetcher};
use url::Url;

/// Names answered from a table.
struct Table(BTreeMap<String, IpAddr>);

impl reqwest::dns::Resolve for Table {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let found: Vec<SocketAddr> = self
            .0
            .get(name.as_str())
            .map(|ip| SocketAddr::new(*ip, 0))
            .into_iter()
            .collect();
        Box::pin(async move { Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs) })
    }
}

fn fetcher(names: &[(&str, &str)], loopback: bool) -> Fetcher {
    let table = Table(
        names
            .iter()
            .map(|(n, ip)| (n.to_string(), ip.parse().unwrap()))
            .collect(),
    );
    Fetcher::with_resolver(
        &FetchConfig {
            respect_robots_txt: false,
            retries: 0,
            per_host_interval: std::time::Duration::ZERO,
            ..FetchConfig::default()
        },
        Arc::new(table),
        AddressPolicy {
            allow_private: false,
            allow_loopback: loopback,
            ..AddressPolicy::default()
        },
    )
    .unwrap()
}

fn guard_for(urls: &[&str], loopback: bool) -> Guard {
    let urls: Vec<Url> = urls.iter().map(|u| Url::parse(u).unwrap()).collect();
    Guard::new(
        &urls,
        &[],
        AddressPolicy {
            allow_private: false,
            allow_loopback: loopback,
            ..AddressPolicy::default()
        },
    )
}

fn redirect(to: &str) -> Page {
    Page::status(302).with_header("Location", to)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_redirect_hop_of_a_discovered_link_passes_the_guard() {
    let site = Server::start().await.unwrap();
    let other_host = Server::start_on("127.0.0.2").await.unwrap();
    let other_port = Server::start().await.unwrap();
    other_host.set("/x", Page::html("<p>internal</p>"));
    other_port.set("/x", Page::html("<p>internal</p>"));
    let o_host = other_host.url("/x");
    let o_port = other_port.url("/x");
    let site_url = Url::parse(&site.url("/")).unwrap();
    let userinfo = format!(
        "http://{}@127.0.0.2:{}/x",
        site_url.host_str().unwrap(),
        Url::parse(&o_host).unwrap().port().unwrap()
    );
    site.set("/ok1", redirect("/ok2"));
    site.set("/ok2", redirect(&site.url("/ok3")));
    site.set("/ok3", Page::html("<p>article</p>"));
    site.set("/to-host", redirect("/hop"));
    site.set("/hop", redirect(&o_host));
    site.set("/to-port", redirect(&o_port));
    site.set("/to-userinfo", redirect(&userinfo));
    site.set("/to-file", redirect("file:///etc/passwd"));

    let f = fetcher(&[], true);
    let g = guard_for(&[&site.url("/feed.xml")], true);
    let ok = f
        .fetch_guarded(&site.url("/ok1"), &Conditional::default(), &g)
        .await;
    assert_eq!(
        ok.response.as_ref().map(|r| r.status).ok(),
        Some(200),
        "{:?}",
        ok.response.err()
    );
    assert_eq!(
        ok.final_url,
        site.url("/ok3"),
        "several hops on the site are followed"
    );

    for path in ["/to-host", "/to-port", "/to-userinfo", "/to-file"] {
        let r = f
            .fetch_guarded(&site.url(path), &Conditional::default(), &g)
            .await;
        let e = r.response.expect_err(path);
        assert_eq!(e.class, "refused", "{path}: {e}");
        assert!(
            e.message.contains(REFUSED) && e.message.contains("redirect from"),
            "{path}: {e}"
        );
    }
    assert!(
        other_host.hits().is_empty(),
        "no request reached another host"
    );
    assert!(
        other_port.hits().is_empty(),
        "no request reached another port"
    );

    // The same redirect, on a URL the operator configured: followed.
    let configured = f
        .fetch(&site.url("/to-port"), &Conditional::default())
        .await;
    assert_eq!(configured.response.map(|r| r.status).ok(), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_resolves_to_a_private_address_is_refused_at_connect_time() {
    let site = Server::start().await.unwrap();
    site.set("/a", Page::html("<p>article</p>"));
    let port = Url::parse(&site.url("/")).unwrap().port().unwrap();
    let url = format!("http://news.example:{port}/a");
    let g = guard_for(&[&format!("http://news.example:{port}/feed")], false);
    // A public-looking name whose answer is a private address.
    let f = fetcher(&[("news.example", "127.0.0.1")], false);
    let r = f.fetch_guarded(&url, &Conditional::default(), &g).await;
    let e = r.response.expect_err("refused");
    assert_eq!(e.class, "refused", "{e}");
    assert!(
        e.message.contains("news.example resolves to 127.0.0.1"),
        "{e}"
    );
    assert!(site.hits().is_empty(), "refused before connecting");
    // Where loopback is allowed, the same name is fetched.
    let f = fetcher(&[("news.example", "127.0.0.1")], true);
    let r = f.fetch_guarded(&url, &Conditional::default(), &g).await;
    assert_eq!(r.response.map(|r| r.status).ok(), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_links_are_recorded_as_skipped_with_the_reason() {
    let s = common::Setup::new().await;
    let internal = Server::start().await.unwrap();
    internal.set("/admin", Page::html("<p>internal service</p>"));
    let a = common::seed("ycpress");
    s.publish(&a, 0);
    // The feed lists a link on the site that redirects to another port, and
    // a link to the other port directly (refused at discovery).
    s.server.set("/moved", redirect(&internal.url("/admin")));
    let feed = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\
         <item><link>{}</link></item><item><link>{}</link></item><item><link>{}</link></item></channel></rss>",
        s.server.url(&a.path),
        s.server.url("/moved"),
        internal.url("/admin")
    );
    let mut feed = Page::html(feed);
    feed.content_type = "application/rss+xml".into();
    s.server.set("/feed.xml", feed);
    let text = format!(
        "[ledger]\npath = \"{}\"\n[fetch]\nper_host_interval = \"0s\"\nallow_private_networks = true\n\
         [[source]]\nname = \"guarded\"\nschedule = \"0 0 * * *\"\nfeeds = [\"{}\"]\n",
        s.db.display(),
        s.server.url("/feed.xml")
    );
    std::fs::write(&s.config, text).unwrap();
    let o = s.cli(&["once"]).await;
    let err = common::stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("discovered links refused by the link guard"),
        "said at WARN: {err}"
    );
    assert!(
        internal.hits().is_empty(),
        "the internal service was never reached"
    );
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let (outcome, reason): (String, String) = conn
        .query_row(
            "SELECT json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.outcome'), json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.reason') FROM ledger
             WHERE kind = 'fetch' AND json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.requested_url') = ?1",
            [s.server.url("/moved")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(outcome, "skipped");
    assert!(
        reason.contains(REFUSED) && reason.contains("redirect from"),
        "{reason}"
    );
    let articles: i64 = conn
        .query_row("SELECT COUNT(*) FROM articles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(articles, 1, "only the real article is filed");

    // A watch-list URL is guarded again when fetched: one that no longer
    // fits the source's sites (say, after a configuration change) is skipped.
    conn.execute(
        "INSERT INTO watchlist (url, source, discovered_at, via) VALUES (?1, 'guarded', '2026-01-01T00:00:00.000Z', 'test')",
        [internal.url("/admin")],
    )
    .unwrap();
    drop(conn);
    let o = s.cli(&["once"]).await;
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(internal.hits().is_empty(), "still never reached");
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let outcome: String = conn
        .query_row(
            "SELECT json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.outcome') FROM ledger
             WHERE kind = 'fetch' AND json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.requested_url') = ?1",
            [internal.url("/admin")],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(outcome, "skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_loopback_site_and_its_redirects() {
    let Ok(site) = Server::start_on("::1").await else {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    };
    let v4 = Server::start().await.unwrap();
    v4.set("/x", Page::html("<p>elsewhere</p>"));
    site.set("/a", Page::html("<p>article</p>"));
    site.set("/to-v4", redirect(&v4.url("/x")));
    let mapped = format!(
        "http://[::ffff:127.0.0.1]:{}/x",
        Url::parse(&v4.url("/")).unwrap().port().unwrap()
    );
    site.set("/to-mapped", redirect(&mapped));
    let f = fetcher(&[], true);
    let g = guard_for(&[&site.url("/feed")], true);
    assert!(
        site.url("/a").starts_with("http://[::1]:"),
        "{}",
        site.url("/a")
    );
    let ok = f
        .fetch_guarded(&site.url("/a"), &Conditional::default(), &g)
        .await;
    assert_eq!(ok.response.map(|r| r.status).ok(), Some(200));
    for path in ["/to-v4", "/to-mapped"] {
        let r = f
            .fetch_guarded(&site.url(path), &Conditional::default(), &g)
            .await;
        let e = r.response.expect_err(path);
        assert_eq!(e.class, "refused", "{path}: {e}");
    }
    assert!(
        v4.hits().is_empty(),
        "neither the IPv4 host nor its mapped form was reached"
    );
}

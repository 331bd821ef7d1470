//! Discovery: article URLs from RSS 2.0 and Atom feeds, sitemaps (index,
//! urlset, Google News) and HTML listing pages, filtered so that a page
//! cannot steer the daemon anywhere it should not go.
//!
//! Invariant: parsing is pure and bounded ([`MAX_LINKS`] per document).
//! The guard that discovered links must pass is `fetch::guard`.

use crate::extract::AttrExt as _;
use std::net::IpAddr;

use quick_xml::Reader;
use quick_xml::events::Event;
use scraper::{Html, Selector};
use url::Url;

/// Links taken from one feed, sitemap or listing, at most.
pub const MAX_LINKS: usize = 5_000;

/// What a discovery document points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// An article page (with the publication date a news sitemap gives).
    Article {
        url: String,
        published: Option<String>,
    },
    /// Another sitemap (from a sitemap index).
    Sitemap(String),
}

fn entity(name: &[u8]) -> Option<String> {
    Some(match name {
        b"amp" => "&".into(),
        b"lt" => "<".into(),
        b"gt" => ">".into(),
        b"quot" => "\"".into(),
        b"apos" => "'".into(),
        n if n.starts_with(b"#x") || n.starts_with(b"#X") => {
            char::from_u32(u32::from_str_radix(std::str::from_utf8(n.get(2..)?).ok()?, 16).ok()?)?
                .to_string()
        }
        n if n.starts_with(b"#") => {
            char::from_u32(std::str::from_utf8(n.get(1..)?).ok()?.parse().ok()?)?.to_string()
        }
        _ => return None,
    })
}

/// Parses an RSS 2.0 feed, an Atom feed, a sitemap index or a urlset
/// (with Google News `news:publication_date`). Malformed XML yields what
/// was read before the error.
pub fn parse_xml(xml: &str) -> Vec<Found> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut out = Vec::new();
    let mut published: Option<String> = None;
    let mut loc: Option<String> = None;
    let local = |name: &[u8]| String::from_utf8_lossy(name).to_ascii_lowercase();
    loop {
        if out.len() >= MAX_LINKS {
            break;
        }
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = local(e.local_name().as_ref());
                if name == "link" && stack.last().is_some_and(|p| p == "entry") {
                    atom_link(&e, &mut out);
                }
                if name == "url" || name == "sitemap" {
                    published = None;
                    loc = None;
                }
                stack.push(name);
                text.clear();
            }
            Ok(Event::Empty(e)) => {
                let name = local(e.local_name().as_ref());
                if name == "link" && stack.last().is_some_and(|p| p == "entry") {
                    atom_link(&e, &mut out);
                }
            }
            Ok(Event::Text(t)) => text.push_str(&t.decode().unwrap_or_default()),
            Ok(Event::CData(t)) => text.push_str(&String::from_utf8_lossy(&t)),
            Ok(Event::GeneralRef(r)) => text.push_str(&entity(&r).unwrap_or_default()),
            Ok(Event::End(_)) => {
                let name = stack.pop().unwrap_or_default();
                let parent = stack.last().map(String::as_str).unwrap_or("");
                let value = text.trim().to_string();
                match (name.as_str(), parent) {
                    ("link", "item") if !value.is_empty() => out.push(Found::Article {
                        url: value,
                        published: None,
                    }),
                    ("loc", "url" | "sitemap") => loc = Some(value),
                    ("publication_date", _) => {
                        published = crate::extract::metadata::normalize_date(&value)
                    }
                    ("url", _) => {
                        if let Some(url) = loc.take() {
                            out.push(Found::Article {
                                url,
                                published: published.take(),
                            });
                        }
                    }
                    ("sitemap", _) => {
                        if let Some(url) = loc.take() {
                            out.push(Found::Sitemap(url));
                        }
                    }
                    _ => {}
                }
                text.clear();
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    out
}

fn atom_link(e: &quick_xml::events::BytesStart<'_>, out: &mut Vec<Found>) {
    let attr = |k: &[u8]| {
        e.try_get_attribute(k)
            .ok()
            .flatten()
            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
    };
    let rel = attr(b"rel");
    if rel.as_deref().is_none_or(|r| r == "alternate")
        && let Some(href) = attr(b"href")
    {
        out.push(Found::Article {
            url: href,
            published: None,
        });
    }
}

/// Links on a listing page: those `link_selector` names, or by default the
/// links in article teasers and headlines.
pub fn listing_links(html: &str, base: &str, link_selector: Option<&str>) -> Vec<String> {
    let sel = link_selector.unwrap_or("article a[href], h1 a[href], h2 a[href], h3 a[href]");
    let Ok(selector) = Selector::parse(sel) else {
        return vec![];
    };
    let Ok(base) = Url::parse(base) else {
        return vec![];
    };
    let doc = Html::parse_document(&crate::extract::prefilter::strip_for_links(html));
    doc.select(&selector)
        .filter_map(|a| a.value().attribute("href"))
        .filter_map(|h| base.join(h.trim()).ok())
        .map(|u| u.to_string())
        .take(MAX_LINKS)
        .collect()
}

/// Addresses a discovered link must never reach unless the operator allows
/// private networks: loopback, private (RFC 1918), link-local (cloud
/// metadata at 169.254.169.254 included), unique-local, CGNAT, unspecified,
/// broadcast, documentation and multicast ranges.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 0
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_and_atom_links() {
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://a.example/</link>
            <item><title>One</title><link>https://a.example/one?x=1&amp;y=2</link></item>
            <item><title>Two</title><link><![CDATA[https://a.example/two]]></link></item></channel></rss>"#;
        let urls: Vec<String> = parse_xml(rss)
            .into_iter()
            .map(|f| match f {
                Found::Article { url, .. } => url,
                Found::Sitemap(s) => s,
            })
            .collect();
        assert_eq!(
            urls,
            vec!["https://a.example/one?x=1&y=2", "https://a.example/two"]
        );
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><link href="https://a.example/"/>
            <entry><link rel="alternate" href="https://a.example/3"/><link rel="edit" href="https://a.example/e"/></entry></feed>"#;
        assert_eq!(
            parse_xml(atom),
            vec![Found::Article {
                url: "https://a.example/3".into(),
                published: None
            }]
        );
    }

    #[test]
    fn sitemap_index_and_news_sitemap() {
        let index =
            "<sitemapindex><sitemap><loc>https://a.example/s1.xml</loc></sitemap></sitemapindex>";
        assert_eq!(
            parse_xml(index),
            vec![Found::Sitemap("https://a.example/s1.xml".into())]
        );
        let news = r#"<urlset xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://a.example/n</loc>
            <news:news><news:publication_date>2026-01-19T10:00:00+03:00</news:publication_date></news:news></url></urlset>"#;
        assert_eq!(
            parse_xml(news),
            vec![Found::Article {
                url: "https://a.example/n".into(),
                published: Some("2026-01-19T10:00:00+03:00".into())
            }]
        );
    }

    #[test]
    fn private_address_classifier() {
        for ip in [
            "127.0.0.1",
            "127.0.0.2",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn listing_links_resolve_relative_hrefs() {
        let html = r#"<nav><a href="/about">About</a></nav><article><h2><a href="/2026/01/story">Story</a></h2></article>"#;
        assert_eq!(
            listing_links(html, "https://a.example/news/", None),
            vec!["https://a.example/2026/01/story"]
        );
        assert_eq!(
            listing_links(html, "https://a.example/news/", Some("nav a")),
            vec!["https://a.example/about"]
        );
    }
}

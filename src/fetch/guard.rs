//! Where a *discovered* link may lead. Configured URLs are the operator's and
//! are fetched as written; links found in feeds, sitemaps and listings (and
//! every redirect they answer with) must stay on the source's sites and,
//! unless `allow_private_networks` is set, off private addresses.
//!
//! Two checks, at the two places where they cannot be bypassed:
//! - [`Guard::check`] on every URL before a request is sent: the link itself,
//!   and each redirect hop (the guarded client follows redirects itself).
//!   Scheme, userinfo, site (host and port), and an IP-literal host's address.
//! - [`GuardedResolver`] where connections get their addresses: a name that
//!   resolves to a private address is refused at connect time, so a DNS
//!   answer that changes between a check and the connection cannot pass.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

/// Address ranges are configuration (`[fetch] allow_networks`).
pub use crate::config::Net;
use crate::discover::is_private;

/// What a guard refusal's message starts with (the fetch is then recorded
/// as `skipped`, not `failed`).
pub const REFUSED: &str = "refused by the link guard";

/// Which addresses guarded requests may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// `fetch.allow_private_networks`: every private range.
    pub allow_private: bool,
    /// Loopback only, for tests whose servers all run on 127.0.0.0/8
    /// (link-local and the other private ranges stay refused). Not settable
    /// from the configuration.
    pub allow_loopback: bool,
    /// `fetch.allow_networks`: these ranges exactly, whatever else they are.
    pub allow: std::sync::Arc<[Net]>,
}

/// The IPv4 address an IPv6 address carries, in any of the forms that
/// reach it: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::`).
pub fn embedded_v4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let s = v6.segments();
    let low = std::net::Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6].iter().all(|x| *x == 0)
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0))
    {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(std::net::Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// True for an address no guarded request may reach unless allowed: the
/// private ranges of [`is_private`], an IPv6 address that carries a private
/// IPv4 one, and the tunnel and local-use prefixes that can hide one
/// (Teredo 2001::/32, local-use NAT64 64:ff9b:1::/48, site-local fec0::/10).
pub fn is_refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => is_private(ip),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            is_private(ip)
                || embedded_v4(v6).is_some_and(|v4| is_private(IpAddr::V4(v4)))
                || (s[0] == 0x2001 && s[1] == 0)
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
                || (s[0] & 0xffc0) == 0xfec0
        }
    }
}

impl AddressPolicy {
    pub fn allows(&self, ip: IpAddr) -> bool {
        let v4 = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let listed = |a: IpAddr| self.allow.iter().any(|n| n.contains(a));
        // A listed IPv4 range covers the IPv6 spellings of the same host
        // (mapped, compatible), never a NAT64 or 6to4 gateway that carries it.
        let same_host = match ip {
            IpAddr::V6(v6) => {
                v6.to_ipv4_mapped().is_some() || v6.segments()[..6].iter().all(|x| *x == 0)
            }
            IpAddr::V4(_) => false,
        };
        if listed(ip) || (same_host && v4.is_some_and(listed)) {
            return true;
        }
        let loopback = |a: IpAddr| a.is_loopback();
        self.allow_private
            || !is_refused(ip)
            || (self.allow_loopback && (loopback(ip) || v4.is_some_and(loopback)))
    }
}

/// A source's sites: host and port (`None` for the scheme's default port,
/// so `http://x` and `https://x` are one site and `x:8080` is another).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    sites: BTreeSet<(String, Option<u16>)>,
    addresses: AddressPolicy,
}

fn site(url: &Url) -> Option<(String, Option<u16>)> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some((host, url.port()))
}

impl Guard {
    /// The sites of a source's own URLs (articles, feeds, sitemaps,
    /// listings), plus more host names on their default ports.
    pub fn new<'a>(
        urls: impl IntoIterator<Item = &'a Url>,
        hosts: impl IntoIterator<Item = &'a String>,
        addresses: AddressPolicy,
    ) -> Guard {
        let mut sites: BTreeSet<(String, Option<u16>)> =
            urls.into_iter().filter_map(site).collect();
        for h in hosts {
            let h = h.to_ascii_lowercase();
            if !sites.iter().any(|(name, _)| *name == h) {
                sites.insert((h, None));
            }
        }
        Guard { sites, addresses }
    }

    pub fn addresses(&self) -> AddressPolicy {
        self.addresses.clone()
    }

    /// Why `url` may not be requested, if it may not.
    pub fn check(&self, url: &Url) -> Result<(), String> {
        let refuse = |why: String| Err(format!("{REFUSED}: {url}: {why}"));
        if !matches!(url.scheme(), "http" | "https") {
            return refuse(format!("scheme {} is not fetched", url.scheme()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("a URL with a user name or password is not fetched".into());
        }
        let Some(key) = site(url) else {
            return refuse("no host".into());
        };
        if !self.sites.contains(&key) {
            let port = key.1.map(|p| format!(" port {p}")).unwrap_or_default();
            return refuse(format!(
                "host {}{port} is not one of the source's sites",
                key.0
            ));
        }
        let literal = match url.host() {
            Some(Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(Host::Ipv6(a)) => Some(IpAddr::V6(a)),
            _ => None,
        };
        if let Some(ip) = literal.filter(|ip| !self.addresses.allows(*ip)) {
            return refuse(format!(
                "{ip} is a private address (set allow_private_networks = true to allow)"
            ));
        }
        Ok(())
    }
}

/// Looks names up for guarded requests and keeps only allowed addresses.
pub struct GuardedResolver {
    pub inner: Arc<dyn reqwest::dns::Resolve>,
    pub policy: AddressPolicy,
}

/// The system's resolver (getaddrinfo, via tokio).
pub struct SystemResolver;

impl reqwest::dns::Resolve for SystemResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let inner = self.inner.clone();
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = inner.resolve(name).await?.collect();
            let (ok, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
                all.into_iter().partition(|a| policy.allows(a.ip()));
            if ok.is_empty() {
                let shown: Vec<String> = refused.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "{REFUSED}: {host} resolves to {} (a private address; set allow_private_networks = true to allow)",
                    if shown.is_empty() { "nothing".to_string() } else { shown.join(", ") }
                )
                .into());
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(urls: &[&str], private: bool) -> Guard {
        let urls: Vec<Url> = urls.iter().map(|u| Url::parse(u).unwrap()).collect();
        Guard::new(
            &urls,
            &[],
            AddressPolicy {
                allow_private: private,
                allow_loopback: false,
                ..AddressPolicy::default()
            },
        )
    }

    fn refused(g: &Guard, u: &str) -> bool {
        g.check(&Url::parse(u).unwrap()).is_err()
    }

    #[test]
    fn sites_are_host_and_port() {
        let g = guard(
            &[
                "https://News.Example/feed",
                "http://other.example:8080/sitemap.xml",
            ],
            false,
        );
        assert!(!refused(&g, "https://news.example/a"));
        assert!(
            !refused(&g, "http://NEWS.example:80/a"),
            "the default port of either scheme"
        );
        assert!(
            refused(&g, "https://news.example:8443/a"),
            "another port is another site"
        );
        assert!(!refused(&g, "http://other.example:8080/a"));
        assert!(refused(&g, "http://other.example/a"));
        assert!(refused(&g, "https://evil.example/a"));
        assert!(refused(&g, "https://news.example.evil.example/a"));
    }

    #[test]
    fn tricks_are_refused() {
        let g = guard(&["https://news.example/feed"], false);
        for u in [
            "https://news.example@evil.example/a",
            "https://user:pw@news.example/a",
            "ftp://news.example/a",
            "file:///etc/passwd",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::ffff:169.254.169.254]/",
        ] {
            assert!(refused(&g, u), "{u}");
        }
    }

    #[test]
    fn literal_addresses_obey_the_policy() {
        let sites = [
            "http://127.0.0.1:8080/",
            "http://169.254.169.254/",
            "http://[::1]:8080/",
            "http://[::ffff:10.0.0.1]/",
        ];
        let g = guard(&sites, false);
        for u in sites {
            assert!(refused(&g, u), "{u}");
        }
        let urls: Vec<Url> = sites.iter().map(|u| Url::parse(u).unwrap()).collect();
        let loopback_only = Guard::new(
            &urls,
            &[],
            AddressPolicy {
                allow_private: false,
                allow_loopback: true,
                ..AddressPolicy::default()
            },
        );
        assert!(!refused(&loopback_only, "http://127.0.0.1:8080/x"));
        assert!(!refused(&loopback_only, "http://[::1]:8080/x"));
        assert!(
            refused(&loopback_only, "http://169.254.169.254/x"),
            "link-local stays refused"
        );
        assert!(refused(&loopback_only, "http://[::ffff:10.0.0.1]/x"));
        let all = guard(&sites, true);
        assert!(!refused(&all, "http://169.254.169.254/x"));
    }

    /// A resolver that answers from a table: no packet leaves the process.
    struct Table(Vec<(&'static str, IpAddr)>);

    impl reqwest::dns::Resolve for Table {
        fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
            let addrs: Vec<SocketAddr> = self
                .0
                .iter()
                .filter(|(n, _)| *n == name.as_str())
                .map(|(_, ip)| SocketAddr::new(*ip, 0))
                .collect();
            Box::pin(async move { Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs) })
        }
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused_at_connect_time() {
        use reqwest::dns::Resolve;
        let table = Arc::new(Table(vec![
            ("metadata.news.example", "169.254.169.254".parse().unwrap()),
            ("mixed.news.example", "10.1.2.3".parse().unwrap()),
            ("mixed.news.example", "93.184.216.34".parse().unwrap()),
            ("local.news.example", "127.0.0.1".parse().unwrap()),
        ]));
        let r = GuardedResolver {
            inner: table,
            policy: AddressPolicy {
                allow_private: false,
                allow_loopback: true,
                ..AddressPolicy::default()
            },
        };
        let names = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();
        let err = match r.resolve(names("metadata.news.example")).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a link-local answer passed"),
        };
        assert!(
            err.contains(REFUSED) && err.contains("169.254.169.254"),
            "{err}"
        );
        let mixed: Vec<SocketAddr> = r
            .resolve(names("mixed.news.example"))
            .await
            .unwrap()
            .collect();
        assert_eq!(mixed.len(), 1, "only the public address is kept: {mixed:?}");
        assert!(r.resolve(names("local.news.example")).await.is_ok());
    }

    #[test]
    fn ranges_parse_and_contain_exactly() {
        let n: Net = "10.20.0.0/16".parse().unwrap();
        assert!(n.contains("10.20.255.1".parse().unwrap()));
        assert!(!n.contains("10.21.0.1".parse().unwrap()));
        let one: Net = "127.0.0.1".parse().unwrap();
        assert_eq!(one.to_string(), "127.0.0.1/32");
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(
            "::1/128"
                .parse::<Net>()
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            "0.0.0.0/0"
                .parse::<Net>()
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "::/129", "news.example", "10.0.0.0/x", ""] {
            assert!(bad.parse::<Net>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_form_of_a_private_address_is_refused() {
        let none = AddressPolicy::default();
        for a in [
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:a00:1::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "fec0::1",
            "fd00::1",
            "fe80::1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "::",
        ] {
            assert!(!none.allows(a.parse().unwrap()), "{a}");
        }
        for a in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert!(none.allows(a.parse().unwrap()), "{a}");
        }
        let exact = AddressPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()].into(),
            ..AddressPolicy::default()
        };
        assert!(exact.allows("127.0.0.1".parse().unwrap()));
        assert!(exact.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(
            !exact.allows("127.0.0.2".parse().unwrap()),
            "its neighbour stays refused"
        );
    }
}

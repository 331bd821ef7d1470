//! Property tests of what pages and feeds control: the link guard and the
//! feed, sitemap and listing parsers. No input may panic; the guard agrees
//! with an independent statement of its rule. `bench/fuzz.sh` runs them long
//! (`PROPTEST_CASES`). Nothing here makes a request.

use newsledger::discover;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use newsledger::fetch::guard::{AddressPolicy, Guard, Net, is_refused};
use proptest::prelude::*;
use url::Url;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

/// URL-ish strings from pieces attackers use: schemes, userinfo, hosts in
/// many spellings (case, numeric, hex, IPv6 and IPv4-mapped), ports, paths.
fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just("http://"),
        Just("https://"),
        Just("HTTP://"),
        Just("ftp://"),
        Just("file://"),
        Just("javascript:"),
        Just("//"),
        Just("")
    ];
    let userinfo = prop_oneof![
        Just(""),
        Just("news.example@"),
        Just("user:pw@"),
        Just("@"),
        Just("a@b@")
    ];
    let host = prop_oneof![
        Just("news.example"),
        Just("NEWS.Example"),
        Just("news.example."),
        Just("evil.example"),
        Just("news.example.evil.example"),
        Just("127.0.0.1"),
        Just("2130706433"),
        Just("0x7f.1"),
        Just("0177.0.0.1"),
        Just("169.254.169.254"),
        Just("[::1]"),
        Just("[::ffff:127.0.0.1]"),
        Just("[::ffff:a9fe:a9fe]"),
        Just("[fe80::1]"),
        Just("10.0.0.1"),
        Just("localhost"),
        Just("xn--bcher-kva.example"),
        Just("bücher.example"),
        Just("")
    ];
    let port = prop_oneof![
        Just(""),
        Just(":80"),
        Just(":443"),
        Just(":8080"),
        Just(":0"),
        Just(":99999"),
        Just(":")
    ];
    let path = prop_oneof![
        Just("/"),
        Just("/a?b=c#d"),
        Just(""),
        Just("/%2e%2e/"),
        Just("\\\\evil.example/")
    ];
    (scheme, userinfo, host, port, path).prop_map(|(s, u, h, p, pa)| format!("{s}{u}{h}{p}{pa}"))
}

fn guard() -> Guard {
    let sites: Vec<Url> = [
        "https://news.example/feed",
        "http://news.example:8080/sitemap.xml",
        "http://127.0.0.1:8080/x",
    ]
    .iter()
    .map(|u| Url::parse(u).unwrap())
    .collect();
    Guard::new(
        &sites,
        &[],
        AddressPolicy {
            allow_private: false,
            allow_loopback: true,
            ..AddressPolicy::default()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_guard_never_panics_and_admits_only_its_sites(raw in url_like()) {
        let Ok(url) = Url::parse(&raw) else { return Ok(()) };
        let verdict = guard().check(&url);
        // The rule, stated independently: http(s), no userinfo, and one of
        // the three sites (a name on its default or listed port, or the
        // loopback literal on 8080).
        let default_port = url.port().is_none();
        let site_ok = match (url.host_str().map(str::to_ascii_lowercase).as_deref(), url.port()) {
            (Some("news.example"), None) => default_port,
            (Some("news.example"), Some(8080)) | (Some("127.0.0.1"), Some(8080)) => true,
            _ => false,
        };
        let expected = matches!(url.scheme(), "http" | "https")
            && url.username().is_empty()
            && url.password().is_none()
            && site_ok;
        prop_assert_eq!(verdict.is_ok(), expected, "{} -> {:?}", url, verdict);
    }

    #[test]
    fn feed_and_sitemap_parsing_never_panics(s in ".{0,3000}") {
        let _ = discover::parse_xml(&s);
        let _ = discover::listing_links(&s, "https://news.example/", None);
        let _ = discover::listing_links(&s, "https://news.example/", Some("a"));
    }

    #[test]
    fn xml_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("<rss>"), Just("<channel>"), Just("<item>"), Just("<link>"), Just("</link>"),
        Just("<urlset>"), Just("<sitemapindex>"), Just("<sitemap>"), Just("<url>"), Just("<loc>"),
        Just("</loc>"), Just("<feed>"), Just("<entry>"), Just("<link href=\""), Just("\"/>"),
        Just("<![CDATA["), Just("]]>"), Just("&amp;"), Just("&#x1F600;"), Just("&bogus;"),
        Just("https://news.example/a"), Just("javascript:alert(1)"), Just("<news:publication_date>"),
        Just("2026-13-45T99:99:99Z"), Just("</"), Just(">"), Just("<?xml version=\"1.0\"?>"),
    ], 0..200)) {
        let xml: String = parts.concat();
        let found = discover::parse_xml(&xml);
        prop_assert!(found.len() <= discover::MAX_LINKS, "bounded: {}", found.len());
    }
}

/// Every IPv6 form that carries an IPv4 address: mapped, compatible, NAT64
/// and 6to4.
fn v6_forms(v4: Ipv4Addr) -> Vec<Ipv6Addr> {
    let [a, b, c, d] = v4.octets();
    let hi = u16::from_be_bytes([a, b]);
    let lo = u16::from_be_bytes([c, d]);
    vec![
        v4.to_ipv6_mapped(),
        Ipv6Addr::new(0, 0, 0, 0, 0, 0, hi, lo),
        Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
        Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// The address rule, stated independently: an IPv4 address in a
    /// private, loopback, link-local, CGNAT, multicast, reserved or
    /// unspecified range is refused, and so is every IPv6 form that carries
    /// it; a policy that allows exactly one /32 allows it in every form and
    /// still refuses its neighbour.
    #[test]
    fn the_address_rule_holds_in_every_form(raw in any::<u32>(), bias in 0u8..6) {
        // Half the cases land in the ranges that matter.
        let v4 = match bias {
            0 => Ipv4Addr::from(0x7f00_0000 | (raw & 0x00ff_ffff)),
            1 => Ipv4Addr::from(0x0a00_0000 | (raw & 0x00ff_ffff)),
            2 => Ipv4Addr::from(0xa9fe_0000 | (raw & 0xffff)),
            3 => Ipv4Addr::from(0x6440_0000 | (raw & 0x003f_ffff)),
            _ => Ipv4Addr::from(raw),
        };
        let o = v4.octets();
        let private = o[0] == 0 || o[0] == 10 || o[0] == 127 || o[0] >= 224
            || (o[0] == 169 && o[1] == 254) || (o[0] == 172 && (16..32).contains(&o[1]))
            || (o[0] == 192 && o[1] == 168) || (o[0] == 100 && (64..128).contains(&o[1]))
            || (o[0] == 192 && o[1] == 0 && o[2] == 2) || (o[0] == 198 && o[1] == 51 && o[2] == 100)
            || (o[0] == 203 && o[1] == 0 && o[2] == 113);
        prop_assert_eq!(is_refused(IpAddr::V4(v4)), private, "{}", v4);
        let none = AddressPolicy::default();
        for v6 in v6_forms(v4) {
            if private {
                prop_assert!(is_refused(IpAddr::V6(v6)), "{} carries {}", v6, v4);
                prop_assert!(!none.allows(IpAddr::V6(v6)), "{}", v6);
            }
        }
        let one = AddressPolicy {
            allow: vec![format!("{v4}/32").parse::<Net>().unwrap()].into(),
            ..AddressPolicy::default()
        };
        prop_assert!(one.allows(IpAddr::V4(v4)));
        // The same host's IPv6 spellings are allowed with it; a NAT64 or
        // 6to4 gateway carrying it is judged on its own.
        for (i, v6) in v6_forms(v4).into_iter().enumerate() {
            let expected = i < 2 || !is_refused(IpAddr::V6(v6));
            prop_assert_eq!(one.allows(IpAddr::V6(v6)), expected, "{} carries the allowed {}", v6, v4);
        }
        let neighbour = Ipv4Addr::from(u32::from(v4) ^ 1);
        prop_assert_eq!(one.allows(IpAddr::V4(neighbour)), !is_refused(IpAddr::V4(neighbour)));
    }
}

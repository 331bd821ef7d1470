//! Article identity: an article is its canonical URL, normalized
//! (DESIGN.md): lower-case scheme and host, no fragment, no default port,
//! no tracking parameters.

use url::Url;

/// Query parameters that only track the visitor, never select content.
const TRACKING_PREFIXES: &[&str] = &["utm_", "mc_", "pk_", "hsa_", "_hs"];
const TRACKING_PARAMS: &[&str] = &[
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "twclid",
    "mkt_tok", "ocid", "cmpid", "ito", "ref_src", "_ga", "_gl", "spm", "share", "s_cid",
];

fn is_tracking(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    TRACKING_PARAMS.contains(&k.as_str()) || TRACKING_PREFIXES.iter().any(|p| k.starts_with(p))
}

/// Normalizes an article URL; `None` if it is not an absolute http(s) URL.
pub fn normalize(raw: &str) -> Option<String> {
    let mut url = Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    // `Url` already lower-cases scheme and host and drops default ports.
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_tracking(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    Some(url.to_string())
}

/// The host of a URL, lower-cased; `None` if it has none.
pub fn host(raw: &str) -> Option<String> {
    Url::parse(raw.trim())
        .ok()?
        .host_str()
        .map(|h| h.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn strips_tracking_fragment_and_case() {
        assert_eq!(
            normalize(
                "HTTPS://NordicMonitor.com:443/2022/03/x/?utm_source=tw&id=7&fbclid=abc#comments"
            )
            .as_deref(),
            Some("https://nordicmonitor.com/2022/03/x/?id=7")
        );
        assert_eq!(
            normalize("http://a.example/p?gclid=1").as_deref(),
            Some("http://a.example/p")
        );
    }

    #[test]
    fn refuses_non_http() {
        assert_eq!(normalize("mailto:x@example.org"), None);
        assert_eq!(normalize("/relative/path"), None);
    }

    #[test]
    fn keeps_idn_and_percent_encoding_stable() {
        let once = normalize("https://bücher.example/%C3%A7?q=%C3%A7").unwrap();
        assert_eq!(normalize(&once).unwrap(), once);
        assert!(once.starts_with("https://xn--bcher-kva.example/"));
    }
}

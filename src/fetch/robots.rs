//! robots.txt (RFC 9309): fetched once per origin, cached with an expiry,
//! honoured for every request, configured URLs included. A 4xx robots.txt
//! allows everything; an unreachable one (5xx, network error) disallows
//! everything until it is fetched again (RFC 9309 §2.3.1.4).

use std::time::Duration;

use tokio::time::Instant;

/// How long a fetched robots.txt is trusted.
pub const FRESH_FOR: Duration = Duration::from_secs(3600);
/// How long an unreachable robots.txt blocks before it is tried again.
pub const RETRY_UNREACHABLE: Duration = Duration::from_secs(600);
/// Bytes of robots.txt parsed, at most (RFC 9309 asks for at least 500 KiB).
pub const MAX_BYTES: usize = 512 * 1024;
/// A Crawl-delay above this is capped: a site cannot park the fetcher.
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(60);

/// What a host's robots.txt says about us.
pub enum Policy {
    AllowAll,
    /// The server answered 5xx: nothing may be fetched until the next try.
    DisallowAll(String),
    /// The host could not be reached at all (connect error, timeout): the
    /// page fetch fails with this error, without another request.
    Unreachable(super::FetchError),
    Rules(Box<texting_robots::Robot>),
}

/// A cached policy and when it expires.
pub struct Cached {
    pub policy: Policy,
    pub expires: Instant,
}

impl Policy {
    /// Parses a robots.txt body for our user agent token.
    pub fn parse(agent: &str, body: &[u8]) -> Policy {
        let body = body.get(..MAX_BYTES).unwrap_or(body);
        match texting_robots::Robot::new(agent, body) {
            Ok(r) => Policy::Rules(Box::new(r)),
            // An unparsable file says nothing we can follow: allow, as for a 4xx.
            Err(_) => Policy::AllowAll,
        }
    }

    /// `None` if `url` may be fetched, else why not.
    pub fn refusal(&self, url: &str) -> Option<String> {
        match self {
            Policy::AllowAll => None,
            Policy::DisallowAll(why) => Some(format!(
                "robots.txt unreachable ({why}); the host is not crawled until it answers"
            )),
            Policy::Unreachable(e) => Some(format!("robots.txt: {e}")),
            Policy::Rules(r) => (!r.allowed(url)).then(|| "disallowed by robots.txt".to_string()),
        }
    }

    /// The Crawl-delay it asks for, capped.
    pub fn crawl_delay(&self) -> Option<Duration> {
        match self {
            Policy::Rules(r) => r
                .delay
                .filter(|d| d.is_finite() && *d > 0.0)
                .map(|d| Duration::from_secs_f32(d).min(MAX_CRAWL_DELAY)),
            _ => None,
        }
    }
}

/// The product token robots.txt rules are matched against: the first word
/// of the User-Agent ("newsledger/0.1 (+…)" → "newsledger").
pub fn agent_token(user_agent: &str) -> String {
    user_agent
        .split(['/', ' '])
        .next()
        .unwrap_or("newsledger")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_for_our_agent_apply() {
        let txt = b"User-agent: *\nDisallow: /private/\n\nUser-agent: newsledger\nDisallow: /drafts/\nCrawl-delay: 3\n";
        let p = Policy::parse("newsledger", txt);
        assert!(p.refusal("https://a.example/drafts/x").is_some());
        assert!(p.refusal("https://a.example/news/x").is_none());
        assert_eq!(p.crawl_delay(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn crawl_delay_is_capped_and_unreachable_blocks() {
        let p = Policy::parse("newsledger", b"User-agent: *\nCrawl-delay: 86400\n");
        assert_eq!(p.crawl_delay(), Some(MAX_CRAWL_DELAY));
        assert!(
            Policy::DisallowAll("HTTP 503".into())
                .refusal("https://a.example/")
                .is_some()
        );
        assert_eq!(
            agent_token("newsledger/0.1 (+https://example.org)"),
            "newsledger"
        );
    }
}

//! The configuration as read: TOML into structs that keep each value's
//! place in the file (`Spanned`), unknown keys refused.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) ledger: Option<RawLedger>,
    pub(super) fetch: Option<RawFetch>,
    pub(super) metrics: Option<RawMetrics>,
    #[serde(default)]
    pub(super) webhook: Vec<RawWebhook>,
    #[serde(default)]
    pub(super) source: Vec<RawSource>,
    pub(super) checkpoint: Option<RawCheckpoint>,
    pub(super) timestamp: Option<RawTimestamp>,
    #[serde(default)]
    pub(super) witness: Vec<RawWitness>,
    pub(super) node: Option<RawNode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheckpoint {
    pub(super) key: Spanned<String>,
    pub(super) origin: Option<Spanned<String>>,
    pub(super) replaces: Option<Spanned<String>>,
    pub(super) publish: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTimestamp {
    pub(super) url: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWitness {
    pub(super) url: Spanned<String>,
    pub(super) key: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    pub(super) url: Spanned<String>,
    pub(super) events: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub(super) listen: Spanned<String>,
    pub(super) token: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLedger {
    pub(super) path: Option<Spanned<String>>,
    pub(super) url: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFetch {
    pub(super) user_agent: Option<Spanned<String>>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) connect_timeout: Option<Spanned<String>>,
    pub(super) max_body_bytes: Option<Spanned<i64>>,
    pub(super) max_redirects: Option<Spanned<i64>>,
    pub(super) per_host_interval: Option<Spanned<String>>,
    pub(super) concurrency: Option<Spanned<i64>>,
    pub(super) retries: Option<Spanned<i64>>,
    pub(super) stall_timeout: Option<Spanned<String>>,
    pub(super) respect_robots_txt: Option<bool>,
    pub(super) allow_private_networks: Option<bool>,
    pub(super) ca_file: Option<Spanned<String>>,
    pub(super) allow_networks: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) name: Spanned<String>,
    pub(super) schedule: Spanned<String>,
    pub(super) timezone: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) urls: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) feeds: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) sitemaps: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) listings: Vec<Spanned<String>>,
    pub(super) link_selector: Option<Spanned<String>>,
    pub(super) content_selector: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) ignore_selectors: Vec<Spanned<String>>,
    pub(super) keep_raw: Option<Spanned<String>>,
    /// Raw captures of fetches older than this are removed (`pruned` entries).
    pub(super) raw_max_age: Option<Spanned<String>>,
    /// More hosts that discovered links may point to.
    #[serde(default)]
    pub(super) hosts: Vec<Spanned<String>>,
    /// The revisit ladder for discovered articles.
    pub(super) revisit: Option<Vec<RawStep>>,
    /// New links one discovery document may add per cycle.
    pub(super) max_new_links: Option<Spanned<i64>>,
    /// The vantage points each URL is fetched from (`[node] vantage`).
    pub(super) vantages: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) until: Spanned<String>,
    pub(super) every: Spanned<String>,
}

/// `[node]` ([`super::node`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub(super) name: Option<Spanned<String>>,
    pub(super) vantage: Option<Spanned<String>>,
    pub(super) roles: Option<Spanned<Vec<String>>>,
    pub(super) lease: Option<Spanned<String>>,
}

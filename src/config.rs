//! Configuration: TOML parsed into raw structs, then validated into types.
//! After [`Config::load`] nothing re-checks strings: durations are
//! `Duration`, schedules are parsed, URLs are `Url`.
//!
//! Every error is one line naming the file, the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use toml::Spanned;
use url::Url;

use crate::schedule::Schedule;

/// One clear configuration error: `FILE:LINE: KEY: what is wrong (how to fix)`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}: {key}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    ledger: Option<RawLedger>,
    fetch: Option<RawFetch>,
    metrics: Option<RawMetrics>,
    #[serde(default)]
    webhook: Vec<RawWebhook>,
    #[serde(default)]
    source: Vec<RawSource>,
    checkpoint: Option<RawCheckpoint>,
    timestamp: Option<RawTimestamp>,
    #[serde(default)]
    witness: Vec<RawWitness>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheckpoint {
    key: Spanned<String>,
    origin: Option<Spanned<String>>,
    replaces: Option<Spanned<String>>,
    publish: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimestamp {
    url: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWitness {
    url: Spanned<String>,
    key: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: Spanned<String>,
    events: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Spanned<String>,
    token: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLedger {
    path: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    user_agent: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    max_body_bytes: Option<Spanned<i64>>,
    max_redirects: Option<Spanned<i64>>,
    per_host_interval: Option<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    retries: Option<Spanned<i64>>,
    stall_timeout: Option<Spanned<String>>,
    respect_robots_txt: Option<bool>,
    allow_private_networks: Option<bool>,
    ca_file: Option<Spanned<String>>,
    allow_networks: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Spanned<String>,
    schedule: Spanned<String>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    urls: Vec<Spanned<String>>,
    #[serde(default)]
    feeds: Vec<Spanned<String>>,
    #[serde(default)]
    sitemaps: Vec<Spanned<String>>,
    #[serde(default)]
    listings: Vec<Spanned<String>>,
    link_selector: Option<Spanned<String>>,
    content_selector: Option<Spanned<String>>,
    #[serde(default)]
    ignore_selectors: Vec<Spanned<String>>,
    keep_raw: Option<Spanned<String>>,
    /// Raw captures of fetches older than this are removed (`pruned` entries).
    raw_max_age: Option<Spanned<String>>,
    /// More hosts that discovered links may point to.
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    /// The revisit ladder for discovered articles.
    revisit: Option<Vec<RawStep>>,
    /// New links one discovery document may add per cycle.
    max_new_links: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    until: Spanned<String>,
    every: Spanned<String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub file: PathBuf,
    pub ledger_path: PathBuf,
    pub fetch: FetchConfig,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// A bearer token every scrape must send, when set.
    pub metrics_token: Option<String>,
    /// Where to POST flagged changes.
    pub webhooks: Vec<Webhook>,
    pub sources: Vec<std::sync::Arc<Source>>,
    /// Signed checkpoints, timestamps and witnesses, when configured.
    pub proofs: Option<Proofs>,
}

/// `[checkpoint]`, `[timestamp]` and `[[witness]]`.
#[derive(Clone)]
pub struct Proofs {
    pub key_path: PathBuf,
    pub signer: std::sync::Arc<crate::note::Signer>,
    /// The checkpoint origin line (default: the key's name).
    pub origin: String,
    /// The origin this one takes over from (a deliberate move of the log).
    pub replaces: Option<String>,
    /// A directory where the latest checkpoint is written for publishing.
    pub publish: Option<PathBuf>,
    /// An RFC 3161 time-stamping authority.
    pub tsa: Option<Url>,
    pub witnesses: Vec<Witness>,
}

impl std::fmt::Debug for Proofs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proofs")
            .field("key_path", &self.key_path)
            .field("origin", &self.origin)
            .field("publish", &self.publish)
            .field("tsa", &self.tsa)
            .field("witnesses", &self.witnesses)
            .finish_non_exhaustive()
    }
}

/// A witness that cosigns checkpoints (C2SP tlog-witness `add-checkpoint`).
#[derive(Debug, Clone)]
pub struct Witness {
    pub url: Url,
    /// Its cosigner key; cosignatures are checked when it is given.
    pub key: Option<crate::note::NoteVerifier>,
}

/// An address range in CIDR form: `10.20.0.0/16`, `::1/128`, or one
/// address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Net {
    type Err = String;

    fn from_str(s: &str) -> Result<Net, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = addr.trim().parse().map_err(|_| {
            format!("{s:?} is not an address range (write e.g. \"10.20.0.0/16\" or \"::1/128\")")
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Net { addr, prefix })
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Net {
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let bits = |ip: std::net::IpAddr| -> u128 {
            match ip {
                std::net::IpAddr::V4(a) => u32::from(a) as u128,
                std::net::IpAddr::V6(a) => u128::from(a),
            }
        };
        let width = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.addr.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        shift >= width || (bits(ip) >> shift) == (bits(self.addr) >> shift)
    }
}

/// The CA certificates in a PEM file: an unreadable file, or one with no
/// certificate, is an error naming it.
pub fn ca_certificates(
    path: &Path,
) -> Result<Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>, String> {
    use tokio_rustls::rustls::pki_types::{CertificateDer, pem::PemObject};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("{}: cannot read PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The roots TLS trusts: the system's, plus the certificates in `ca_file`.
pub fn roots(ca_file: Option<&Path>) -> Result<tokio_rustls::rustls::RootCertStore, String> {
    let mut store = tokio_rustls::rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    store.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        for c in ca_certificates(path)? {
            store
                .add(c)
                .map_err(|e| format!("{}: a certificate is not usable: {e}", path.display()))?;
        }
    }
    Ok(store)
}

/// HTTP limits and manners, shared by every source.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub user_agent: String,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    pub per_host_interval: Duration,
    /// At most this many fetches run at once across all sources.
    pub concurrency: usize,
    /// Retries after a transient failure (connect error, timeout, 429, 5xx).
    pub retries: u32,
    /// A body that delivers nothing for this long is cut.
    pub stall_timeout: Duration,
    pub respect_robots_txt: bool,
    pub allow_private_networks: bool,
    /// PEM certificates trusted as roots beside the system's (a private
    /// CA; tests' throw-away CA).
    pub ca_file: Option<PathBuf>,
    /// Address ranges redirects and discovered links may reach although
    /// private (`allow_private_networks` allows them all).
    pub allow_networks: Vec<Net>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            user_agent: format!(
                "newsledger/{} (+https://github.com/newsledger/newsledger)",
                env!("CARGO_PKG_VERSION")
            ),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 10_000_000,
            max_redirects: 10,
            per_host_interval: Duration::from_secs(2),
            concurrency: 8,
            retries: 2,
            stall_timeout: Duration::from_secs(15),
            respect_robots_txt: true,
            allow_private_networks: false,
            ca_file: None,
            allow_networks: Vec::new(),
        }
    }
}

/// Change kinds a webhook can subscribe to.
pub const WEBHOOK_EVENTS: [&str; 6] =
    ["changed", "gone", "reverted", "metadata", "new", "restored"];

/// A URL that receives a JSON document for each flagged change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: Url,
    /// Change kinds to send (default: `changed` and `gone`).
    pub events: Vec<String>,
}

/// Which raw responses a source keeps as blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepRaw {
    /// Only those of fetches that created a revision (the default).
    Revisions,
    /// Every fetch's, for full evidence.
    All,
}

/// Per-source extraction overrides, for sites the general algorithm gets wrong.
#[derive(Debug, Clone, Default)]
pub struct ExtractOverrides {
    pub content_selector: Option<String>,
    pub ignore_selectors: Vec<String>,
}

/// New links one discovery document may add per cycle, by default.
pub const DEFAULT_MAX_NEW_LINKS: usize = 500;

/// A named set of pages with one schedule.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub schedule: Schedule,
    pub timezone: Option<String>,
    pub urls: Vec<Url>,
    pub feeds: Vec<Url>,
    pub sitemaps: Vec<Url>,
    pub listings: Vec<Url>,
    pub link_selector: Option<String>,
    pub overrides: ExtractOverrides,
    pub keep_raw: KeepRaw,
    /// Raw captures of fetches older than this are removed (retention).
    pub raw_max_age: Option<std::time::Duration>,
    /// Hosts discovered links may point to: those of the source's own URLs
    /// plus `hosts`.
    pub hosts: std::collections::BTreeSet<String>,
    /// When discovered articles are checked again.
    pub ladder: crate::schedule::Ladder,
    /// New links one discovery document may add to the watch list per cycle
    /// (a sitemap of a whole archive is taken in over several cycles).
    pub max_new_links: usize,
}

impl Source {
    /// The source's configuration as recorded in a `source` ledger entry.
    pub fn to_json(&self) -> serde_json::Value {
        fn urls(v: &[Url]) -> Vec<&str> {
            v.iter().map(Url::as_str).collect()
        }
        let mut v = json!({
            "name": self.name,
            "schedule": self.schedule.expr(),
            "timezone": self.timezone,
            "urls": urls(&self.urls),
            "feeds": urls(&self.feeds),
            "sitemaps": urls(&self.sitemaps),
            "listings": urls(&self.listings),
            "link_selector": self.link_selector,
            "content_selector": self.overrides.content_selector,
            "ignore_selectors": self.overrides.ignore_selectors,
            "keep_raw": match self.keep_raw { KeepRaw::All => "all", KeepRaw::Revisions => "revisions" },
            "hosts": self.hosts,
            "max_new_links": self.max_new_links,
            "revisit": self.ladder.steps.iter().map(|(u, e)| [humantime::format_duration(*u).to_string(), humantime::format_duration(*e).to_string()]).collect::<Vec<_>>(),
        });
        // Only when set: a source without retention keeps the configuration
        // hash it had before the setting existed (no new `source` entry).
        if let (Some(d), Some(obj)) = (self.raw_max_age, v.as_object_mut()) {
            obj.insert(
                "raw_max_age".into(),
                json!(humantime::format_duration(d).to_string()),
            );
        }
        v
    }
}

/// Where the configuration is read from: `--config`, `NEWSLEDGER_CONFIG`, or `./newsledger.toml`.
pub fn default_path() -> PathBuf {
    std::env::var_os("NEWSLEDGER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("newsledger.toml"))
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 0,
            key: "(file)".into(),
            message: format!("cannot read it: {e} (pass --config PATH or set NEWSLEDGER_CONFIG)"),
        })?;
        Config::parse(&text, path)
    }

    /// Validates configuration text; `path` is used in messages and to
    /// resolve a relative ledger path.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let v = Validator {
            text,
            file: path.display().to_string(),
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| v.toml_error(&e))?;
        v.validate(raw, path)
    }
}

struct Validator<'a> {
    text: &'a str,
    file: String,
}

impl Validator<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn error<T>(&self, span: &Spanned<T>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.line_of(span.span().start),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let line = e.span().map_or(0, |s| self.line_of(s.start));
        let message = e.message().trim().replace('\n', " ");
        // serde's "unknown field `x`, expected one of ..." names the key itself.
        let key = message
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
            .map(str::to_string)
            .or_else(|| {
                e.span()
                    .map(|s| self.text[s.clone()].trim().to_string())
                    .filter(|k| !k.is_empty() && k.len() < 60 && !k.contains('\n'))
            })
            .unwrap_or_else(|| "(syntax)".into());
        ConfigError {
            file: self.file.clone(),
            line,
            key,
            message: format!("{message} (see config/example.toml for every key)"),
        }
    }

    fn duration(&self, s: &Spanned<String>, key: &str) -> Result<Duration, ConfigError> {
        humantime::parse_duration(s.get_ref().trim()).map_err(|e| {
            self.error(
                s,
                key,
                format!(
                    "`{}` is not a duration ({e}); write e.g. \"30s\", \"15m\", \"2h\"",
                    s.get_ref()
                ),
            )
        })
    }

    /// A duration that must be longer than zero (a zero timeout fails every fetch).
    fn nonzero(&self, s: &Spanned<String>, key: &str) -> Result<Duration, ConfigError> {
        let d = self.duration(s, key)?;
        if d.is_zero() {
            return Err(self.error(
                s,
                key,
                format!(
                    "`{}` is zero; a timeout must be longer than 0s",
                    s.get_ref()
                ),
            ));
        }
        Ok(d)
    }

    fn positive(&self, n: &Spanned<i64>, key: &str) -> Result<u64, ConfigError> {
        u64::try_from(*n.get_ref())
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| self.error(n, key, format!("{} must be a positive number", n.get_ref())))
    }

    fn url(&self, s: &Spanned<String>, key: &str) -> Result<Url, ConfigError> {
        let url = Url::parse(s.get_ref().trim()).map_err(|e| {
            self.error(
                s,
                key,
                format!(
                    "`{}` is not a URL ({e}); write it in full, e.g. \"https://example.org/news/\"",
                    s.get_ref()
                ),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(self.error(
                s,
                key,
                format!("`{}` is not an http(s) URL with a host", s.get_ref()),
            ));
        }
        Ok(url)
    }

    fn selector(&self, s: &Spanned<String>, key: &str) -> Result<String, ConfigError> {
        scraper::Selector::parse(s.get_ref()).map_err(|e| {
            self.error(
                s,
                key,
                format!("`{}` is not a CSS selector: {e}", s.get_ref()),
            )
        })?;
        Ok(s.get_ref().clone())
    }

    fn validate(&self, raw: RawConfig, path: &Path) -> Result<Config, ConfigError> {
        let ledger_path = match raw.ledger.and_then(|l| l.path) {
            Some(p) if p.get_ref().trim().is_empty() => {
                return Err(self.error(
                    &p,
                    "ledger.path",
                    "is empty; give a file path such as \"/var/lib/newsledger/ledger.db\"",
                ));
            }
            Some(p) => {
                let p = PathBuf::from(p.get_ref());
                match path.parent() {
                    Some(dir) if p.is_relative() => dir.join(p),
                    _ => p,
                }
            }
            None => PathBuf::from("newsledger.db"),
        };
        let mut fetch = FetchConfig::default();
        if let Some(f) = raw.fetch {
            if let Some(ua) = f.user_agent {
                if ua.get_ref().trim().is_empty()
                    || reqwest::header::HeaderValue::from_str(ua.get_ref()).is_err()
                {
                    return Err(self.error(&ua, "fetch.user_agent", "must be a non-empty header value naming the operator, e.g. \"newsledger/0.1 (+https://example.org/contact)\""));
                }
                fetch.user_agent = ua.into_inner();
            }
            if let Some(d) = &f.timeout {
                fetch.timeout = self.nonzero(d, "fetch.timeout")?;
            }
            if let Some(d) = &f.connect_timeout {
                fetch.connect_timeout = self.nonzero(d, "fetch.connect_timeout")?;
            }
            if let Some(d) = &f.per_host_interval {
                fetch.per_host_interval = self.duration(d, "fetch.per_host_interval")?;
            }
            if let Some(n) = &f.max_body_bytes {
                fetch.max_body_bytes = self.positive(n, "fetch.max_body_bytes")?;
            }
            if let Some(n) = &f.max_redirects {
                let r = self.positive(n, "fetch.max_redirects")?;
                if r > 20 {
                    return Err(self.error(
                        n,
                        "fetch.max_redirects",
                        "at most 20 redirects are allowed",
                    ));
                }
                fetch.max_redirects = r as usize;
            }
            if let Some(n) = &f.concurrency {
                fetch.concurrency = self.positive(n, "fetch.concurrency")?.min(256) as usize;
            }
            if let Some(n) = &f.retries {
                let r = *n.get_ref();
                if !(0..=10).contains(&r) {
                    return Err(self.error(
                        n,
                        "fetch.retries",
                        format!("{r} is not between 0 and 10"),
                    ));
                }
                fetch.retries = r as u32;
            }
            if let Some(d) = &f.stall_timeout {
                fetch.stall_timeout = self.nonzero(d, "fetch.stall_timeout")?;
            }
            if let Some(b) = f.respect_robots_txt {
                fetch.respect_robots_txt = b;
            }
            if let Some(b) = f.allow_private_networks {
                fetch.allow_private_networks = b;
            }
            if let Some(nets) = &f.allow_networks {
                for n in nets.get_ref() {
                    let net = n
                        .parse()
                        .map_err(|e: String| self.error(nets, "fetch.allow_networks", e))?;
                    fetch.allow_networks.push(net);
                }
            }
            if let Some(p) = &f.ca_file {
                let file = PathBuf::from(p.get_ref());
                let file = match path.parent() {
                    Some(dir) if file.is_relative() => dir.join(file),
                    _ => file,
                };
                roots(Some(&file)).map_err(|e| {
                    self.error(
                        p,
                        "fetch.ca_file",
                        format!("{e}; give a PEM file of CA certificates"),
                    )
                })?;
                fetch.ca_file = Some(file);
            }
        }
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let mut sources = Vec::new();
        for s in raw.source {
            let name = s.name.get_ref().trim().to_string();
            let line = self.line_of(s.name.span().start);
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_.".contains(c))
            {
                return Err(self.error(
                    &s.name,
                    "source.name",
                    format!("`{name}` must be non-empty letters, digits, '-', '_' or '.'"),
                ));
            }
            if let Some(first) = names.insert(name.clone(), line) {
                return Err(self.error(&s.name, "source.name", format!("duplicate source name `{name}` (first defined on line {first}); names must be unique")));
            }
            let tz = s.timezone.as_ref().map(|t| t.get_ref().trim().to_string());
            let schedule = match Schedule::parse(s.schedule.get_ref(), tz.as_deref()) {
                Ok(sch) => sch,
                Err(msg) if msg.contains("time zone") => {
                    #[allow(
                        clippy::expect_used,
                        reason = "an error about the time zone is only returned when a zone was given"
                    )]
                    let span = s.timezone.as_ref().expect("a zone error has a zone");
                    return Err(self.error(span, &format!("source.{name}.timezone"), msg));
                }
                Err(msg) => {
                    return Err(self.error(&s.schedule, &format!("source.{name}.schedule"), msg));
                }
            };
            // A valid expression that never fires (`0 0 30 2 *`) would leave
            // the source silent forever.
            if schedule.next_after(chrono::Utc::now()).is_none() {
                return Err(self.error(
                    &s.schedule,
                    &format!("source.{name}.schedule"),
                    format!(
                        "`{}` never fires (no such date); check the day and month fields",
                        s.schedule.get_ref()
                    ),
                ));
            }
            let urls_of = |list: &[Spanned<String>], key: &str| -> Result<Vec<Url>, ConfigError> {
                list.iter()
                    .map(|u| self.url(u, &format!("source.{name}.{key}")))
                    .collect()
            };
            let urls = urls_of(&s.urls, "urls")?;
            let feeds = urls_of(&s.feeds, "feeds")?;
            let sitemaps = urls_of(&s.sitemaps, "sitemaps")?;
            let listings = urls_of(&s.listings, "listings")?;
            if urls.is_empty() && feeds.is_empty() && sitemaps.is_empty() && listings.is_empty() {
                return Err(self.error(
                    &s.name,
                    &format!("source.{name}"),
                    "watches nothing; give at least one of urls, feeds, sitemaps, listings",
                ));
            }
            let sel =
                |v: &Option<Spanned<String>>, key: &str| -> Result<Option<String>, ConfigError> {
                    v.as_ref()
                        .map(|x| self.selector(x, &format!("source.{name}.{key}")))
                        .transpose()
                };
            let keep_raw = match s.keep_raw.as_ref().map(|k| (k, k.get_ref().as_str())) {
                None | Some((_, "revisions")) => KeepRaw::Revisions,
                Some((_, "all")) => KeepRaw::All,
                Some((k, other)) => {
                    return Err(self.error(
                        k,
                        &format!("source.{name}.keep_raw"),
                        format!("`{other}` is not one of \"revisions\", \"all\""),
                    ));
                }
            };
            let mut hosts: std::collections::BTreeSet<String> = urls
                .iter()
                .chain(&feeds)
                .chain(&sitemaps)
                .chain(&listings)
                .filter_map(|u| u.host_str().map(str::to_ascii_lowercase))
                .collect();
            for h in &s.hosts {
                let host = h.get_ref().trim().to_ascii_lowercase();
                if host.is_empty() || host.contains(['/', ':', ' ']) {
                    return Err(self.error(h, &format!("source.{name}.hosts"), format!("`{}` is not a host name (write \"www.example.org\", no scheme or path)", h.get_ref())));
                }
                hosts.insert(host);
            }
            let ladder = match &s.revisit {
                None => crate::schedule::Ladder::default(),
                Some(steps) => {
                    let mut out = Vec::new();
                    for st in steps {
                        let until =
                            self.duration(&st.until, &format!("source.{name}.revisit.until"))?;
                        let every =
                            self.duration(&st.every, &format!("source.{name}.revisit.every"))?;
                        if out.last().is_some_and(|(u, _)| *u >= until) {
                            return Err(self.error(
                                &st.until,
                                &format!("source.{name}.revisit.until"),
                                "steps must be in increasing order of `until`",
                            ));
                        }
                        out.push((until, every));
                    }
                    crate::schedule::Ladder { steps: out }
                }
            };
            sources.push(std::sync::Arc::new(Source {
                name: name.clone(),
                schedule,
                timezone: tz,
                urls,
                feeds,
                sitemaps,
                listings,
                link_selector: sel(&s.link_selector, "link_selector")?,
                overrides: ExtractOverrides {
                    content_selector: sel(&s.content_selector, "content_selector")?,
                    ignore_selectors: s
                        .ignore_selectors
                        .iter()
                        .map(|x| self.selector(x, &format!("source.{name}.ignore_selectors")))
                        .collect::<Result<_, _>>()?,
                },
                keep_raw,
                raw_max_age: s
                    .raw_max_age
                    .as_ref()
                    .map(|d| self.duration(d, &format!("source.{name}.raw_max_age")))
                    .transpose()?,
                hosts,
                ladder,
                max_new_links: match &s.max_new_links {
                    Some(n) => self.positive(n, &format!("source.{name}.max_new_links"))? as usize,
                    None => DEFAULT_MAX_NEW_LINKS,
                },
            }));
        }
        let mut metrics_token = None;
        let metrics_listen = match raw.metrics {
            None => None,
            Some(m) => {
                if let Some(t) = &m.token {
                    let v = t.get_ref();
                    if v.len() < 16 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                        return Err(self.error(
                            t,
                            "metrics.token",
                            "must be at least 16 characters, without spaces (make one with `openssl rand -hex 24`)",
                        ));
                    }
                    metrics_token = Some(v.clone());
                }
                // A port alone listens on loopback.
                let text = m.listen.get_ref();
                let text = if text.bytes().all(|b| b.is_ascii_digit()) {
                    format!("127.0.0.1:{text}")
                } else {
                    text.clone()
                };
                Some(text.parse().map_err(|_| {
                    self.error(
                        &m.listen,
                        "metrics.listen",
                        format!(
                            "`{}` is not a port or an address with a port, e.g. \"9464\" (loopback) or \"127.0.0.1:9464\"",
                            m.listen.get_ref()
                        ),
                    )
                })?)
            }
        };
        let mut webhooks = Vec::new();
        for w in raw.webhook {
            let url = self.url(&w.url, "webhook.url")?;
            let events = match w.events {
                None => vec!["changed".to_string(), "gone".to_string()],
                Some(list) => list
                    .into_iter()
                    .map(|e| {
                        if WEBHOOK_EVENTS.contains(&e.get_ref().as_str()) {
                            Ok(e.into_inner())
                        } else {
                            Err(self.error(
                                &e,
                                "webhook.events",
                                format!("`{}` is not one of {WEBHOOK_EVENTS:?}", e.get_ref()),
                            ))
                        }
                    })
                    .collect::<Result<_, _>>()?,
            };
            webhooks.push(Webhook { url, events });
        }
        let proofs = self.proofs(raw.checkpoint, raw.timestamp, raw.witness, path)?;
        Ok(Config {
            file: path.to_path_buf(),
            ledger_path,
            fetch,
            metrics_listen,
            metrics_token,
            webhooks,
            sources,
            proofs,
        })
    }

    fn proofs(
        &self,
        cp: Option<RawCheckpoint>,
        ts: Option<RawTimestamp>,
        witnesses: Vec<RawWitness>,
        path: &Path,
    ) -> Result<Option<Proofs>, ConfigError> {
        let relative = |p: &str| {
            let p = PathBuf::from(p);
            match path.parent() {
                Some(dir) if p.is_relative() => dir.join(p),
                _ => p,
            }
        };
        let Some(cp) = cp else {
            if let Some(t) = &ts {
                return Err(self.error(&t.url, "timestamp.url", "timestamps are over signed checkpoints: add a [checkpoint] section with `key = \"PATH\"` (create the key with `newsledger key generate`)"));
            }
            if let Some(w) = witnesses.first() {
                return Err(self.error(&w.url, "witness.url", "witnesses cosign signed checkpoints: add a [checkpoint] section with `key = \"PATH\"` (create the key with `newsledger key generate`)"));
            }
            return Ok(None);
        };
        let key_path = relative(cp.key.get_ref());
        let signer = crate::note::Signer::load(&key_path).map_err(|e| {
            self.error(
                &cp.key,
                "checkpoint.key",
                format!("{e} (create one with `newsledger key generate --name ORIGIN -o PATH`)"),
            )
        })?;
        let origin = match &cp.origin {
            Some(o) if o.get_ref().trim().is_empty() || o.get_ref().contains('\n') => {
                return Err(self.error(
                    o,
                    "checkpoint.origin",
                    "must be one non-empty line, e.g. \"example.org/newsledger\"",
                ));
            }
            Some(o) => o.get_ref().trim().to_string(),
            None => signer.name.clone(),
        };
        let tsa = ts.map(|t| self.url(&t.url, "timestamp.url")).transpose()?;
        let witnesses = witnesses
            .iter()
            .map(|w| {
                Ok(Witness {
                    url: self.url(&w.url, "witness.url")?,
                    key: w
                        .key
                        .as_ref()
                        .map(|k| {
                            k.get_ref()
                                .parse::<crate::note::NoteVerifier>()
                                .map_err(|e| self.error(k, "witness.key", e.to_string()))
                        })
                        .transpose()?,
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Some(Proofs {
            key_path,
            signer: std::sync::Arc::new(signer),
            origin,
            replaces: cp.replaces.map(|r| r.get_ref().trim().to_string()),
            publish: cp.publish.map(|p| relative(p.get_ref())),
            tsa,
            witnesses,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/newsledger.toml"))
    }

    const GOOD: &str = r#"
[ledger]
path = "/var/lib/newsledger/ledger.db"

[fetch]
timeout = "30s"
per_host_interval = "2s"

[[source]]
name = "nordic-monitor"
schedule = "*/15 * * * *"
timezone = "Europe/Istanbul"
urls = ["https://nordicmonitor.com/2022/03/turkey-may-send-its-police-to-azerbaijan/"]
"#;

    #[test]
    fn a_good_config_validates_into_types() {
        let c = parse(GOOD).unwrap();
        assert_eq!(
            c.ledger_path,
            PathBuf::from("/var/lib/newsledger/ledger.db")
        );
        assert_eq!(c.fetch.timeout, Duration::from_secs(30));
        assert_eq!(c.sources[0].name, "nordic-monitor");
        assert_eq!(c.sources[0].urls[0].host_str(), Some("nordicmonitor.com"));
    }

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = error_of(&GOOD.replace("timeout = \"30s\"", "timeout = \"30s\"\ntimeuot = \"5s\""));
        assert!(e.starts_with("/etc/newsledger.toml:7: timeuot:"), "{e}");
    }

    #[test]
    fn a_ca_file_without_certificates_names_the_key_and_how_to_fix_it() {
        let dir = std::env::temp_dir().join(format!("nl-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        for (file, why) in [
            (junk.display().to_string(), "holds no PEM certificate"),
            (
                dir.join("missing.pem").display().to_string(),
                "cannot read PEM certificates",
            ),
        ] {
            let e = error_of(&GOOD.replace(
                "timeout = \"30s\"",
                &format!("timeout = \"30s\"\nca_file = \"{file}\""),
            ));
            assert!(e.contains(":7: fetch.ca_file:") && e.contains(why), "{e}");
            assert!(e.contains("give a PEM file of CA certificates"), "{e}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_cron_names_line_and_key() {
        let e = error_of(&GOOD.replace("*/15 * * * *", "every 15 minutes"));
        assert!(
            e.starts_with("/etc/newsledger.toml:11: source.nordic-monitor.schedule:"),
            "{e}"
        );
    }

    #[test]
    fn bad_duration_names_line_and_key() {
        let e = error_of(&GOOD.replace("\"2s\"", "\"two seconds\""));
        assert!(
            e.starts_with("/etc/newsledger.toml:7: fetch.per_host_interval:"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_source_names_are_refused() {
        let text = format!(
            "{GOOD}\n[[source]]\nname = \"nordic-monitor\"\nschedule = \"0 * * * *\"\nurls = [\"https://example.org/a\"]\n"
        );
        let e = error_of(&text);
        assert!(e.contains(":16: source.name: duplicate source name `nordic-monitor` (first defined on line 10)"), "{e}");
    }

    #[test]
    fn unparsable_url_names_line_and_key() {
        let e = error_of(&GOOD.replace(
            "https://nordicmonitor.com/2022",
            "nordicmonitor dot com/2022",
        ));
        assert!(
            e.starts_with("/etc/newsledger.toml:13: source.nordic-monitor.urls:"),
            "{e}"
        );
    }

    #[test]
    fn bad_timezone_names_its_key() {
        let e = error_of(&GOOD.replace("Europe/Istanbul", "Europe/Atlantis"));
        assert!(
            e.starts_with("/etc/newsledger.toml:12: source.nordic-monitor.timezone:"),
            "{e}"
        );
    }

    #[test]
    fn toml_syntax_errors_are_one_line() {
        let e = error_of("[ledger\npath = 1");
        assert!(e.starts_with("/etc/newsledger.toml:1:"), "{e}");
        assert!(!e.contains('\n'));
    }
}

//! Configuration: TOML parsed into raw structs, then validated into types.
//! After [`Config::load`] nothing re-checks strings: durations are
//! `Duration`, schedules are parsed, URLs are `Url`.
//!
//! Every error is one line naming the file, the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use toml::Spanned;
use url::Url;

use crate::schedule::Schedule;

mod node;
mod raw;
mod validate;

pub use node::Node;

use raw::RawConfig;
use validate::Validator;

/// One clear configuration error: `FILE:LINE: KEY: what is wrong (how to fix)`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}: {key}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub file: PathBuf,
    /// The SQLite ledger; with `ledger_url`, the replica of that one.
    pub ledger_path: PathBuf,
    /// `[ledger] url`: the record is this PostgreSQL database's.
    pub ledger_url: Option<String>,
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
    /// `[node]`: this process among several recording into one database.
    pub node: Node,
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
    /// The vantage points each of its URLs is fetched from, once each: only
    /// workers whose `[node] vantage` is listed fetch it. Empty: any worker.
    pub vantages: Vec<String>,
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
        if let (false, Some(obj)) = (self.vantages.is_empty(), v.as_object_mut()) {
            obj.insert("vantages".into(), json!(self.vantages));
        }
        v
    }

    /// Whether a worker at `vantage` fetches this source.
    pub fn fetched_from(&self, vantage: Option<&str>) -> bool {
        self.vantages.is_empty() || vantage.is_some_and(|v| self.vantages.iter().any(|x| x == v))
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

//! `[node]`: what this process is among several that record into one
//! PostgreSQL ledger (issue 37): its name (the holder of its leases), the
//! vantage point its fetches are made from, and its roles.

use std::time::Duration;

use toml::Spanned;

use super::ConfigError;
use super::raw::RawNode;
use super::validate::Validator;

/// What this process is and does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Names the process in leases and logs (default: the host's name and
    /// the process id); two processes must not share one.
    pub name: String,
    /// Where its fetches are made from, recorded in each fetch entry; none
    /// when not configured (a single machine).
    pub vantage: Option<String>,
    /// Fetches its sources' URLs.
    pub fetch: bool,
    /// Makes the signed checkpoints, timestamps and cosignatures (the node
    /// that holds the key).
    pub sequence: bool,
    /// How long a URL it takes stays its own before another worker may
    /// fetch it (a worker that died holding it).
    pub lease: Duration,
}

pub const ROLES: [&str; 2] = ["fetch", "sequence"];

impl Node {
    /// One process that does everything. Its name is the host's and the
    /// process's: two workers on one host never hold each other's leases.
    pub fn alone(fetch_timeout: Duration) -> Node {
        Node {
            name: format!("{}-{}", host_name(), std::process::id()),
            vantage: None,
            fetch: true,
            sequence: true,
            lease: default_lease(fetch_timeout),
        }
    }
}

/// Long enough for a fetch with its retries to end before another worker
/// takes the URL over: three timeouts, and at least two minutes.
fn default_lease(fetch_timeout: Duration) -> Duration {
    (fetch_timeout * 3).max(Duration::from_secs(120))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "newsledger".into())
}

/// A name or vantage: a short word others can read in a log and a record.
fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl Validator<'_> {
    fn label(&self, v: &Spanned<String>, key: &str) -> Result<String, ConfigError> {
        if !is_label(v.get_ref()) {
            return Err(self.error(
                v,
                key,
                "must be 1 to 64 letters, digits, '-', '_' or '.', e.g. \"berlin-1\"",
            ));
        }
        Ok(v.get_ref().clone())
    }

    /// A source's `vantages`: labels, none twice.
    pub(super) fn vantages(
        &self,
        raw: Option<&Spanned<Vec<String>>>,
        source: &str,
    ) -> Result<Vec<String>, ConfigError> {
        let Some(list) = raw else {
            return Ok(Vec::new());
        };
        let key = format!("source.{source}.vantages");
        let mut out: Vec<String> = Vec::new();
        for v in list.get_ref() {
            if !is_label(v) || out.contains(v) {
                return Err(self.error(
                    list,
                    &key,
                    format!("`{v}` is not a vantage name (1 to 64 letters, digits, '-', '_' or '.', each once), e.g. [\"istanbul\", \"berlin\"]"),
                ));
            }
            out.push(v.clone());
        }
        Ok(out)
    }

    pub(super) fn node(
        &self,
        raw: Option<RawNode>,
        fetch_timeout: Duration,
    ) -> Result<Node, ConfigError> {
        let mut node = Node::alone(fetch_timeout);
        let Some(raw) = raw else { return Ok(node) };
        if let Some(v) = &raw.name {
            node.name = self.label(v, "node.name")?;
        }
        if let Some(v) = &raw.vantage {
            node.vantage = Some(self.label(v, "node.vantage")?);
        }
        if let Some(roles) = raw.roles {
            if roles.get_ref().is_empty() {
                return Err(self.error(
                    &roles,
                    "node.roles",
                    format!("is empty: give one or more of {ROLES:?}"),
                ));
            }
            if let Some(bad) = roles
                .get_ref()
                .iter()
                .find(|r| !ROLES.contains(&r.as_str()))
            {
                return Err(self.error(
                    &roles,
                    "node.roles",
                    format!("`{bad}` is not one of {ROLES:?} (the web view is `newsledger serve`)"),
                ));
            }
            node.fetch = roles.get_ref().iter().any(|r| r == "fetch");
            node.sequence = roles.get_ref().iter().any(|r| r == "sequence");
        }
        if let Some(l) = raw.lease {
            let d = self.duration(&l, "node.lease")?;
            if d < Duration::from_secs(10) {
                return Err(self.error(
                    &l,
                    "node.lease",
                    "must be at least 10s (a fetch must end before its lease does)",
                ));
            }
            node.lease = d;
        }
        Ok(node)
    }
}

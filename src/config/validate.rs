//! The configuration as validated: each raw value checked and turned into
//! its type, every error one line naming the file, the line and the key.

use super::raw::*;
use super::*;

pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) file: String,
}

impl Validator<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    pub(super) fn error<T>(
        &self,
        span: &Spanned<T>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.line_of(span.span().start),
            key: key.to_string(),
            message: message.into(),
        }
    }

    pub(super) fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
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

    pub(super) fn duration(&self, s: &Spanned<String>, key: &str) -> Result<Duration, ConfigError> {
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

    /// `[ledger] url`: a PostgreSQL URL (`postgres://USER@HOST:PORT/DB`).
    fn postgres_url(&self, u: &Spanned<String>) -> Result<String, ConfigError> {
        let url = u.get_ref().trim();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
            return Err(self.error(
                u,
                "ledger.url",
                "must be a PostgreSQL URL such as \"postgres://newsledger@db.internal:5432/newsledger\" (give the password in PGPASSWORD, not here)",
            ));
        }
        url.parse::<postgres::Config>()
            .map_err(|e| self.error(u, "ledger.url", format!("is not a PostgreSQL URL: {e}")))?;
        Ok(url.to_string())
    }

    pub(super) fn validate(&self, raw: RawConfig, path: &Path) -> Result<Config, ConfigError> {
        let (raw_path, raw_url) = raw.ledger.map_or((None, None), |l| (l.path, l.url));
        let ledger_url = raw_url.as_ref().map(|u| self.postgres_url(u)).transpose()?;
        let ledger_path = match raw_path {
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
                raw_max_age: match (&s.raw_max_age, &ledger_url) {
                    (Some(d), Some(_)) => return Err(self.error(
                        d,
                        &format!("source.{name}.raw_max_age"),
                        "retention is not yet available on a PostgreSQL ledger (its blobs are append-only there, so the captures would stay in the shared database); remove raw_max_age, or keep this source on a SQLite ledger",
                    )),
                    (d, _) => d
                        .as_ref()
                        .map(|d| self.duration(d, &format!("source.{name}.raw_max_age")))
                        .transpose()?,
                },
                hosts,
                ladder,
                max_new_links: match &s.max_new_links {
                    Some(n) => self.positive(n, &format!("source.{name}.max_new_links"))? as usize,
                    None => DEFAULT_MAX_NEW_LINKS,
                },
                vantages: self.vantages(s.vantages.as_ref(), &name)?,
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
        let node = self.node(raw.node, fetch.timeout)?;
        Ok(Config {
            file: path.to_path_buf(),
            ledger_path,
            ledger_url,
            fetch,
            metrics_listen,
            metrics_token,
            webhooks,
            sources,
            proofs,
            node,
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

//! `newsledger demo`: no configuration, no internet. An embedded news site
//! on 127.0.0.1 serves pages built from the seed articles; between cycles
//! one article is quietly edited, one only has its chrome changed, and one
//! disappears. The report shows what was flagged and how to audit it.

pub mod server;
pub mod site;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, ExtractOverrides, FetchConfig, KeepRaw, Source};
use crate::ledger;
use crate::schedule::Schedule;
use crate::service::{self, CycleSummary};
use server::{Page, Server};
use site::{Block, Chrome, SeedArticle};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo: {0}")]
    Io(#[from] std::io::Error),
    #[error("demo: cannot create {}: {source} (pass --db PATH to write the ledger elsewhere)", .dir.display())]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("demo: {0}")]
    Service(#[from] service::ServiceError),
    #[error("demo: {0}")]
    Ledger(#[from] ledger::LedgerError),
}

/// Where the demo ledger goes unless `--db` says otherwise: a new
/// directory of its own under the temporary directory (an unpredictable
/// name, mode 0700, kept for the reader to look into), so that no run
/// writes into another run's or another user's files.
pub fn default_ledger_path() -> Result<PathBuf, DemoError> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("newsledger-demo-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let dir = builder
        .tempdir()
        .map_err(|source| DemoError::Dir {
            dir: std::env::temp_dir(),
            source,
        })?
        .keep();
    Ok(dir.join("ledger.db"))
}

fn publish(server: &Server, a: &SeedArticle, visit: u64) {
    let url = server.url(&a.path);
    server.set(
        &a.path,
        Page::html(site::render(a, &url, &Chrome::visit(visit))),
    );
}

#[allow(
    clippy::expect_used,
    reason = "the demo's schedule, URLs and seeds are fixed in the binary"
)]
fn config(server: &Server, seeds: &[SeedArticle], ledger_path: &Path) -> Config {
    Config {
        file: PathBuf::from("(demo)"),
        ledger_path: ledger_path.to_path_buf(),
        ledger_url: None,
        node: crate::config::Node::alone(Duration::from_secs(30)),
        fetch: FetchConfig {
            per_host_interval: Duration::ZERO,
            timeout: Duration::from_secs(10),
            ..FetchConfig::default()
        },
        metrics_listen: None,
        metrics_token: None,
        webhooks: vec![],
        proofs: None,
        sources: vec![std::sync::Arc::new(Source {
            name: "demo-news".into(),
            schedule: Schedule::parse("*/15 * * * *", None).expect("static schedule"),
            timezone: None,
            urls: seeds
                .iter()
                .map(|a| url::Url::parse(&server.url(&a.path)).expect("server URL"))
                .collect(),
            feeds: vec![],
            sitemaps: vec![],
            listings: vec![],
            link_selector: None,
            overrides: ExtractOverrides::default(),
            keep_raw: KeepRaw::Revisions,
            raw_max_age: None,
            hosts: Default::default(),
            ladder: Default::default(),
            max_new_links: crate::config::DEFAULT_MAX_NEW_LINKS,
            vantages: Vec::new(),
        })],
    }
}

fn counts_line(s: &[CycleSummary]) -> String {
    s.iter()
        .map(|sum| crate::present::counts(&sum.counts))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs the demo and writes its report to `out`.
pub async fn run(out: &mut dyn Write, ledger_path: &Path, color: bool) -> Result<(), DemoError> {
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", ledger_path.display()));
        if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    // The ledger's directory (by default under the temporary directory,
    // which a fresh machine has never seen) holds the demo's keys too.
    let dir = ledger_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::fs::create_dir_all(&dir).map_err(|source| DemoError::Dir {
        dir: dir.clone(),
        source,
    })?;
    let server = Server::start().await?;
    let seeds = site::seeds();
    for a in &seeds {
        publish(&server, a, 0);
    }
    let mut cfg = config(&server, &seeds, ledger_path);
    // A throw-away checkpoint key, so that the demo signs checkpoints and
    // its articles can be proved with a bundle.
    let vkey_path = dir.join("demo.vkey");
    if let Ok(signer) = crate::note::Signer::generate("demo.newsledger.invalid/ledger") {
        let key_path = dir.join("demo-checkpoint.key");
        std::fs::write(&key_path, format!("{}\n", signer.to_skey()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::write(&vkey_path, format!("{}\n", signer.verifier()))?;
        cfg.proofs = Some(crate::config::Proofs {
            key_path,
            origin: signer.name.clone(),
            replaces: None,
            signer: std::sync::Arc::new(signer),
            publish: None,
            tsa: None,
            witnesses: vec![],
        });
    }
    let bold = |s: &str| {
        if color {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };

    writeln!(
        out,
        "{}",
        bold(&format!(
            "newsledger demo: a local news site at http://{}/ with {} articles",
            server.addr(),
            seeds.len()
        ))
    )?;
    let c1 = service::once(&cfg, None).await?;
    writeln!(
        out,
        "cycle 1: first visit .................. {}",
        counts_line(&c1)
    )?;

    // Between cycles: a quiet edit, a chrome-only change, a removal.
    #[allow(
        clippy::expect_used,
        reason = "the demo's schedule, URLs and seeds are fixed in the binary"
    )]
    let nordic = seeds
        .iter()
        .find(|a| a.key == "nordic-monitor")
        .expect("seed");
    let mut edited = nordic.clone();
    edited
        .blocks
        .push(Block::Paragraph(site::NORDIC_ADDED_PARAGRAPH.into()));
    publish(&server, &edited, 0);
    #[allow(
        clippy::expect_used,
        reason = "the demo's schedule, URLs and seeds are fixed in the binary"
    )]
    let portal = seeds
        .iter()
        .find(|a| a.key == "hurriyet-daily-news")
        .expect("seed");
    publish(&server, portal, 1);
    #[allow(
        clippy::expect_used,
        reason = "the demo's schedule, URLs and seeds are fixed in the binary"
    )]
    let gone = seeds.iter().find(|a| a.key == "news-az").expect("seed");
    server.remove(&gone.path);
    writeln!(
        out,
        "  (site changes: Nordic Monitor quietly adds a paragraph; Hürriyet's sidebar, \"most read\", view counter and ad slot change; News.Az deletes its article)"
    )?;

    let c2 = service::once(&cfg, None).await?;
    writeln!(
        out,
        "cycle 2: after the changes ............ {}",
        counts_line(&c2)
    )?;
    let c3 = service::once(&cfg, None).await?;
    writeln!(
        out,
        "cycle 3: nothing changed .............. {}",
        counts_line(&c3)
    )?;
    writeln!(out)?;

    writeln!(out, "{}", bold("Flagged:"))?;
    let conn = ledger::open_read_only(ledger_path)?;
    let changes = ledger::lists::change_rows(&conn, Default::default(), usize::MAX)?;
    for (ch, _) in changes.iter().rev().filter(|(c, _)| c.kind != "new") {
        match ch.kind.as_str() {
            "gone" => writeln!(
                out,
                "  GONE     {}  (last revision {}, seq {})",
                ch.url,
                ch.from_revision.unwrap_or(0),
                ch.seq
            )?,
            kind => {
                let from = ch.from_revision.unwrap_or(0);
                let to = ch.to_revision.unwrap_or(0);
                let label = if ch.declared {
                    "declared"
                } else {
                    "stealth edit"
                };
                writeln!(
                    out,
                    "  {:<8} {}  revision {from} → {to}, fields {}, {label} (seq {})",
                    kind.to_uppercase(),
                    ch.url,
                    ch.fields,
                    ch.seq
                )?;
                if let (Some((_, old)), Some((_, new))) = (
                    ledger::read::article(&conn, &ch.url)?.revision(&conn, Some(from))?,
                    ledger::read::article(&conn, &ch.url)?.revision(&conn, Some(to))?,
                ) {
                    let d = crate::diff::words::diff(&old.text, &new.text);
                    for hunk in crate::diff::words::excerpt(&d, 8) {
                        let hunk = if color {
                            hunk.replace("{+", "\x1b[1;32m{+")
                                .replace("+}", "+}\x1b[0m")
                                .replace("[-", "\x1b[1;31m[-")
                                .replace("-]", "-]\x1b[0m")
                        } else {
                            hunk
                        };
                        writeln!(out, "           {hunk}")?;
                    }
                }
            }
        }
    }
    let flagged: Vec<&str> = changes
        .iter()
        .filter(|(c, _)| c.kind != "new")
        .map(|(c, _)| c.url.as_str())
        .collect();
    let portal_url = server.url(&portal.path);
    if !flagged.contains(&portal_url.as_str()) {
        writeln!(out, "  (nothing for {portal_url}: only its chrome changed)")?;
    }
    let report = ledger::verify::verify(&conn, None)?;
    let head = report
        .head
        .as_ref()
        .map(|h| h.to_string())
        .unwrap_or_default();
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        bold(&format!("Ledger: {}", ledger_path.display()))
    )?;
    writeln!(
        out,
        "  {} entries, chain {}, head {head}",
        report.entries,
        if report.ok() { "intact" } else { "BROKEN" }
    )?;
    writeln!(out)?;
    let db = ledger_path.display();
    let edited_url = server.url(&nordic.path);
    writeln!(
        out,
        "Audit it (the site is gone when the demo exits; the ledger stays):"
    )?;
    writeln!(out, "  newsledger changes --db {db}")?;
    writeln!(out, "  newsledger history {edited_url} --db {db}")?;
    writeln!(out, "  newsledger diff {edited_url} --db {db}")?;
    writeln!(out, "  newsledger show {edited_url} --rev 1 --db {db}")?;
    writeln!(out, "  newsledger verify --db {db}")?;
    writeln!(out, "  newsledger checkpoint --db {db}")?;
    let bundle = dir.join("evidence.wacz");
    writeln!(
        out,
        "  newsledger prove {edited_url} --rev 1 -o {} --db {db}",
        bundle.display()
    )?;
    writeln!(
        out,
        "  newsledger verify-bundle {} --key {}",
        bundle.display(),
        vkey_path.display()
    )?;
    writeln!(
        out,
        "(with cargo: cargo run --release -- changes --db {db})"
    )?;
    Ok(())
}

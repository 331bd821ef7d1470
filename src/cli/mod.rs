//! The command line: arguments, exit codes, and output of every command.
//!
//! Exit codes (DESIGN.md): 0 success, 1 a check found a problem (verify),
//! 2 bad usage or configuration, 3 a runtime failure.

mod journal;
pub(crate) mod output;
mod proofs;

pub use output::counts;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Config, ExtractOverrides};
use crate::ledger::{self, Checkpoint};

#[derive(Debug, Parser)]
#[command(
    name = "newsledger",
    version,
    about = "Watches news articles and keeps a tamper-evident record of what they said and when"
)]
pub struct Cli {
    /// Configuration file [default: $NEWSLEDGER_CONFIG or ./newsledger.toml]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Ledger database, overriding the configuration's `ledger.path`
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Log format on stderr
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable; without timestamps under systemd (the journal adds them)
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormat {
    Jsonl,
    Warc,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The daemon: every source on its schedule until SIGTERM/SIGINT
    Run,
    /// One cycle of every (or one) source, then exit
    Once {
        #[arg(long)]
        source: Option<String>,
    },
    /// A local news site that changes between cycles, and what was flagged (no config, no internet)
    Demo,
    /// Validate the configuration and print what it would watch
    CheckConfig,
    /// Print the article extracted from one page (no ledger)
    Extract {
        /// An HTML file, or an http(s) URL to fetch
        input: String,
        /// The page's URL, when INPUT is a file (resolves relative links)
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The revisions of an article
    History {
        url: String,
        #[arg(long)]
        json: bool,
    },
    /// One revision's text and metadata
    Show {
        url: String,
        #[arg(long, conflicts_with = "at")]
        rev: Option<i64>,
        /// What the record says the page showed at this time (RFC 3339 or a date)
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every watched article: title, source, status, revisions, last change
    Articles {
        #[arg(long)]
        source: Option<String>,
        /// changed, unchanged or gone
        #[arg(long, value_parser = ["changed", "unchanged", "gone"])]
        status: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Skip this many first (the next page: --offset 100)
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
    /// Articles whose text ever contained TEXT: first and last seen, and the revision that removed it
    Search {
        text: String,
        /// At most this many articles
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Skip this many first (the next page: --offset 50)
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
    /// Word-level diff between two revisions
    Diff {
        url: String,
        #[arg(long)]
        from: Option<i64>,
        #[arg(long)]
        to: Option<i64>,
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
        /// The whole text, not only the changes with their context
        #[arg(long)]
        full: bool,
        #[arg(long)]
        json: bool,
    },
    /// Flagged changes, removals, restorations and new articles, newest first
    Changes {
        /// A duration back from now (24h, 7d) or an RFC 3339 timestamp
        #[arg(long)]
        since: Option<String>,
        /// Only these kinds (repeatable)
        #[arg(long, value_parser = ["new", "changed", "metadata", "reverted", "gone", "restored", "rebaseline"])]
        kind: Vec<String>,
        /// Only edits at least this significant (the rules: README, "How much a change matters")
        #[arg(long, value_parser = ["trivial", "minor", "substantive"])]
        significance: Option<String>,
        /// At most this many, newest first
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Skip this many first (the next page: --offset 50)
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
    /// Per source: last cycle and counts, next run; ledger size and head
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Recompute the hash chain; exit 1 with the first bad seq if broken
    Verify {
        /// A checkpoint taken earlier that the ledger must still extend: SEQ:HEXHASH,
        /// or a signed checkpoint FILE (checked with a consistency proof)
        #[arg(long)]
        checkpoint: Option<String>,
        /// The log's verifier key (VKEY or a file holding it), for a signed checkpoint
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
        /// With a signed checkpoint: also re-walk the whole chain
        #[arg(long)]
        full: bool,
        /// Only the chain (hashes, links, checkpoint): no blob contents,
        /// derived tables or tree nodes. The fast check for very large ledgers
        #[arg(long)]
        chain_only: bool,
        /// Verify an exported JSONL file instead of the ledger database
        #[arg(long, value_name = "FILE")]
        jsonl: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Recompute the derived tables (articles, revisions, changes, fetch state) from the chain
    Rebuild {
        /// Rebuild even when the derived tables cite entries the ledger no longer has
        /// (the ledger was truncated: `verify --checkpoint` is the check for that)
        #[arg(long)]
        force: bool,
    },
    /// Print the latest signed checkpoint (or the head as SEQ:HEXHASH), to keep elsewhere
    Checkpoint {
        /// Print the head as SEQ:HEXHASH even when signed checkpoints exist
        #[arg(long)]
        head: bool,
        #[arg(long)]
        json: bool,
    },
    /// Signing keys for checkpoints
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// A read-only web view: changes, articles, timelines and diffs, search, sources, ledger
    Serve {
        /// Address to listen on (beyond loopback only with an access token)
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Access token (at least 16 characters) required by every request
        #[arg(long, env = "NEWSLEDGER_SERVE_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// A name the view is reached by besides loopback names (e.g.
        /// news-desk.example.org or https://news-desk.example.org behind a
        /// proxy); repeatable. Other Host headers are refused (DNS rebinding)
        #[arg(long = "public-name")]
        public_names: Vec<String>,
    },
    /// Write one self-contained HTML report of an article for an editor
    Report {
        url: String,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Write an evidence bundle (WACZ) for one article revision, or its whole history
    Prove {
        url: String,
        #[arg(long, conflicts_with = "at")]
        rev: Option<i64>,
        /// The revision the page showed at this time (RFC 3339)
        #[arg(long)]
        at: Option<String>,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Check an evidence bundle without the ledger; exit 1 naming what failed
    VerifyBundle {
        file: PathBuf,
        /// The log's verifier key (VKEY or a file holding it)
        #[arg(long, value_name = "VKEY")]
        key: String,
        /// A witness's cosigner key whose cosignature must be present (repeatable)
        #[arg(long, value_name = "VKEY")]
        witness_key: Vec<String>,
        /// The time-stamping authority's CA certificate (PEM), to check the token with openssl
        #[arg(long, value_name = "PEM")]
        tsa_ca: Option<PathBuf>,
    },
    /// Every entry as JSON lines (verifiable offline), or stored captures as WARC 1.1
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Output file [default: standard output]
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// JSONL: also write every referenced blob (texts and raw captures)
        #[arg(long)]
        blobs: bool,
    },
    /// Exit 0 if every source cycled on schedule and fetches, 1 if one is overdue, failing or read weakly (for HEALTHCHECK)
    Health {
        /// How late a cycle may be before the daemon counts as stuck
        #[arg(long, default_value = "15m")]
        grace: String,
        /// How many cycles in a row may fail every fetch before the source counts as down
        #[arg(long, default_value_t = 3, value_name = "N")]
        failing_cycles: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeyAction {
    /// Create an Ed25519 signing key (file mode 0600) and print its verifier key
    Generate {
        /// The key name, by convention the checkpoint origin (e.g. example.org/newsledger)
        #[arg(long)]
        name: String,
        #[arg(long, short)]
        output: PathBuf,
    },
}

/// A failure with its exit code and one line to print.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    fn runtime(message: impl std::fmt::Display) -> Failure {
        Failure {
            code: 3,
            message: message.to_string(),
        }
    }
}

impl From<ledger::LedgerError> for Failure {
    fn from(e: ledger::LedgerError) -> Failure {
        match e {
            ledger::LedgerError::Missing(_) => Failure::usage(e.to_string()),
            ledger::LedgerError::Untrusted { .. }
            | ledger::LedgerError::Tampered { .. }
            | ledger::LedgerError::CorruptBlob { .. }
            | ledger::LedgerError::MissingBlob(_) => Failure {
                code: 1,
                message: e.to_string(),
            },
            other => Failure::runtime(other),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        // `newsledger changes | head`: the reader left; stop quietly.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure {
                code: 0,
                message: String::new(),
            };
        }
        Failure::runtime(e)
    }
}

/// Entry point used by `main`: parses arguments, runs, returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::from(
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        2
                    } else {
                        0
                    },
                );
            }
            // One line: clap's message up to its usage block, so that what
            // it lists below its first line (the missing arguments) is said.
            let text = e.render().to_string();
            let said: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty() && !l.starts_with("Usage:"))
                .map(str::trim)
                .collect();
            let first = if said.is_empty() {
                "error: bad arguments".to_string()
            } else {
                said.join(" ")
            };
            eprintln!("{first} (see `newsledger --help`)");
            return ExitCode::from(2);
        }
    };
    // The demo prints its own report; its log shows only what was flagged.
    let default_level = if matches!(cli.command, Command::Demo) {
        "warn"
    } else {
        "info"
    };
    init_logging(cli.log_format, default_level);
    // The soft open-file limit up to the hard one, before anything opens:
    // listeners and pools size their caps from it (crate::limits).
    crate::limits::open_files();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

fn init_logging(format: LogFormat, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let under_systemd =
        std::env::var_os("JOURNAL_STREAM").is_some() || std::env::var_os("INVOCATION_ID").is_some();
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Auto if under_systemd => builder
            .fmt_fields(journal::EscapedFields)
            .with_ansi(false)
            .event_format(journal::Journald(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_level(false),
            ))
            .try_init(),
        _ => builder
            .fmt_fields(journal::EscapedFields)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

fn load_config(cli: &Cli) -> Result<Config, Failure> {
    let path = cli.config.clone().unwrap_or_else(config::default_path);
    let mut cfg = Config::load(&path).map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(db) = &cli.db {
        cfg.ledger_path = db.clone();
    }
    Ok(cfg)
}

/// The configuration for `run` and `once`: one that watches nothing is
/// refused before a ledger is created for it.
fn load_watching_config(cli: &Cli) -> Result<Config, Failure> {
    let cfg = load_config(cli)?;
    if cfg.sources.is_empty() {
        let path = cli.config.clone().unwrap_or_else(config::default_path);
        return Err(Failure::usage(format!(
            "{}: no [[source]] is configured, so there is nothing to watch; add one (a name, a schedule, and urls, feeds, sitemaps or listings: see config/example.toml)",
            path.display()
        )));
    }
    Ok(cfg)
}

/// The ledger a read command uses: `--db`, else the configuration's.
fn ledger_path(cli: &Cli) -> Result<PathBuf, Failure> {
    if let Some(db) = &cli.db {
        return Ok(db.clone());
    }
    load_config(cli)
        .map(|c| c.ledger_path)
        .map_err(|f| Failure::usage(format!("{} (or pass --db PATH)", f.message)))
}

/// The ledger for a read command, refused when its chain ends before what
/// was recorded of it ([`ledger::read::check_not_truncated`]).
fn open_ro(cli: &Cli) -> Result<(PathBuf, rusqlite::Connection), Failure> {
    let path = ledger_path(cli)?;
    let conn = ledger::open_for_reading(&path)?;
    Ok((path, conn))
}

fn resolve(conn: &rusqlite::Connection, url: &str) -> Result<String, Failure> {
    if let Some(found) = ledger::read::resolve_article(conn, url)? {
        return Ok(found);
    }
    let near = ledger::read::suggest(conn, url)?;
    Err(Failure::usage(if near.is_empty() {
        format!("no article {url} in the ledger (see `newsledger articles`)")
    } else {
        format!(
            "no article {url} in the ledger; did you mean {}?",
            near.join(" or ")
        )
    }))
}

/// On SIGHUP, reads and validates the configuration again: a good one is
/// handed to the daemon, a bad one is logged and the running one kept.
fn reload_on_sighup(cli: &Cli) -> tokio::sync::mpsc::Receiver<Config> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let path = cli.config.clone().unwrap_or_else(config::default_path);
    let db = cli.db.clone();
    // Registered now, before the daemon starts: SIGHUP's default action is to exit.
    let hup = signal(SignalKind::hangup());
    tokio::spawn(async move {
        let Ok(mut hup) = hup else { return };
        while hup.recv().await.is_some() {
            tracing::info!(config = %path.display(), "SIGHUP: reloading the configuration");
            match Config::load(&path) {
                Ok(mut cfg) => {
                    if let Some(db) = &db {
                        cfg.ledger_path = db.clone();
                    }
                    if tx.send(cfg).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "configuration reload refused; keeping the running configuration")
                }
            }
        }
    });
    rx
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    #[allow(
        clippy::expect_used,
        reason = "registering the SIGTERM handler at start fails only without a signal driver: a startup bug, not input"
    )]
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn dispatch(cli: Cli) -> Result<u8, Failure> {
    let mut out = std::io::stdout().lock();
    dispatch_to(cli, &mut out).await
}

/// Runs one command line in this process, its standard output written to
/// `out`: (exit code, the error line it would print). For tests that run
/// every read command over many ledgers (a process each would take minutes).
#[doc(hidden)]
pub async fn run_in_process(args: &[&str], out: &mut dyn Write) -> (u8, String) {
    let cli = match Cli::try_parse_from(std::iter::once("newsledger").chain(args.iter().copied())) {
        Ok(c) => c,
        Err(e) => return (2, e.to_string()),
    };
    match dispatch_to(cli, out).await {
        Ok(code) => (code, String::new()),
        Err(f) => (f.code, f.message),
    }
}

async fn dispatch_to(cli: Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    match &cli.command {
        Command::Run => {
            let cfg = load_watching_config(&cli)?;
            let reloads = reload_on_sighup(&cli);
            crate::service::run(&cfg, shutdown_signal(), reloads)
                .await
                .map_err(Failure::runtime)?;
        }
        Command::Once { source } => {
            let cfg = load_watching_config(&cli)?;
            let summaries = crate::service::once(&cfg, source.as_deref())
                .await
                .map_err(|e| match e {
                    crate::service::ServiceError::UnknownSource(_) => Failure::usage(e.to_string()),
                    other => Failure::runtime(other),
                })?;
            for s in &summaries {
                writeln!(out, "{}: {}", s.source, output::counts(&s.counts))?;
            }
            let unrecorded: Vec<String> = summaries
                .iter()
                .filter(|s| s.unrecorded > 0)
                .map(|s| {
                    format!(
                        "{}: {} fetches not recorded (last: {})",
                        s.source,
                        s.unrecorded,
                        s.last_error.as_deref().unwrap_or("?")
                    )
                })
                .collect();
            if !unrecorded.is_empty() {
                return Err(Failure::runtime(unrecorded.join("; ")));
            }
        }
        Command::Demo => {
            let path = match &cli.db {
                Some(p) => p.clone(),
                None => crate::demo::default_ledger_path().map_err(Failure::runtime)?,
            };
            let color = std::io::stdout().is_terminal();
            crate::demo::run(&mut out, &path, color)
                .await
                .map_err(Failure::runtime)?;
        }
        Command::CheckConfig => {
            let cfg = load_config(&cli)?;
            output::check_config(&mut out, &cfg)?;
        }
        Command::Extract { input, url, json } => {
            let article = extract_input(input, url.as_deref(), &cli).await?;
            output::article(&mut out, &article, *json)?;
        }
        Command::History { url, json } => {
            let (_, conn) = open_ro(&cli)?;
            let url = resolve(&conn, url)?;
            let rows = ledger::read::article(&conn, &url)?.history();
            output::history(&mut out, &url, &rows, *json)?;
        }
        Command::Show { url, rev, at, json } => {
            let (_, conn) = open_ro(&cli)?;
            let url = resolve(&conn, url)?;
            let record = ledger::read::article(&conn, &url)?;
            let (rev, at) =
                match at {
                    None => (*rev, None),
                    Some(t) => {
                        let t = parse_since(t).map_err(|f| Failure {
                            message: f.message.replacen("--since", "--at", 1),
                            ..f
                        })?;
                        let at = ledger::read::at_time(&conn, &record, &t)?.ok_or_else(|| {
                            Failure::usage(format!("the ledger first saw {url} after {t}"))
                        })?;
                        (
                            Some(at.revision.ok_or_else(|| {
                                Failure::usage(format!("{url}: {}", at.describe()))
                            })?),
                            Some(at),
                        )
                    }
                };
            let (row, article) = record.revision(&conn, rev)?.ok_or_else(|| {
                Failure::usage(format!(
                    "{url} has no revision {} (it has 1 to {})",
                    rev.unwrap_or(0),
                    record.last().unwrap_or(0)
                ))
            })?;
            if let Some(at) = &at {
                if *json {
                    let mut v = serde_json::to_value(at).unwrap_or_default();
                    if let Some(o) = v.as_object_mut() {
                        o.insert("url".into(), serde_json::Value::String(url.clone()));
                        o.insert(
                            "article".into(),
                            serde_json::to_value(&article).unwrap_or_default(),
                        );
                    }
                    writeln!(
                        out,
                        "{}",
                        serde_json::to_string_pretty(&v).unwrap_or_default()
                    )?;
                    return Ok(0);
                }
                writeln!(out, "{}", at.describe())?;
            }
            output::show(&mut out, &url, &row, &article, *json)?;
        }
        Command::Articles {
            source,
            status,
            limit,
            offset,
            json,
        } => {
            let (_, conn) = open_ro(&cli)?;
            let rows = ledger::read::articles(&conn, source.as_deref(), status.as_deref())?;
            let total = rows.len();
            let rows: Vec<_> = rows.into_iter().skip(*offset).take(*limit).collect();
            output::articles(&mut out, &rows, *json)?;
            let shown = offset + rows.len();
            if !*json && shown < total {
                writeln!(
                    out,
                    "{} to {shown} of {total}; the next page: --offset {shown}",
                    offset + 1
                )?;
            }
        }
        Command::Search {
            text,
            limit,
            offset,
            json,
        } => {
            let (path, conn) = open_ro(&cli)?;
            let page = ledger::search::search_page(&conn, &path, text, *offset, *limit)?;
            output::search(&mut out, text, &page.hits, *json)?;
            if page.more && !*json {
                writeln!(
                    out,
                    "more articles may hold it: --offset {}",
                    offset + page.hits.len()
                )?;
            }
        }
        Command::Diff {
            url,
            from,
            to,
            color,
            full,
            json,
        } => {
            let (_, conn) = open_ro(&cli)?;
            let url = resolve(&conn, url)?;
            let record = ledger::read::article(&conn, &url)?;
            let last = record.last().unwrap_or(1);
            // By default: the latest change of the text (not of metadata only).
            let (from, to) = match (from, to) {
                (None, None) => record
                    .latest_content_change()
                    .unwrap_or(((last - 1).max(1), last)),
                (f, t) => {
                    let to = t.unwrap_or(last);
                    (f.unwrap_or((to - 1).max(1)), to)
                }
            };
            let load = |n: i64| -> Result<crate::extract::Article, Failure> {
                record
                    .revision(&conn, Some(n))?
                    .map(|(_, a)| a)
                    .ok_or_else(|| {
                        Failure::usage(format!("{url} has no revision {n} (it has 1 to {last})"))
                    })
            };
            let (a, b) = (load(from)?, load(to)?);
            let color = match color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            output::diff(&mut out, &url, from, to, &a, &b, color, *full, *json)?;
        }
        Command::Changes {
            since,
            kind,
            significance,
            limit,
            offset,
            json,
        } => {
            let (_, conn) = open_ro(&cli)?;
            let since = since.as_deref().map(parse_since).transpose()?;
            let mut rows = ledger::read::changes(&conn, since.as_deref())?;
            if !kind.is_empty() {
                rows.retain(|r| kind.contains(&r.kind));
            }
            let min = significance
                .as_deref()
                .and_then(crate::diff::significance::Level::parse);
            let total = rows.len();
            let page = ledger::read::page_changes(&conn, rows, min, *offset, *limit)?;
            output::changes(
                &mut out,
                &page,
                output::Page {
                    offset: *offset,
                    total: min.is_none().then_some(total),
                },
                *json,
            )?;
        }
        Command::Status { json } => {
            let (path, conn) = open_ro(&cli)?;
            let status = ledger::read::status(&conn, &path)?;
            output::status(&mut out, &status, *json)?;
        }
        Command::Rebuild { force } => {
            let path = ledger_path(&cli)?;
            let r = ledger::rebuild(&path, *force).map_err(|e| match e {
                ledger::LedgerError::Refused { .. } => Failure {
                    code: 1,
                    message: e.to_string(),
                },
                other => Failure::from(other),
            })?;
            writeln!(
                out,
                "rebuilt from {} entries: {} articles, {} revisions, {} changes, {} fetched URLs; {} rows differed from the chain before",
                r.entries, r.articles, r.revisions, r.changes, r.fetch_state, r.differed
            )?;
        }
        Command::Verify {
            checkpoint: Some(file),
            key,
            full,
            jsonl: None,
            json,
            ..
        } if std::path::Path::new(file).is_file() => {
            let key = match key {
                Some(k) => proofs::parse_vkey(k, "--key")?,
                None => match load_config(&cli).ok().and_then(|c| c.proofs) {
                    Some(p) => p.signer.verifier(),
                    None => {
                        return Err(Failure::usage(
                            "--checkpoint FILE: pass --key VKEY, the log's verifier key (printed by `newsledger key generate`, published beside the checkpoint)",
                        ));
                    }
                },
            };
            let (_, conn) = open_ro(&cli)?;
            let code =
                proofs::verify_signed(&mut out, &conn, std::path::Path::new(file), &key, *json)?;
            if *full {
                let report = ledger::verify::verify(&conn, None)?;
                output::verify(&mut out, &report, None, *json)?;
                return Ok(if report.ok() { code } else { 1 });
            }
            return Ok(code);
        }
        Command::Verify {
            checkpoint,
            jsonl,
            json,
            chain_only,
            ..
        } => {
            let cp: Option<Checkpoint> = checkpoint
                .as_deref()
                .map(|c| {
                    c.parse().map_err(|e: String| {
                        Failure::usage(if jsonl.is_some() && std::path::Path::new(c).is_file() {
                            format!(
                                "--checkpoint {c}: with --jsonl give SEQ:HEXHASH (a signed checkpoint file is checked against the ledger database, without --jsonl)"
                            )
                        } else {
                            format!("--checkpoint: {e}")
                        })
                    })
                })
                .transpose()?;
            if let Some(file) = jsonl {
                let f = std::fs::File::open(file)
                    .map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
                let mut report =
                    crate::export::jsonl::verify_file(&mut std::io::BufReader::new(f), cp.as_ref())
                        .map_err(|e| Failure {
                            code: 1,
                            message: format!("{}: {e}", file.display()),
                        })?;
                if report.entries == 0 && report.first_break.is_none() {
                    report.first_break = Some(ledger::verify::Break {
                        seq: 1,
                        reason: "the export holds no entries, not even the genesis entry: nothing to verify".into(),
                    });
                }
                output::verify(&mut out, &report, cp.as_ref(), *json)?;
                return Ok(if report.ok() { 0 } else { 1 });
            }
            // Not `open_ro`: verify reports a truncation itself.
            let path = ledger_path(&cli)?;
            let conn = ledger::open_read_only(&path)?;
            let progress = output::Progress::on_terminal();
            let show = |what: &str, done: u64, total: u64| progress.show(what, done, total);
            let options = ledger::verify::Options {
                chain_only: *chain_only,
                progress: Some(&show),
            };
            let mut report = ledger::verify::verify_with(&conn, cp.as_ref(), &options)?;
            progress.clear();
            // Fewer entries than this machine once found intact: a truncation.
            if let Some(v) = ledger::verified::last_verified(&path)
                .filter(|v| v.entries > i64::try_from(report.entries).unwrap_or(i64::MAX))
                && report.first_break.is_none()
            {
                report.first_break = Some(ledger::verify::Break {
                    seq: i64::try_from(report.entries).unwrap_or(0) + 1,
                    reason: format!(
                        "the ledger ends at entry {} but this machine verified {} entries on {} ({}): entries were removed from its end",
                        report.entries,
                        v.entries,
                        v.at,
                        ledger::verified::verified_path(&path).display()
                    ),
                });
            }
            output::verify(&mut out, &report, cp.as_ref(), *json)?;
            // For `serve`'s ledger page, and the floor the next verify and
            // every read hold the ledger to.
            ledger::verified::record_verified(
                &path,
                &ledger::timestamp(chrono::Utc::now()),
                report.ok(),
                i64::try_from(report.entries).unwrap_or(0),
                *chain_only,
            );
            return Ok(if report.ok() { 0 } else { 1 });
        }
        Command::Health {
            grace,
            failing_cycles,
            json,
        } => {
            let grace = humantime::parse_duration(grace)
                .map_err(|e| Failure::usage(format!("--grace {grace}: {e}")))?;
            let (path, conn) = open_ro(&cli)?;
            let status = ledger::read::cycles(&conn, &path)?;
            let mut problems = output::overdue(&status, chrono::Utc::now(), grace);
            problems.extend(output::failing(&status, (*failing_cycles).max(1)));
            output::health(&mut out, &problems, *json)?;
            return Ok(if problems.is_empty() { 0 } else { 1 });
        }
        Command::Export {
            format,
            output,
            blobs,
        } => {
            let (_, conn) = open_ro(&cli)?;
            let mut sink: Box<dyn Write> = match output {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .map_err(|e| Failure::runtime(format!("{}: {e}", p.display())))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            let n = match format {
                ExportFormat::Jsonl => crate::export::jsonl::export(&conn, &mut sink, *blobs),
                ExportFormat::Warc => crate::export::warc::export(&conn, &mut sink),
            }
            .map_err(|e| match e {
                // An entry that does not verify is a finding (exit 1).
                crate::export::ExportError::Ledger(e) => Failure::from(e),
                other => Failure::runtime(other),
            })?;
            sink.flush()?;
            drop(sink);
            eprintln!(
                "exported {n} {}",
                if matches!(format, ExportFormat::Jsonl) {
                    "entries"
                } else {
                    "records"
                }
            );
        }
        Command::Checkpoint { head, json } => {
            let (_, conn) = open_ro(&cli)?;
            proofs::checkpoint(&mut out, &conn, *head, *json)?;
        }
        Command::Key {
            action: KeyAction::Generate { name, output },
        } => proofs::key_generate(&mut out, name, output)?,
        Command::Serve {
            listen,
            token,
            public_names,
        } => {
            let ledger = ledger_path(&cli)?;
            if !ledger.exists() {
                return Err(Failure::usage(format!(
                    "ledger {} does not exist (run `newsledger once` first, or pass --db PATH)",
                    ledger.display()
                )));
            }
            let settings = crate::web::Settings {
                listen: *listen,
                ledger,
                token: token.clone(),
                public_names: public_names.clone(),
            };
            crate::web::check(&settings).map_err(Failure::usage)?;
            crate::web::serve(settings, shutdown_signal())
                .await
                .map_err(Failure::runtime)?;
        }
        Command::Report { url, output } => {
            let (_, conn) = open_ro(&cli)?;
            let url = resolve(&conn, url)?;
            let page = crate::web::report_html(&conn, &url)?;
            std::fs::write(output, page)
                .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", output.display())))?;
            eprintln!("report written to {}", output.display());
        }
        Command::Prove {
            url,
            rev,
            at,
            output,
        } => {
            let (_, conn) = open_ro(&cli)?;
            let url = resolve(&conn, url)?;
            proofs::prove(&conn, &url, *rev, at.as_deref(), output)?;
        }
        Command::VerifyBundle {
            file,
            key,
            witness_key,
            tsa_ca,
        } => {
            let key = proofs::parse_vkey(key, "--key")?;
            let witnesses = witness_key
                .iter()
                .map(|k| proofs::parse_vkey(k, "--witness-key"))
                .collect::<Result<Vec<_>, _>>()?;
            return proofs::verify_bundle(&mut out, file, &key, &witnesses, tsa_ca.as_deref());
        }
    }
    Ok(0)
}

/// `--since 24h` (a duration back from now) or an RFC 3339 timestamp.
fn parse_since(s: &str) -> Result<String, Failure> {
    parse_since_at(s, chrono::Utc::now())
}

/// `--since`: a duration back from now (`24h`, `7d`), `today`/`yesterday`
/// (midnight UTC), a date (`2026-11-22`, midnight UTC) or an RFC 3339 time.
fn parse_since_at(s: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String, Failure> {
    let midnight =
        |d: chrono::NaiveDate| ledger::timestamp(d.and_time(chrono::NaiveTime::MIN).and_utc());
    match s.trim() {
        "today" => return Ok(midnight(now.date_naive())),
        "yesterday" => {
            return Ok(midnight(
                now.date_naive()
                    .pred_opt()
                    .unwrap_or(chrono::NaiveDate::MIN),
            ));
        }
        _ => {}
    }
    if let Ok(d) = humantime::parse_duration(s) {
        // Past the beginning of time is the beginning of the ledger.
        let back = chrono::Duration::from_std(d)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        return Ok(ledger::timestamp(back));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(midnight(d));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| ledger::timestamp(t.with_timezone(&chrono::Utc)))
        .map_err(|_| {
            Failure::usage(format!(
                "--since {s}: give a duration (24h, 7d), today, yesterday, a date (2026-01-19) or an RFC 3339 time (2026-01-19T00:00:00Z)"
            ))
        })
}

async fn extract_input(
    input: &str,
    url: Option<&str>,
    cli: &Cli,
) -> Result<crate::extract::Article, Failure> {
    let overrides = ExtractOverrides::default();
    if input.starts_with("http://") || input.starts_with("https://") {
        let fetch_cfg = load_config(cli).map(|c| c.fetch).unwrap_or_default();
        let fetcher = crate::fetch::Fetcher::new(&fetch_cfg).map_err(Failure::runtime)?;
        let r = fetcher.fetch(input, &Default::default()).await;
        let resp = r
            .response
            .map_err(|e| Failure::runtime(format!("{input}: {e}")))?;
        if !(200..300).contains(&resp.status) {
            return Err(Failure::runtime(format!("{input}: HTTP {}", resp.status)));
        }
        let html = crate::extract::decode(&resp.body, resp.header("content-type")).into_owned();
        let final_url = r.final_url.clone();
        return tokio::task::spawn_blocking(move || {
            crate::extract::extract(&html, Some(&final_url), &overrides)
        })
        .await
        .map_err(Failure::runtime);
    }
    let bytes = std::fs::read(input)
        .map_err(|e| Failure::usage(format!("{input}: cannot read it: {e}")))?;
    let html = crate::extract::decode(&bytes, None).into_owned();
    let url = url.map(str::to_string);
    tokio::task::spawn_blocking(move || crate::extract::extract(&html, url.as_deref(), &overrides))
        .await
        .map_err(Failure::runtime)
}

#[cfg(test)]
mod tests {
    use super::parse_since_at;

    #[test]
    fn since_accepts_durations_dates_and_words_and_never_panics() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T15:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let p = |s: &str| parse_since_at(s, now).map_err(|f| f.message);
        assert_eq!(p("24h").unwrap(), "2026-11-21T15:30:00.000Z");
        assert_eq!(p("2026-11-20").unwrap(), "2026-11-20T00:00:00.000Z");
        assert_eq!(p("yesterday").unwrap(), "2026-11-21T00:00:00.000Z");
        assert_eq!(p("today").unwrap(), "2026-11-22T00:00:00.000Z");
        assert!(
            p("300000y").is_ok(),
            "far back is the beginning, not a panic"
        );
        assert!(p("18446744073709551615s").is_ok());
        assert!(p("soon").unwrap_err().contains("--since soon"));
    }
}

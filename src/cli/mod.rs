//! The command line: arguments, exit codes, and output of every command.
//!
//! Exit codes (DESIGN.md): 0 success, 1 a check found a problem (verify),
//! 2 bad usage or configuration, 3 a runtime failure.

mod audit;
mod daemon;
mod journal;
pub(crate) mod output;
mod proofs;
mod read;

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
        /// Spans on one page, counted from the newest (printed oldest
        /// first); 100 by default, every span with --json
        #[arg(long)]
        limit: Option<usize>,
        /// Newer spans to skip (the next page of older ones)
        #[arg(long, default_value_t = 0)]
        offset: usize,
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

async fn dispatch_to(cli: Cli, out: &mut dyn Write) -> Result<u8, Failure> {
    match &cli.command {
        Command::Run => daemon::run(&cli, out).await,
        Command::Once { .. } => daemon::once(&cli, out).await,
        Command::Demo => daemon::demo(&cli, out).await,
        Command::CheckConfig => daemon::check_config(&cli, out).await,
        Command::Extract { .. } => read::extract(&cli, out).await,
        Command::History { .. } => read::history(&cli, out).await,
        Command::Show { .. } => read::show(&cli, out).await,
        Command::Articles { .. } => read::articles(&cli, out).await,
        Command::Search { .. } => read::search(&cli, out).await,
        Command::Diff { .. } => read::diff(&cli, out).await,
        Command::Changes { .. } => read::changes(&cli, out).await,
        Command::Status { .. } => read::status(&cli, out).await,
        Command::Rebuild { .. } => audit::rebuild(&cli, out).await,
        Command::Verify { .. } => audit::verify(&cli, out).await,
        Command::Health { .. } => audit::health(&cli, out).await,
        Command::Export { .. } => audit::export(&cli, out).await,
        Command::Checkpoint { .. } => audit::checkpoint(&cli, out).await,
        Command::Key { .. } => audit::key(&cli, out).await,
        Command::Serve { .. } => daemon::serve(&cli, out).await,
        Command::Report { .. } => read::report(&cli, out).await,
        Command::Prove { .. } => audit::prove(&cli, out).await,
        Command::VerifyBundle { .. } => audit::verify_bundle(&cli, out).await,
    }
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

//! The command line: arguments, exit codes, and output of every command.
//!
//! Exit codes (DESIGN.md): 0 success, 1 a check found a problem (verify),
//! 2 bad usage or configuration, 3 a runtime failure.

mod args;
mod audit;
mod daemon;
mod journal;
mod location;
pub(crate) mod output;
mod proofs;
mod read;

pub use args::Cli;
use args::{Color, Command, ExportFormat, KeyAction, LogFormat};
pub use output::counts;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::config::{self, Config, ExtractOverrides};
use crate::ledger::{self, Checkpoint};

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
    location::apply_db(cli.db.as_deref(), &mut cfg)?;
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

use location::ledger_path;

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
                    if let Err(f) = location::apply_db(db.as_deref(), &mut cfg) {
                        tracing::error!(error = %f.message, "configuration reload refused; keeping the running configuration");
                        continue;
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
        Command::Migrate { .. } => audit::migrate(&cli, out).await,
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

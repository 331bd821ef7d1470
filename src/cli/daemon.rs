//! The commands that run things: the daemon, one cycle, the demo, the
//! configuration check and the web view.

use super::*;

/// `newsledger run`.
pub(super) async fn run(cli: &Cli, _out: &mut dyn Write) -> Result<u8, Failure> {
    let cfg = load_watching_config(cli)?;
    let reloads = reload_on_sighup(cli);
    crate::service::run(&cfg, shutdown_signal(), reloads)
        .await
        .map_err(Failure::runtime)?;
    Ok(0)
}

/// `newsledger once`.
pub(super) async fn once(cli: &Cli, out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Once { source } = &cli.command else {
        return Ok(0);
    };
    let cfg = load_watching_config(cli)?;
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
    Ok(0)
}

/// `newsledger demo`.
pub(super) async fn demo(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let path = match &cli.db {
        // A connection string taken as a path would name a file after it.
        Some(p) if crate::ledger::storage::is_postgres(&p.to_string_lossy()) => {
            return Err(Failure::usage(
                "demo writes a SQLite ledger of its own: give --db a file path (or none)",
            ));
        }
        Some(p) => p.clone(),
        None => crate::demo::default_ledger_path().map_err(Failure::runtime)?,
    };
    let color = std::io::stdout().is_terminal();
    crate::demo::run(&mut out, &path, color)
        .await
        .map_err(Failure::runtime)?;
    Ok(0)
}

/// `newsledger check-config`.
pub(super) async fn check_config(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let cfg = load_config(cli)?;
    output::check_config(&mut out, &cfg)?;
    Ok(0)
}

/// `newsledger serve`.
pub(super) async fn serve(cli: &Cli, _out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Serve {
        listen,
        token,
        public_names,
    } = &cli.command
    else {
        return Ok(0);
    };
    let (at, ledger) = location::resolve(cli)?;
    if let location::Location::Shared { url, .. } = at {
        keep_following(url, ledger.clone());
    }
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
    let failure = |e: crate::web::ServeError| {
        if e.is_usage() {
            Failure::usage(e.to_string())
        } else {
            Failure::runtime(e)
        }
    };
    crate::web::check(&settings).map_err(failure)?;
    crate::web::serve(settings, shutdown_signal())
        .await
        .map_err(failure)?;
    Ok(0)
}

/// How often `serve` brings its replica up to the PostgreSQL ledger.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// `serve` on a PostgreSQL ledger: its replica follows the shared log (a
/// thread of its own; a failure is logged and tried again, the pages go on
/// showing what the replica holds).
fn keep_following(url: String, replica: std::path::PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("replica-follow".into())
        .spawn(move || {
            loop {
                std::thread::sleep(FOLLOW_EVERY);
                match crate::ledger::storage::replica::follow(&url, &replica) {
                    Ok(Some(r)) if r.pulled > 0 => {
                        tracing::info!(pulled = r.pulled, head = r.head, "replica brought up to PostgreSQL")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not follow the PostgreSQL ledger; trying again"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "the replica will not follow PostgreSQL while serving");
    }
}

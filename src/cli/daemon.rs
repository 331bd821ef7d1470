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
    let ledger = ledger_path(cli)?;
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

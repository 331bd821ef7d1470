//! The audit commands: verify, rebuild, health, export, checkpoints and keys,
//! evidence bundles.

use super::*;

/// `newsledger rebuild`.
pub(super) async fn rebuild(cli: &Cli, out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Rebuild { force } = &cli.command else {
        return Ok(0);
    };
    let path = ledger_path(cli)?;
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
    Ok(0)
}

/// `newsledger migrate`: run on a thread of its own (the PostgreSQL
/// client is synchronous and must not block the runtime).
pub(super) async fn migrate(cli: &Cli, out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Migrate { from, to } = &cli.command else {
        return Ok(0);
    };
    let (from, to) = (from.clone(), to.clone());
    let done = tokio::task::spawn_blocking(move || {
        use crate::ledger::storage::{self, StorageError};
        if !storage::is_postgres(&from) && !std::path::Path::new(&from).exists() {
            return Err(StorageError::Usage(format!(
                "--from {from}: no such ledger (give a SQLite path or a postgres:// URL)"
            )));
        }
        let mut source = storage::open(&from, false)?;
        let mut target = storage::open(&to, true)?;
        storage::migrate::migrate(source.as_mut(), target.as_mut())
            .map(|m| (m, source.describe(), target.describe()))
    })
    .await
    .map_err(|e| Failure::runtime(format!("migrate: {e}")))?;
    let (m, from, to) = done.map_err(|e| match e {
        crate::ledger::storage::StorageError::NotEmpty { .. }
        | crate::ledger::storage::StorageError::Partial { .. }
        | crate::ledger::storage::StorageError::Usage(_) => Failure::usage(e.to_string()),
        other => Failure::runtime(other),
    })?;
    let head = m.summary.head.map_or("none".to_string(), |(seq, h)| {
        format!("{seq}:{}", hex::encode(h))
    });
    writeln!(
        out,
        "copied {} entries and {} blobs from {from} to {to}
both: head {head}, Merkle root {} over {} entries",
        m.entries,
        m.blobs,
        hex::encode(m.summary.root),
        m.summary.entries
    )?;
    if !m.left_behind.is_empty() {
        let list: Vec<String> = m
            .left_behind
            .iter()
            .map(|(what, n)| format!("{n} {what}"))
            .collect();
        writeln!(
            out,
            "not copied (the daemon's working state, not the record): {}; a daemon on the copy rediscovers articles from the sources' feeds and sitemaps",
            list.join(", ")
        )?;
    }
    Ok(0)
}

/// `newsledger verify`.
pub(super) async fn verify(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    match &cli.command {
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
                None => match load_config(cli).ok().and_then(|c| c.proofs) {
                    Some(p) => p.signer.verifier(),
                    None => {
                        return Err(Failure::usage(
                            "--checkpoint FILE: pass --key VKEY, the log's verifier key (printed by `newsledger key generate`, published beside the checkpoint)",
                        ));
                    }
                },
            };
            let (at, path) = location::resolve(cli)?;
            let conn = ledger::open_for_reading(&path)?;
            let code =
                proofs::verify_signed(&mut out, &conn, std::path::Path::new(file), &key, *json)?;
            audit_postgres(&at, &path, &mut out, *json)?;
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
            let (at, path) = location::resolve(cli)?;
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
            audit_postgres(&at, &path, &mut out, *json)?;
            return Ok(if report.ok() { 0 } else { 1 });
        }
        _ => {}
    }
    Ok(0)
}

/// `verify` of a PostgreSQL ledger: PostgreSQL read up to the replica's
/// head on its own bytes and compared with the replica (a row changed there
/// after the replica pulled it shows here); nothing for a SQLite ledger.
fn audit_postgres(
    at: &location::Location,
    replica: &std::path::Path,
    out: &mut dyn Write,
    json: bool,
) -> Result<(), Failure> {
    let location::Location::Shared { url, .. } = at else {
        return Ok(());
    };
    let audited = location::off_runtime("verify", || {
        crate::ledger::storage::replica::audit(url, replica)
    })?
    .map_err(location::failure)?;
    if !json {
        writeln!(
            out,
            "PostgreSQL {}: {} entries read from the database and checked on its own bytes; Merkle root {} (the replica's); sequencer row and rows agree; {} blobs byte-identical to the replica's{}{}",
            crate::ledger::storage::postgres::redact(url),
            audited.shared.entries,
            hex::encode(audited.shared.root),
            audited.blobs_same,
            match audited.blobs_extra {
                0 => String::new(),
                n => format!(", {n} more that no entry names"),
            },
            match audited.beyond {
                0 => String::new(),
                n => format!("; {n} entries appended since, not checked by this run"),
            }
        )?;
    }
    Ok(())
}

/// `newsledger health`.
pub(super) async fn health(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Health {
        grace,
        failing_cycles,
        json,
    } = &cli.command
    else {
        return Ok(0);
    };
    let grace = humantime::parse_duration(grace)
        .map_err(|e| Failure::usage(format!("--grace {grace}: {e}")))?;
    let (path, conn) = open_ro(cli)?;
    let status = ledger::read::cycles(&conn, &path)?;
    let mut problems = output::overdue(&status, chrono::Utc::now(), grace);
    problems.extend(output::failing(&status, (*failing_cycles).max(1)));
    output::health(&mut out, &problems, *json)?;
    Ok(if problems.is_empty() { 0 } else { 1 })
}

/// `newsledger export`.
pub(super) async fn export(cli: &Cli, _out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Export {
        format,
        output,
        blobs,
    } = &cli.command
    else {
        return Ok(0);
    };
    let (_, conn) = open_ro(cli)?;
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
    Ok(0)
}

/// `newsledger checkpoint`.
pub(super) async fn checkpoint(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Checkpoint { head, json } = &cli.command else {
        return Ok(0);
    };
    let (_, conn) = open_ro(cli)?;
    proofs::checkpoint(&mut out, &conn, *head, *json)?;
    Ok(0)
}

/// `newsledger key`.
pub(super) async fn key(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Key {
        action: KeyAction::Generate { name, output },
    } = &cli.command
    else {
        return Ok(0);
    };
    proofs::key_generate(&mut out, name, output)?;
    Ok(0)
}

/// `newsledger prove`.
pub(super) async fn prove(cli: &Cli, _out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Prove {
        url,
        rev,
        at,
        output,
    } = &cli.command
    else {
        return Ok(0);
    };
    let (_, conn) = open_ro(cli)?;
    let url = resolve(&conn, url)?;
    proofs::prove(&conn, &url, *rev, at.as_deref(), output)?;
    Ok(0)
}

/// `newsledger verify-bundle`.
pub(super) async fn verify_bundle(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::VerifyBundle {
        file,
        key,
        witness_key,
        tsa_ca,
    } = &cli.command
    else {
        return Ok(0);
    };
    let key = proofs::parse_vkey(key, "--key")?;
    let witnesses = witness_key
        .iter()
        .map(|k| proofs::parse_vkey(k, "--witness-key"))
        .collect::<Result<Vec<_>, _>>()?;
    proofs::verify_bundle(&mut out, file, &key, &witnesses, tsa_ca.as_deref())
}

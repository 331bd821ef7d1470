//! The proof commands: `key generate`, `checkpoint`, `verify --checkpoint
//! FILE`, `prove` and `verify-bundle`.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;

use super::Failure;
use crate::ledger::checkpoints::{self, Body};
use crate::ledger::{self, Checkpoint};
use crate::note::{Note, NoteVerifier, Signer};
use crate::proof::bundle;

fn check_failed(message: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: message.into(),
    }
}

/// `key generate`: a new Ed25519 key in a file only its owner can read.
pub fn key_generate(out: &mut dyn Write, name: &str, path: &Path) -> Result<(), Failure> {
    let signer = Signer::generate(name).map_err(|e| Failure::usage(format!("--name: {e}")))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::usage(format!(
                "{} exists; a signing key is never overwritten (move it away first)",
                path.display()
            ))
        } else {
            Failure::runtime(format!("cannot create {}: {e}", path.display()))
        }
    })?;
    writeln!(f, "{}", signer.to_skey())
        .and_then(|()| f.sync_all())
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
    eprintln!(
        "signing key written to {} (mode 0600); its verifier key, to publish:",
        path.display()
    );
    writeln!(out, "{}", signer.verifier())?;
    Ok(())
}

/// A verifier key given on the command line, or read from a file.
pub fn parse_vkey(arg: &str, flag: &str) -> Result<NoteVerifier, Failure> {
    let text = match std::fs::read_to_string(arg) {
        Ok(t) => t,
        Err(_) => arg.to_string(),
    };
    text.trim()
        .parse()
        .map_err(|e| Failure::usage(format!("{flag}: {e}")))
}

/// `checkpoint`: the latest signed checkpoint with its cosignatures, or the
/// head as SEQ:HEXHASH (`--head`, or no signed checkpoint yet).
pub fn checkpoint(
    out: &mut dyn Write,
    conn: &rusqlite::Connection,
    head_only: bool,
    json: bool,
) -> Result<(), Failure> {
    let head = ledger::read::checked_head(conn)?;
    if head.0 == 0 {
        return Err(Failure::runtime("the ledger is empty"));
    }
    let head = Checkpoint {
        seq: head.0,
        hash: head.1.as_slice().try_into().unwrap_or([0; 32]),
    };
    let latest = if head_only {
        None
    } else {
        checkpoints::latest(conn).map_err(Failure::runtime)?
    };
    let mut signed = None;
    if let Some(cp) = &latest {
        // The checkpoint entry itself verifies (its note is signed, but what
        // is printed beside it comes from the entry).
        let entry: Option<ledger::entry::Entry> = conn
            .query_row(
                &format!(
                    "SELECT {} FROM ledger WHERE seq = ?1",
                    ledger::entry::Entry::columns(conn)
                ),
                [cp.seq],
                ledger::entry::Entry::from_row,
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(Failure::runtime)?;
        if let Some(fault) = entry
            .as_ref()
            .map(|e| e.fault_in(conn))
            .transpose()
            .map_err(Failure::runtime)?
            .flatten()
        {
            return Err(ledger::LedgerError::Untrusted {
                seq: cp.seq,
                reason: fault.into(),
            }
            .into());
        }
        let mut text = cp.note.clone();
        for l in checkpoints::cosignatures_of(conn, cp.seq).map_err(Failure::runtime)? {
            text.push_str(&l);
            text.push('\n');
        }
        let ts = checkpoints::timestamp_of(conn, cp.seq).map_err(Failure::runtime)?;
        signed = Some((cp, text, ts));
    }
    if json {
        let v = json!({
            "head": head.to_string(),
            "checkpoint": signed.as_ref().map(|(cp, text, ts)| json!({
                "seq": cp.seq,
                "recorded_at": cp.recorded_at,
                "origin": cp.body.origin,
                "tree_size": cp.body.size,
                "root": B64.encode(cp.body.root),
                "key": cp.key,
                "note": text,
                "timestamp": ts.as_ref().map(|t| json!({"tsa": t.tsa, "time": t.time, "seq": t.seq})),
            })),
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )?;
        return Ok(());
    }
    match signed {
        Some((_, text, _)) => write!(out, "{text}")?,
        None => {
            if !head_only {
                eprintln!(
                    "no signed checkpoint yet (configure [checkpoint] key = \"PATH\"); the head:"
                );
            }
            writeln!(out, "{head}")?;
        }
    }
    Ok(())
}

/// `verify --checkpoint FILE`: the note is signed by `key`, and the ledger
/// extends it (consistency proof from the stored tree, O(log n)).
pub fn verify_signed(
    out: &mut dyn Write,
    conn: &rusqlite::Connection,
    file: &Path,
    key: &NoteVerifier,
    json: bool,
) -> Result<u8, Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::usage(format!("--checkpoint {}: {e}", file.display())))?;
    let fail = |m: String| check_failed(format!("--checkpoint {}: {m}", file.display()));
    let note = Note::parse(&text).map_err(|e| fail(e.to_string()))?;
    note.verify(key).map_err(|e| fail(e.to_string()))?;
    let body = Body::parse(&note.text).map_err(|e| fail(e.to_string()))?;
    // Entries up to the walked head never change (append-only, checked by
    // the walk), so the walk and the roots need not share a snapshot.
    let snapshot = conn;
    let n = ledger::head(snapshot)
        .map_err(Failure::runtime)?
        .map_or(0, |h| h.0 as u64);
    if body.size > n {
        return Err(fail(format!(
            "the ledger holds {n} entries, fewer than the checkpoint's {}: it was truncated",
            body.size
        )));
    }
    // The signed root is held to the ledger's own entries, each rehashed:
    // the stored tree nodes are derived data, and a consistency proof made
    // from them would prove only that the node table agrees with itself.
    let started = std::time::Instant::now();
    let walk = ledger::verify::verify_with(
        snapshot,
        None,
        &ledger::verify::Options {
            chain_only: true,
            progress: None,
        },
    )?;
    if let Some(b) = walk.first_break {
        return Err(fail(format!(
            "the ledger's chain is broken at entry {}: {}",
            b.seq, b.reason
        )));
    }
    // One read of the entries' hashes (each checked by the walk) gives both
    // roots and the proof a witness is sent.
    let mut tree = crate::ledger::merkle::Computed::new(
        crate::ledger::merkle::store::entry_hashes(snapshot, None).map_err(Failure::runtime)?,
    );
    let n = tree.size();
    let root_at = |tree: &mut crate::ledger::merkle::Computed, size: u64| {
        crate::ledger::merkle::root(tree, size).unwrap_or_else(|e| match e {})
    };
    let (at_size, root) = (root_at(&mut tree, body.size), root_at(&mut tree, n));
    if at_size != body.root {
        return Err(fail(format!(
            "the ledger's first {} entries do not give the signed root: the history it signed was rewritten",
            body.size
        )));
    }
    // What a witness is sent: the consistency proof, from the entries.
    let proof = if body.size == 0 {
        vec![]
    } else {
        crate::ledger::merkle::consistency_proof(&mut tree, body.size, n)
            .unwrap_or_else(|e| match e {})
    };
    crate::ledger::merkle::verify_consistency(body.size, n, &body.root, &root, &proof).map_err(
        |e| {
            fail(format!(
                "the ledger does not extend the checkpoint of size {} ({e}): the history it signed was rewritten",
                body.size
            ))
        },
    )?;
    let micros = started.elapsed().as_micros();
    if json {
        let v = json!({
            "ok": true, "origin": body.origin, "checkpoint_size": body.size,
            "checkpoint_root": B64.encode(body.root), "tree_size": n,
            "root": B64.encode(root), "proof_hashes": proof.len(), "key": key.to_string(),
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )?;
    } else {
        writeln!(
            out,
            "OK: checkpoint {} of size {} is signed by {key}, and the ledger (size {n}, root {}) extends it: all {n} entries rehashed and linked, the first {} give the signed root, consistency proof of {} hashes checked ({micros} µs in all)",
            body.origin,
            body.size,
            B64.encode(root),
            body.size,
            proof.len()
        )?;
    }
    Ok(0)
}

/// `prove URL [--rev N | --at TIME] -o FILE`.
pub fn prove(
    conn: &rusqlite::Connection,
    url: &str,
    rev: Option<i64>,
    at: Option<&str>,
    output: &Path,
) -> Result<(), Failure> {
    let rev = match (rev, at) {
        (Some(_), Some(_)) => return Err(Failure::usage("give --rev or --at, not both")),
        (Some(n), None) => {
            // The same mistake as `show --rev` is the same usage error.
            let record = ledger::read::article(conn, url)?;
            if record.revision(conn, Some(n))?.is_none() {
                let last = record.last().unwrap_or(1);
                return Err(Failure::usage(format!(
                    "{url} has no revision {n} (it has 1 to {last})"
                )));
            }
            Some(n)
        }
        (None, Some(t)) => {
            let t = chrono::DateTime::parse_from_rfc3339(t).map_err(|e| {
                Failure::usage(format!(
                    "--at {t}: {e} (an RFC 3339 time, e.g. 2026-11-22T16:05:00Z)"
                ))
            })?;
            let t = ledger::timestamp(t.with_timezone(&chrono::Utc));
            let record = ledger::read::article(conn, url)?;
            let at = ledger::read::at_time(conn, &record, &t)?
                .ok_or_else(|| Failure::usage(format!("the ledger first saw {url} after {t}")))?;
            Some(
                at.revision
                    .ok_or_else(|| Failure::usage(format!("{url}: {}", at.describe())))?,
            )
        }
        (None, None) => None,
    };
    let built = bundle::build(conn, url, rev).map_err(|e| Failure::runtime(e.to_string()))?;
    let tmp = output.with_extension("partial");
    std::fs::write(&tmp, &built.bytes)
        .and_then(|()| std::fs::rename(&tmp, output))
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", output.display())))?;
    eprintln!(
        "{}: {} entries, {} captures, {} bytes; checkpoint of size {}{}",
        output.display(),
        built.entries,
        built.captures,
        built.bytes.len(),
        built.tree_size,
        if built.timestamped {
            ", timestamped"
        } else {
            ", not timestamped yet"
        }
    );
    Ok(())
}

/// `verify-bundle FILE --key VKEY`.
pub fn verify_bundle(
    out: &mut dyn Write,
    file: &Path,
    key: &NoteVerifier,
    witnesses: &[NoteVerifier],
    tsa_ca: Option<&Path>,
) -> Result<u8, Failure> {
    let bytes =
        std::fs::read(file).map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
    let trust = bundle::Trust {
        log_key: key,
        witnesses,
        tsa_ca,
    };
    match bundle::verify(&bytes, &trust) {
        Ok(v) => {
            for l in &v.summary {
                writeln!(out, "{l}")?;
            }
            if !v.not_checked.is_empty() {
                writeln!(out, "\nNOT CHECKED:")?;
                for l in &v.not_checked {
                    writeln!(out, "  - {l}")?;
                }
            }
            writeln!(out, "\nDetails:")?;
            for l in &v.details {
                writeln!(out, "  {l}")?;
            }
            let verdict = match v.exit_code() {
                0 => "OK: verified, everything checked".to_string(),
                4 => "OK, EXCEPT what NOT CHECKED lists: verified".to_string(),
                _ => "CONTAINER RE-PACKED; contents verified".to_string(),
            };
            writeln!(out, "\n{verdict}: {}", file.display())?;
            Ok(v.exit_code())
        }
        Err(e) => Err(check_failed(format!("{}: FAILED: {e}", file.display()))),
    }
}

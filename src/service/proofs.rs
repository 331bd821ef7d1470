//! After a cycle: sign a checkpoint of what was appended, publish it, have
//! it timestamped by the configured TSA and cosigned by the witnesses.
//! Network failures never stop ingestion: a checkpoint that a TSA or a
//! witness did not answer for is sent again after the next cycle.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use tokio::sync::Mutex;
use tracing::{error, info, warn};

use crate::config::{Proofs, Witness};
use crate::ledger::checkpoints::{self, StoredCheckpoint};
use crate::ledger::writer::WriterHandle;
use crate::note::{Note, SigLine};
use crate::proof::tsa;

/// The largest timestamp reply read (a token with its certificate chain is
/// a few KiB).
const MAX_TSA_REPLY: usize = 256 * 1024;
/// The largest witness reply read (cosignature lines, or a tree size).
const MAX_WITNESS_REPLY: usize = 64 * 1024;

/// The proof work of a running service; one pass at a time.
pub struct ProofWork {
    cfg: Proofs,
    client: reqwest::Client,
    ledger_path: PathBuf,
    /// One pass at a time (cycles of several sources may end together).
    pass: Mutex<()>,
}

impl ProofWork {
    pub fn new(cfg: Proofs, user_agent: &str, ledger_path: &Path) -> Arc<ProofWork> {
        Arc::new(ProofWork {
            cfg,
            client: super::webhooks::client(user_agent),
            ledger_path: ledger_path.to_path_buf(),
            pass: Mutex::new(()),
        })
    }

    /// One pass: checkpoint (if entries were appended), publish, timestamp
    /// the latest checkpoint if it has no token yet, send it to witnesses
    /// that have not cosigned it.
    pub async fn after_cycle(&self, writer: &WriterHandle) {
        // One pass at a time; a pass that finds one running leaves the work
        // to it and the next (a slow TSA never queues passes up).
        let Ok(_pass) = self.pass.try_lock() else {
            tracing::debug!("a proof pass is running; this one is skipped");
            return;
        };
        match writer
            .checkpoint(
                self.cfg.signer.clone(),
                &self.cfg.origin,
                self.cfg.replaces.as_deref(),
            )
            .await
        {
            Ok(Some(made)) => {
                info!(
                    seq = made.seq,
                    tree_size = made.body.size,
                    root = %B64.encode(made.body.root),
                    "checkpoint signed"
                );
            }
            Ok(None) => {}
            Err(e) => {
                error!(error = %e, "cannot sign a checkpoint");
                return;
            }
        }
        let Some(latest) = self.read(checkpoints::latest).await.flatten() else {
            return;
        };
        let latest_seq = latest.seq;
        let mut cosigned = self
            .read(move |c| checkpoints::cosignatures_of(c, latest_seq))
            .await
            .unwrap_or_default();
        if let Some(url) = &self.cfg.tsa {
            self.timestamp(writer, url, &latest).await;
        }
        for w in &self.cfg.witnesses {
            // What the witness cosigned is in the ledger: no state of our own,
            // and a restart does not cost the witness a 409 round trip.
            let url = w.url.to_string();
            let have = self
                .read(move |c| checkpoints::witnessed_size(c, &url))
                .await
                .unwrap_or(0);
            if have >= latest.body.size {
                continue;
            }
            match self.witness(w, have, &latest).await {
                Ok((lines, verified)) => {
                    if let Err(e) = writer
                        .record_cosignatures(latest.seq, w.url.to_string(), lines.clone(), verified)
                        .await
                    {
                        error!(witness = %w.url, error = %e, "cannot record cosignatures");
                    }
                    info!(witness = %w.url, tree_size = latest.body.size, verified, "checkpoint cosigned");
                    cosigned.extend(lines);
                }
                Err(e) => {
                    warn!(witness = %w.url, error = %e, "witness did not cosign; the checkpoint is sent again after the next cycle")
                }
            }
        }
        if let Some(dir) = &self.cfg.publish {
            let mut text = latest.note.clone();
            for l in &cosigned {
                text.push_str(l);
                text.push('\n');
            }
            if let Err(e) = publish(dir, &text, &self.cfg.signer.verifier().to_string()) {
                warn!(dir = %dir.display(), error = %e, "cannot publish the checkpoint");
            }
        }
    }

    /// Runs a read on its own read-only connection, off the reactor.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Option<T> {
        let path = self.ledger_path.clone();
        let r = tokio::task::spawn_blocking(move || {
            let conn = crate::ledger::open_read_only(&path).map_err(|e| e.to_string())?;
            f(&conn).map_err(|e| e.to_string())
        })
        .await;
        match r {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                warn!(error = %e, "cannot read checkpoints");
                None
            }
            Err(_) => None,
        }
    }

    async fn timestamp(&self, writer: &WriterHandle, url: &url::Url, cp: &StoredCheckpoint) {
        let seq = cp.seq;
        if self
            .read(move |c| checkpoints::timestamp_of(c, seq))
            .await
            .flatten()
            .is_some()
        {
            return;
        }
        let mut nonce = [0u8; 8];
        if getrandom::fill(&mut nonce).is_err() {
            return;
        }
        let result = async {
            let resp = self
                .client
                .post(url.clone())
                .header("content-type", "application/timestamp-query")
                .body(tsa::request(cp.note.as_bytes(), &nonce))
                .send()
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            if !resp.status().is_success() {
                return Err(format!("HTTP {}", resp.status()));
            }
            let body = super::webhooks::read_capped(resp, MAX_TSA_REPLY).await?;
            let stamped = tsa::check_reply(&body, cp.note.as_bytes(), Some(&nonce))
                .map_err(|e| e.to_string())?;
            Ok((body.to_vec(), stamped))
        }
        .await;
        match result {
            Ok((der, stamped)) => {
                let time = stamped.time.clone();
                match writer
                    .record_timestamp(seq, url.to_string(), der, stamped)
                    .await
                {
                    Ok(ts_seq) => info!(
                        seq = ts_seq,
                        checkpoint = seq,
                        tsa = %url,
                        time = time.as_deref().unwrap_or("?"),
                        "checkpoint timestamped"
                    ),
                    Err(e) => error!(error = %e, "cannot record the timestamp"),
                }
            }
            Err(e) => warn!(
                tsa = %url,
                checkpoint = seq,
                error = %e,
                "timestamp failed; the checkpoint is timestamped after the next cycle"
            ),
        }
    }

    /// Sends the checkpoint to a witness (tlog-witness add-checkpoint):
    /// `old SIZE`, the consistency proof from it, a blank line, the note.
    /// A 409 answer names the size the witness has: sent once more from it.
    /// Returns the cosignature lines and whether they verified against the
    /// configured key.
    async fn witness(
        &self,
        w: &Witness,
        mut old: u64,
        cp: &StoredCheckpoint,
    ) -> Result<(Vec<String>, bool), String> {
        let size = cp.body.size;
        for _ in 0..2 {
            let proof = if old == 0 || old >= size {
                vec![]
            } else {
                self.read(move |c| checkpoints::consistency(c, old, size))
                    .await
                    .ok_or("cannot read the consistency proof")?
            };
            let mut body = format!("old {old}\n");
            for h in &proof {
                body.push_str(&B64.encode(h));
                body.push('\n');
            }
            body.push('\n');
            body.push_str(&cp.note);
            let resp = self
                .client
                .post(w.url.clone())
                .body(body)
                .send()
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            let status = resp.status();
            let text = super::webhooks::read_capped(resp, MAX_WITNESS_REPLY).await?;
            let text = String::from_utf8_lossy(&text).into_owned();
            // What is shown of it in an error (and so in a log line).
            let shown = |n: usize| super::webhooks::printable(text.trim(), n);
            if status == reqwest::StatusCode::CONFLICT {
                old = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("409 without a tree size: {}", shown(80)))?;
                if old > size {
                    return Err(format!(
                        "the witness has cosigned size {old}, larger than this log's {size}: it has seen another history"
                    ));
                }
                continue;
            }
            if !status.is_success() {
                return Err(format!("HTTP {status}: {}", shown(200)));
            }
            let lines: Vec<String> = text
                .lines()
                .filter(|l| SigLine::parse(l).is_ok())
                .map(str::to_string)
                .collect();
            if lines.is_empty() {
                return Err("the answer holds no cosignature line".into());
            }
            let verified = match &w.key {
                None => false,
                Some(k) => {
                    let cosigned = format!("{}{}\n", cp.note, lines.join("\n"));
                    let note = Note::parse(&cosigned).map_err(|e| e.to_string())?;
                    note.verify(k).map_err(|e| format!("cosignature: {e}"))?;
                    true
                }
            };
            return Ok((lines, verified));
        }
        Err("the witness answered 409 twice".into())
    }
}

/// Writes `checkpoint` (the latest signed note with its cosignatures) and
/// `vkey` into `dir`, each replaced atomically.
fn publish(dir: &Path, note: &str, vkey: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in [
        ("checkpoint", note.to_string()),
        ("vkey", format!("{vkey}\n")),
    ] {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(name))?;
    }
    Ok(())
}

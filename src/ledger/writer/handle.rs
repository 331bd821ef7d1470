//! The handle other tasks use to reach the writer thread.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::{Applied, FetchReport, Pending, Writer};
use crate::config::Webhook;
use crate::ledger::checkpoints::{Made, Stamped};
use crate::ledger::{LedgerError, Result};
use crate::note::Signer;

/// Requests the writer task serves.
enum Request {
    Fetch(Box<FetchReport>, oneshot::Sender<Result<Applied>>),
    Source(String, Value, oneshot::Sender<Result<Option<i64>>>),
    CycleStarted(String, DateTime<Utc>, oneshot::Sender<Result<()>>),
    SetWebhooks(Vec<Webhook>, oneshot::Sender<Result<()>>),
    Watch(
        String,
        Vec<(String, String, Option<String>)>,
        usize,
        oneshot::Sender<Result<usize>>,
    ),
    Due(DateTime<Utc>, usize, oneshot::Sender<Result<Vec<Pending>>>),
    Attempted(i64, Option<String>, oneshot::Sender<Result<()>>),
    Retire(Vec<String>, oneshot::Sender<Result<()>>),
    Retain(
        String,
        std::time::Duration,
        oneshot::Sender<Result<Option<crate::ledger::prune::Pruned>>>,
    ),
    Checkpoint(
        std::sync::Arc<Signer>,
        (String, Option<String>),
        oneshot::Sender<Result<Option<Made>>>,
    ),
    Timestamp {
        checkpoint_seq: i64,
        tsa: String,
        reply_der: Vec<u8>,
        stamped: Stamped,
        reply: oneshot::Sender<Result<i64>>,
    },
    Cosigned {
        checkpoint_seq: i64,
        witness: String,
        lines: Vec<String>,
        verified: bool,
        reply: oneshot::Sender<Result<i64>>,
    },
    CycleFinished {
        name: String,
        at: DateTime<Utc>,
        next_run: Option<DateTime<Utc>>,
        counts: Value,
        last_error: Option<String>,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// Most fetches one commit records (the channel holds 64 requests).
const GROUP_MAX: usize = 64;

/// A handle to the writer thread. Dropping every handle stops the writer
/// after it has applied what it already received.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Request>,
}

/// Error returned when the writer thread has stopped.
fn writer_gone() -> LedgerError {
    LedgerError::Sqlite {
        path: PathBuf::from("(writer)"),
        source: rusqlite::Error::InvalidQuery,
    }
}

impl WriterHandle {
    /// Opens the ledger (a replica of the PostgreSQL ledger at `shared`,
    /// when given) and starts the writer on its own thread (SQLite and the
    /// PostgreSQL client block; they must not run on the async reactor).
    pub fn spawn(
        path: &Path,
        shared: Option<crate::ledger::storage::replica::Upstream>,
    ) -> Result<(WriterHandle, std::thread::JoinHandle<()>)> {
        // Opened on the writer's thread: the PostgreSQL client runs a
        // runtime of its own, which cannot start inside the caller's.
        let (opened_tx, opened) = std::sync::mpsc::sync_channel::<Result<()>>(1);
        let path = path.to_path_buf();
        // Bounded: a slow disk slows fetching instead of growing memory.
        let (tx, mut rx) = mpsc::channel::<Request>(64);
        let join = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || {
                let opened = match shared {
                    Some(upstream) => Writer::open_shared(&path, upstream),
                    None => Writer::open(&path),
                };
                let mut writer = match opened {
                    Ok(w) => {
                        let _ = opened_tx.send(Ok(()));
                        w
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                // A request taken from the channel while a group was being
                // gathered, served right after that group.
                let mut held: Option<Request> = None;
                while let Some(req) = held.take().or_else(|| rx.blocking_recv()) {
                    match req {
                        Request::Fetch(report, reply) => {
                            // Group commit: every fetch already queued (up to
                            // GROUP_MAX) shares this fetch's commit.
                            let mut group = vec![(report, reply)];
                            while group.len() < GROUP_MAX {
                                match rx.try_recv() {
                                    Ok(Request::Fetch(r, reply)) => group.push((r, reply)),
                                    Ok(other) => {
                                        held = Some(other);
                                        break;
                                    }
                                    Err(_) => break,
                                }
                            }
                            let reports: Vec<&FetchReport> =
                                group.iter().map(|(r, _)| r.as_ref()).collect();
                            let results = writer.apply_group(&reports);
                            for ((_, reply), result) in group.into_iter().zip(results) {
                                let _ = reply.send(result);
                            }
                        }
                        Request::Source(name, cfg, reply) => {
                            let _ = reply.send(writer.record_source(&name, &cfg, Utc::now()));
                        }
                        Request::SetWebhooks(w, reply) => {
                            writer.set_webhooks(w);
                            let _ = reply.send(Ok(()));
                        }
                        Request::Watch(source, found, limit, reply) => {
                            let _ =
                                reply.send(writer.add_watch(&source, &found, limit, Utc::now()));
                        }
                        Request::Due(now, limit, reply) => {
                            let _ = reply.send(writer.due_notifications(now, limit));
                        }
                        Request::Retain(source, max_age, reply) => {
                            let _ = reply.send(writer.retain(&source, max_age, Utc::now()));
                        }
                        Request::Retire(urls, reply) => {
                            let _ = reply.send(writer.retire_watched(&urls, Utc::now()));
                        }
                        Request::Attempted(id, error, reply) => {
                            let _ = reply.send(writer.notification_attempted(
                                id,
                                error.as_deref(),
                                Utc::now(),
                            ));
                        }
                        Request::Checkpoint(signer, (origin, replaces), reply) => {
                            let _ = reply.send(writer.checkpoint(
                                &signer,
                                &origin,
                                replaces.as_deref(),
                                Utc::now(),
                            ));
                        }
                        Request::Timestamp {
                            checkpoint_seq,
                            tsa,
                            reply_der,
                            stamped,
                            reply,
                        } => {
                            let _ = reply.send(writer.record_timestamp(
                                checkpoint_seq,
                                &tsa,
                                &reply_der,
                                &stamped,
                                Utc::now(),
                            ));
                        }
                        Request::Cosigned {
                            checkpoint_seq,
                            witness,
                            lines,
                            verified,
                            reply,
                        } => {
                            let _ = reply.send(writer.record_cosignatures(
                                checkpoint_seq,
                                &witness,
                                &lines,
                                verified,
                                Utc::now(),
                            ));
                        }
                        Request::CycleStarted(name, at, reply) => {
                            let _ = reply.send(writer.cycle_started(&name, at));
                        }
                        Request::CycleFinished {
                            name,
                            at,
                            next_run,
                            counts,
                            last_error,
                            reply,
                        } => {
                            let _ = reply.send(writer.cycle_finished(
                                &name,
                                at,
                                next_run,
                                &counts,
                                last_error.as_deref(),
                            ));
                        }
                    }
                }
            })
            .map_err(|e| LedgerError::Directory {
                path: PathBuf::from("(writer thread)"),
                source: e,
            })?;
        opened.recv().map_err(|_| writer_gone())??;
        Ok((WriterHandle { tx }, join))
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Request) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }

    pub async fn record(&self, report: FetchReport) -> Result<Applied> {
        self.call(|reply| Request::Fetch(Box::new(report), reply))
            .await
    }

    pub async fn record_source(&self, name: &str, config: Value) -> Result<Option<i64>> {
        let name = name.to_string();
        self.call(|reply| Request::Source(name, config, reply))
            .await
    }

    pub async fn set_webhooks(&self, webhooks: Vec<Webhook>) -> Result<()> {
        self.call(|reply| Request::SetWebhooks(webhooks, reply))
            .await
    }

    /// Adds discovered links to the watch list, at most `limit` new ones.
    pub async fn add_watch(
        &self,
        source: &str,
        found: Vec<(String, String, Option<String>)>,
        limit: usize,
    ) -> Result<usize> {
        let source = source.to_string();
        self.call(|reply| Request::Watch(source, found, limit, reply))
            .await
    }

    pub async fn due_notifications(&self, limit: usize) -> Result<Vec<Pending>> {
        self.call(|reply| Request::Due(Utc::now(), limit, reply))
            .await
    }

    /// Applies a source's retention rule, if due.
    pub async fn retain(
        &self,
        source: &str,
        max_age: std::time::Duration,
    ) -> Result<Option<crate::ledger::prune::Pruned>> {
        let source = source.to_string();
        self.call(|reply| Request::Retain(source, max_age, reply))
            .await
    }

    /// Marks watch-list articles as past their revisit ladder.
    pub async fn retire_watched(&self, urls: Vec<String>) -> Result<()> {
        self.call(|reply| Request::Retire(urls, reply)).await
    }

    pub async fn notification_attempted(&self, id: i64, error: Option<String>) -> Result<()> {
        self.call(|reply| Request::Attempted(id, error, reply))
            .await
    }

    /// Appends a signed checkpoint if entries were appended since the last.
    pub async fn checkpoint(
        &self,
        signer: std::sync::Arc<Signer>,
        origin: &str,
        replaces: Option<&str>,
    ) -> Result<Option<Made>> {
        let origin = (origin.to_string(), replaces.map(str::to_string));
        self.call(|reply| Request::Checkpoint(signer, origin, reply))
            .await
    }

    pub async fn record_timestamp(
        &self,
        checkpoint_seq: i64,
        tsa: String,
        reply_der: Vec<u8>,
        stamped: Stamped,
    ) -> Result<i64> {
        self.call(|reply| Request::Timestamp {
            checkpoint_seq,
            tsa,
            reply_der,
            stamped,
            reply,
        })
        .await
    }

    pub async fn record_cosignatures(
        &self,
        checkpoint_seq: i64,
        witness: String,
        lines: Vec<String>,
        verified: bool,
    ) -> Result<i64> {
        self.call(|reply| Request::Cosigned {
            checkpoint_seq,
            witness,
            lines,
            verified,
            reply,
        })
        .await
    }

    pub async fn cycle_started(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let name = name.to_string();
        self.call(|reply| Request::CycleStarted(name, at, reply))
            .await
    }

    pub async fn cycle_finished(
        &self,
        name: &str,
        at: DateTime<Utc>,
        next_run: Option<DateTime<Utc>>,
        counts: Value,
        last_error: Option<String>,
    ) -> Result<()> {
        let name = name.to_string();
        self.call(|reply| Request::CycleFinished {
            name,
            at,
            next_run,
            counts,
            last_error,
            reply,
        })
        .await
    }
}

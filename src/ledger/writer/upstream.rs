//! The writer's transactions, and the PostgreSQL ledger a replica's writer
//! records into ([`crate::ledger::storage::replica`]).
//!
//! Every transaction the writer opens is a [`WriteTx`], and its `commit` is
//! the one way to commit: when the ledger is a replica, the entries the
//! transaction appended (and the blobs they name) go through PostgreSQL's
//! sequencer first, and the replica commits only after PostgreSQL has them.
//! A transaction that appends nothing commits locally only (the watch list,
//! cycle state and outbox are each process's own).

use std::path::Path;
use std::time::Instant;

use rusqlite::{Transaction, TransactionBehavior};

use super::Writer;
use crate::ledger::storage::StorageError;
use crate::ledger::storage::replica::{self, Reconciled, Upstream};
use crate::ledger::{LedgerError, Result};

/// The last entry a transaction sent to PostgreSQL: its seq and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pushed {
    seq: i64,
    hash: Vec<u8>,
}

/// One write transaction of the writer.
pub(super) struct WriteTx<'w> {
    tx: Transaction<'w>,
    path: &'w Path,
    upstream: &'w mut Option<Upstream>,
    behind: &'w mut bool,
    /// The head's seq when the transaction began.
    before: i64,
}

impl<'w> std::ops::Deref for WriteTx<'w> {
    type Target = Transaction<'w>;
    fn deref(&self) -> &Transaction<'w> {
        &self.tx
    }
}

/// How a commit ended.
pub(super) enum Committed {
    /// Recorded (in PostgreSQL first, when there is one, then the replica).
    Done,
    /// PostgreSQL refused or could not be reached. Nothing is recorded,
    /// unless the connection was lost after PostgreSQL committed: `Pushed`
    /// names the last entry sent, which the writer looks for in
    /// PostgreSQL's log before it applies anything again ([`Writer::landed`]).
    Upstream(StorageError, Option<Pushed>),
    /// The replica's own commit failed (before any push, or with nothing to
    /// push): nothing is recorded.
    Local(rusqlite::Error),
}

impl WriteTx<'_> {
    /// The PostgreSQL ledger this transaction goes to, if any.
    pub(super) fn upstream(&mut self) -> Option<&mut Upstream> {
        self.upstream.as_mut()
    }

    pub(super) fn commit_as(self) -> Committed {
        let WriteTx {
            tx,
            path,
            upstream,
            behind,
            before,
        } = self;
        let Some(up) = upstream.as_mut() else {
            return local_commit(tx);
        };
        let sent = match crate::ledger::head(&tx) {
            Ok(Some((seq, hash))) if seq > before => Pushed { seq, hash },
            Ok(_) => return local_commit(tx),
            Err(e) => return Committed::Local(e),
        };
        let at = path.display().to_string();
        if let Err(e) = replica::push(&tx, &at, up, before, sent.seq) {
            return Committed::Upstream(e, Some(sent));
        }
        // PostgreSQL holds them: they are recorded. A replica that then
        // fails to commit pulls them back before its next write
        // ([`Writer::catch_up`]).
        if let Err(e) = tx.commit() {
            tracing::warn!(ledger = %at, error = %e, "recorded in PostgreSQL, but the replica's commit failed; it pulls the entries before the next write");
            *behind = true;
        }
        Committed::Done
    }

    /// Commits; an error says why nothing was recorded.
    pub(super) fn commit(self) -> Result<()> {
        let path = self.path.to_path_buf();
        match self.commit_as() {
            Committed::Done => Ok(()),
            Committed::Upstream(e, _) => Err(shared(&path, e)),
            Committed::Local(e) => Err(LedgerError::sqlite(&path)(e)),
        }
    }
}

/// The replica's own commit, of a transaction that sends nothing.
fn local_commit(tx: Transaction<'_>) -> Committed {
    match tx.commit() {
        Ok(()) => Committed::Done,
        Err(e) => Committed::Local(e),
    }
}

/// Where a write stands after PostgreSQL failed it, or before it is tried.
pub(super) enum Next<T> {
    /// What an earlier attempt returned: its entries are in PostgreSQL's
    /// log after all (the connection was lost after its commit).
    Landed(T),
    /// Try again (apply from the start).
    Again,
    /// Stop: nothing of it is recorded.
    GiveUp(StorageError),
}

/// A push whose outcome is unknown, with what its attempt returned.
pub(super) type Unsure<T> = Option<(Pushed, T)>;

/// A PostgreSQL error, said of the ledger it was recording for.
pub(super) fn shared(path: &Path, e: StorageError) -> LedgerError {
    LedgerError::Shared {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

impl Writer {
    /// Opens a replica of the PostgreSQL ledger at `url` (made if the
    /// database is empty): the replica first takes what PostgreSQL holds
    /// (a new replica starts from the shared genesis), then a new ledger's
    /// genesis, or entries the shared log lost, go up.
    pub fn open_replica(path: &Path, url: &str) -> Result<Writer> {
        Writer::open_shared(path, Upstream::new(url, true))
    }

    /// [`Writer::open_replica`], the writer of a worker whose leases its
    /// appends end ([`Upstream::holding_leases`]).
    pub fn open_shared(path: &Path, upstream: Upstream) -> Result<Writer> {
        let lock = crate::ledger::lock_writer(path)?;
        let conn = crate::ledger::open_schema(path)?;
        let mut writer = Writer {
            conn,
            path: path.to_path_buf(),
            _lock: lock,
            webhooks: Vec::new(),
            upstream: Some(upstream),
            behind: false,
        };
        // Entries the shared log lacks (it was restored from an older
        // backup) go back up; PostgreSQL's are pulled.
        writer.catch_up().map_err(|e| shared(path, e))?;
        // A new ledger's genesis, through the sequencer like any entry: of
        // two processes starting on an empty database, one genesis wins and
        // the other process takes it.
        writer.in_tx(|tx| crate::ledger::open::genesis_in(tx).map(|_| ()))?;
        Ok(writer)
    }

    /// Begins a write transaction.
    pub(super) fn begin(&mut self) -> Result<WriteTx<'_>> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(LedgerError::sqlite(path))?;
        let before = crate::ledger::head(&tx)
            .map_err(LedgerError::sqlite(path))?
            .map_or(0, |h| h.0);
        Ok(WriteTx {
            tx,
            path,
            upstream: &mut self.upstream,
            behind: &mut self.behind,
            before,
        })
    }

    /// Brings the replica and PostgreSQL to the same head (nothing to do
    /// for a ledger that is not a replica).
    pub(super) fn catch_up(&mut self) -> std::result::Result<Reconciled, StorageError> {
        let Some(up) = self.upstream.as_mut() else {
            return Ok(Reconciled::default());
        };
        let at = self.path.display().to_string();
        let sqlite = crate::ledger::storage::sqlite::sqlite(&at);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let done = replica::reconcile(&tx, &at, up, true)?;
        tx.commit().map_err(sqlite)?;
        self.behind = false;
        if done.pulled > 0 || done.pushed > 0 {
            tracing::info!(
                ledger = %at,
                shared = %up.describe(),
                pulled = done.pulled,
                pushed = done.pushed,
                head = done.head,
                "replica and PostgreSQL brought to the same head"
            );
        }
        Ok(done)
    }

    /// After PostgreSQL failed a write: whether to try again. A lost
    /// connection is made again after a pause (for up to
    /// [`replica::RETRY_FOR`] from `since`); an append refused because
    /// another process appended first is pulled before the next try.
    pub(super) fn again(&mut self, e: &StorageError, tries: &mut u32, since: Instant) -> bool {
        let Some(up) = self.upstream.as_mut() else {
            return false;
        };
        if replica::is_transient(e) {
            up.reset();
            tracing::warn!(shared = %up.describe(), error = %e, "PostgreSQL did not take the append; trying again");
            if !replica::back_off(*tries, since) {
                return false;
            }
        } else if matches!(e, StorageError::Chain { .. }) && since.elapsed() < replica::RETRY_FOR {
            // Another process appended first: take its entries and apply
            // these again on top of them, after a pause that grows while
            // the refusals go on (5 ms to 0.64 s).
            tracing::debug!(shared = %up.describe(), "another process appended first; pulling its entries");
            std::thread::sleep(std::time::Duration::from_millis(5 << (*tries).min(7)));
        } else {
            return false;
        }
        *tries += 1;
        if let Err(e) = self.catch_up() {
            tracing::warn!(error = %e, "the replica could not be brought up to PostgreSQL's head");
            if let Some(up) = self.upstream.as_mut() {
                up.reset();
            }
            self.behind = true;
        }
        true
    }

    /// Before an attempt: a replica behind PostgreSQL, or a push whose
    /// outcome is unknown, is brought up to PostgreSQL's head first, where
    /// that push is looked for. `None`: go on with the attempt.
    pub(super) fn before_attempt<T>(
        &mut self,
        unsure: &mut Unsure<T>,
        tries: &mut u32,
        since: Instant,
    ) -> Option<Next<T>> {
        if !self.behind && unsure.is_none() {
            return None;
        }
        if let Err(e) = self.catch_up() {
            return Some(match self.again(&e, tries, since) {
                true => Next::Again,
                false => Next::GiveUp(e),
            });
        }
        match unsure.take() {
            Some((p, out)) if self.landed(&p) => Some(Next::Landed(out)),
            _ => None,
        }
    }

    /// After PostgreSQL failed a push (`sent`: the last entry it sent,
    /// with what the attempt returned): landed after all, try again, or
    /// stop. An outcome still unknown is kept in `unsure`, looked for
    /// before the next attempt.
    pub(super) fn after_failed_push<T>(
        &mut self,
        e: StorageError,
        sent: Unsure<T>,
        unsure: &mut Unsure<T>,
        tries: &mut u32,
        since: Instant,
    ) -> Next<T> {
        let retry = self.again(&e, tries, since);
        if let Some((p, out)) = sent {
            if self.landed(&p) {
                return Next::Landed(out);
            }
            *unsure = Some((p, out));
        }
        match retry {
            true => Next::Again,
            false => Next::GiveUp(e),
        }
    }

    /// Whether entries a failed push sent are in PostgreSQL's log after all
    /// (the connection was lost after its commit): the replica, brought up
    /// to PostgreSQL's head, holds the same entry at the same seq.
    pub(super) fn landed(&mut self, p: &Pushed) -> bool {
        let found: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT entry_hash FROM ledger WHERE seq = ?1",
                [p.seq],
                |r| r.get(0),
            )
            .ok();
        found.as_deref() == Some(p.hash.as_slice())
    }
}

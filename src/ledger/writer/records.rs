//! What the writer records beside fetches: the sources' configurations
//! and cycles, the watch list discovery fills, and the proof entries
//! (checkpoints, timestamps, cosignatures) made in the writer's
//! transaction.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

use super::{Outcome, Writer};
use crate::ledger::{Kind, LedgerError, Result, append, blobs, timestamp};

impl Writer {
    /// Adds discovered article URLs to a source's watch list, in order, until
    /// `limit` new ones were added; returns how many were new. The rest wait
    /// for a later cycle (their document lists them again).
    pub fn add_watch(
        &mut self,
        source: &str,
        found: &[(String, String, Option<String>)],
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let path = self.path.clone();
        let tx = self.begin()?;
        let mut added = 0;
        for (url, via, published) in found {
            if added >= limit {
                break;
            }
            added += tx
                .execute(
                    "INSERT OR IGNORE INTO watchlist (url, source, discovered_at, via, published) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![url, source, timestamp(now), via, published],
                )
                .map_err(LedgerError::sqlite(&path))?;
        }
        tx.commit()?;
        Ok(added)
    }

    /// Retires watch-list articles the revisit ladder will never fetch again
    /// (the rows stay, so rediscovery does not add them as new).
    pub fn retire_watched(&mut self, urls: &[String], now: DateTime<Utc>) -> Result<()> {
        let path = self.path.clone();
        let tx = self.begin()?;
        for url in urls {
            tx.execute(
                "UPDATE watchlist SET retired_at = ?2 WHERE url = ?1 AND retired_at IS NULL",
                params![url, timestamp(now)],
            )
            .map_err(LedgerError::sqlite(&path))?;
        }
        tx.commit()
    }

    /// Appends a signed checkpoint if entries were appended since the last.
    pub fn checkpoint(
        &mut self,
        signer: &crate::note::Signer,
        origin: &str,
        replaces: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::ledger::checkpoints::Made>> {
        use crate::ledger::checkpoints::{CheckpointError, make_checkpoint};
        let path = self.path.clone();
        self.recording(
            |tx| match make_checkpoint(tx, signer, origin, replaces, now) {
                Ok(m) => Ok(m),
                Err(CheckpointError::Sqlite(e)) => Err(LedgerError::sqlite(&path)(e)),
                Err(e @ CheckpointError::OriginChanged { .. }) => Err(LedgerError::Declined {
                    path: path.clone(),
                    reason: e.to_string(),
                }),
                Err(e) => Err(LedgerError::Refused {
                    path: path.clone(),
                    reason: e.to_string(),
                }),
            },
        )
    }

    /// Records a checked RFC 3161 reply for a checkpoint.
    pub fn record_timestamp(
        &mut self,
        checkpoint_seq: i64,
        tsa: &str,
        reply: &[u8],
        stamped: &crate::ledger::checkpoints::Stamped,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.in_tx(|tx| {
            crate::ledger::checkpoints::record_timestamp(
                tx,
                checkpoint_seq,
                tsa,
                reply,
                stamped,
                now,
            )
        })
    }

    /// Records a witness's cosignature lines for a checkpoint.
    pub fn record_cosignatures(
        &mut self,
        checkpoint_seq: i64,
        witness: &str,
        lines: &[String],
        verified: bool,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.in_tx(|tx| {
            crate::ledger::checkpoints::record_cosignatures(
                tx,
                checkpoint_seq,
                witness,
                lines,
                verified,
                now,
            )
        })
    }

    /// Records a source's configuration if it is new or changed. Returns the
    /// seq of the `source` entry written, if one was.
    pub fn record_source(
        &mut self,
        name: &str,
        config: &Value,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let canonical = crate::ledger::entry::canonical_json(config);
        let hash = blobs::hash_hex(canonical.as_bytes());
        let path = self.path.clone();
        let sqlite = LedgerError::sqlite;
        let recorded = self.recording(|tx| {
            let known: Option<Option<String>> = tx
                .query_row(
                    "SELECT config_hash FROM source_state WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sqlite(&path))?;
            if known.flatten().as_deref() == Some(hash.as_str()) {
                return Ok(None);
            }
            let payload = json!({ "name": name, "config": config, "config_hash": hash });
            let seq = append(tx, Kind::Source, None, &payload, now).map_err(sqlite(&path))?;
            Ok(Some(seq))
        })?;
        // Noted once the entry is recorded, outside its transaction: an
        // entry recorded by a push whose answer was lost is noted too.
        if recorded.is_some() {
            self.conn
                .execute(
                    "INSERT INTO source_state (name, config_hash) VALUES (?1, ?2)
                     ON CONFLICT(name) DO UPDATE SET config_hash = excluded.config_hash",
                    params![name, hash],
                )
                .map_err(sqlite(&path))?;
        }
        Ok(recorded)
    }

    /// Records that a source's cycle started (its cycle state).
    pub fn cycle_started(&mut self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let path = self.path.clone();
        self.conn
            .execute(
                "INSERT INTO source_state (name, cycle_started_at) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET cycle_started_at = excluded.cycle_started_at",
                params![name, timestamp(at)],
            )
            .map_err(LedgerError::sqlite(&path))?;
        Ok(())
    }

    /// Notes that a source's cycle finished, with its counts and next run
    /// (and `failing_cycles`, [`with_failing_streak`]).
    pub fn cycle_finished(
        &mut self,
        name: &str,
        at: DateTime<Utc>,
        next_run: Option<DateTime<Utc>>,
        counts: &Value,
        last_error: Option<&str>,
    ) -> Result<()> {
        let path = self.path.clone();
        let counts = with_failing_streak(&self.conn, name, counts);
        self.conn
            .execute(
                "INSERT INTO source_state (name, last_cycle_at, next_run_at, counts_json, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(name) DO UPDATE SET last_cycle_at = excluded.last_cycle_at,
                   next_run_at = excluded.next_run_at, counts_json = excluded.counts_json,
                   last_error = excluded.last_error",
                params![name, timestamp(at), next_run.map(timestamp), counts.to_string(), last_error],
            )
            .map_err(LedgerError::sqlite(&path))?;
        Ok(())
    }
}

/// The cycle's counts with `failing_cycles`: how many cycles in a row,
/// this one included, failed every fetch they made (0 when this one did
/// not, or made none). `health` reports a source whose streak reaches its
/// threshold.
fn with_failing_streak(conn: &rusqlite::Connection, name: &str, counts: &Value) -> Value {
    let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let fetches: u64 = Outcome::ALL
        .iter()
        .map(|o| n(counts, o.as_str()))
        .sum::<u64>()
        + n(counts, "discovery");
    let failed = n(counts, "failed");
    let streak = if fetches > 0 && failed == fetches {
        let before: Option<String> = conn
            .query_row(
                "SELECT counts_json FROM source_state WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .ok()
            .flatten();
        let before = before
            .and_then(|c| serde_json::from_str::<Value>(&c).ok())
            .map_or(0, |v| n(&v, "failing_cycles"));
        before + 1
    } else {
        0
    };
    let mut counts = counts.clone();
    if let Some(m) = counts.as_object_mut() {
        m.insert("failing_cycles".into(), streak.into());
    }
    counts
}

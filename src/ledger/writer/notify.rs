//! Webhook notifications: queued with a flagged change, in the change's
//! own transaction (a notification exists exactly when its change does),
//! then handed out when due and retried with backoff until delivered or
//! given up.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::json;

use super::{Flag, Writer};
use crate::config::Webhook;
use crate::ledger::timestamp;
use crate::ledger::{LedgerError, Result};

/// Queues the notification of a flagged change for every webhook that
/// wants its kind, in the change's own transaction.
pub(super) fn enqueue(
    tx: &Transaction<'_>,
    webhooks: &[Webhook],
    source: &str,
    flag: &Flag,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let wanted: Vec<&Webhook> = webhooks
        .iter()
        .filter(|w| w.events.iter().any(|e| e == flag.kind.as_str()))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let entry_hash: Vec<u8> = tx.query_row(
        "SELECT entry_hash FROM ledger WHERE seq = ?1",
        [flag.seq],
        |r| r.get(0),
    )?;
    // The title of the article's latest revision, from its chained entry.
    let title: Option<String> = tx
        .query_row(
            "SELECT json_extract(payload, '$.title') FROM ledger
             WHERE url = ?1 AND kind = 'revision' ORDER BY seq DESC LIMIT 1",
            [&flag.url],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let body = json!({
        "event": flag.kind.as_str(),
        "source": source,
        "url": flag.url,
        "title": title,
        "from_revision": flag.from_revision,
        "to_revision": flag.to_revision,
        "fields": flag.fields,
        "words_added": flag.words_added,
        "words_removed": flag.words_removed,
        "declared": flag.declared,
        "diff": flag.excerpt,
        "title_from": flag.title_from,
        "title_to": flag.title_to,
        "metadata": flag.metadata.iter().map(|(field, before, after)| json!({"field": field, "before": before, "after": after})).collect::<Vec<_>>(),
        "significance": flag.significance.as_ref().map(|s| s.level.as_str()),
        "significance_reasons": flag.significance.as_ref().map(|s| &s.reasons),
        "seq": flag.seq,
        "entry_hash": hex::encode(entry_hash),
        "detected_at": timestamp(now),
    })
    .to_string();
    for w in wanted {
        tx.execute(
            "INSERT INTO notifications (webhook, seq, body, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![w.url.as_str(), flag.seq, body, timestamp(now)],
        )?;
    }
    Ok(())
}

/// A queued webhook notification that is due.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub webhook: String,
    pub body: String,
    pub attempts: i64,
}

/// After this many failed attempts a notification is given up (with its
/// last error kept): about four days of backoff.
pub const MAX_ATTEMPTS: i64 = 30;

/// Delay before attempt `attempts + 1`: 5 s doubling to at most an hour,
/// spread by ±20% (by id) so that a recovering receiver is not hit at once.
pub fn backoff(attempts: i64, id: i64) -> chrono::Duration {
    let base = 5i64.saturating_mul(1i64 << attempts.clamp(0, 20)).min(3600);
    let spread = (id.wrapping_mul(2_654_435_761) % 41 - 20) as f64 / 100.0;
    chrono::Duration::milliseconds((base as f64 * 1000.0 * (1.0 + spread)) as i64)
}

impl Writer {
    /// Notifications due at `now`, oldest first.
    pub fn due_notifications(&mut self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Pending>> {
        let path = self.path.clone();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, webhook, body, attempts FROM notifications
                 WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= ?1
                 ORDER BY id LIMIT ?2",
            )
            .map_err(LedgerError::sqlite(&path))?;
        let rows = stmt
            .query_map(params![timestamp(now), limit as i64], |r| {
                Ok(Pending {
                    id: r.get(0)?,
                    webhook: r.get(1)?,
                    body: r.get(2)?,
                    attempts: r.get(3)?,
                })
            })
            .map_err(LedgerError::sqlite(&path))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(LedgerError::sqlite(&path))?;
        drop(stmt);
        // The outbox is operational state: a body is sent only if the event
        // it reports is what the chain records (the same fold as
        // `changes`). One that is not is given up, never sent.
        let mut out = Vec::with_capacity(rows.len());
        for n in rows {
            let configured = self.webhooks.iter().any(|w| w.url.as_str() == n.webhook);
            let checked = if configured {
                crate::ledger::read::check_notification(&self.conn, &n.body)
            } else {
                Err(format!("{} is not a configured webhook", n.webhook))
            };
            match checked {
                Ok(()) => out.push(n),
                Err(why) => {
                    tracing::error!(webhook = %n.webhook, id = n.id, "webhook notification not sent: {why}");
                    self.conn
                        .execute(
                            "UPDATE notifications SET gave_up_at = ?2, last_error = ?3 WHERE id = ?1",
                            params![n.id, timestamp(now), format!("not sent: {why}")],
                        )
                        .map_err(LedgerError::sqlite(&path))?;
                }
            }
        }
        Ok(out)
    }

    /// Records one delivery attempt.
    pub fn notification_attempted(
        &mut self,
        id: i64,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let path = self.path.clone();
        let attempts = self
            .conn
            .query_row(
                "SELECT attempts FROM notifications WHERE id = ?1",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .map_err(LedgerError::sqlite(&path))?
            + 1;
        let at = timestamp(now);
        let result = match error {
            None => self.conn.execute(
                "UPDATE notifications SET attempts = ?2, delivered_at = ?3, last_error = NULL WHERE id = ?1",
                params![id, attempts, at],
            ),
            Some(e) if attempts >= MAX_ATTEMPTS => self.conn.execute(
                "UPDATE notifications SET attempts = ?2, gave_up_at = ?3, last_error = ?4 WHERE id = ?1",
                params![id, attempts, at, e],
            ),
            Some(e) => self.conn.execute(
                "UPDATE notifications SET attempts = ?2, next_attempt_at = ?3, last_error = ?4 WHERE id = ?1",
                params![id, attempts, timestamp(now + backoff(attempts - 1, id)), e],
            ),
        };
        result.map_err(LedgerError::sqlite(&path))?;
        Ok(())
    }
}

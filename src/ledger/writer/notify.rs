//! Queuing the webhook notifications of a flagged change, in the change's
//! own transaction: a notification exists exactly when its change does.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::json;

use super::Flag;
use crate::config::Webhook;
use crate::ledger::timestamp;

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

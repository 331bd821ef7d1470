//! Retention: a source's raw captures older than its `raw_max_age` are
//! removed, each one named first in a chained `pruned` entry, so that
//! `verify` knows it is gone on purpose (any other missing blob is still an
//! error) and the removal itself is part of the record.
//!
//! Only raw captures go, never texts (the article's words stay provable by
//! their content hash and text blob). A capture is kept while something
//! still needs it: it is the capture of an article's current revision, an
//! entry recorded after the cutoff names it (the same bytes served again),
//! or a stored delta has it as its base.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::json;

use super::{Kind, append, timestamp};

/// Most captures one run removes (the `pruned` entry lists them all).
pub const MAX_PER_RUN: usize = 5_000;

/// What one run removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// The `pruned` entry, if anything was removed.
    pub seq: Option<i64>,
    pub blobs: usize,
    /// Stored (compressed) bytes freed.
    pub bytes: u64,
    /// Old captures kept because a newer stored delta is built on them.
    pub kept_as_base: usize,
}

/// Removes `source`'s raw captures of fetches recorded before `now - max_age`.
pub fn prune_raw(
    tx: &Transaction<'_>,
    source: &str,
    max_age: std::time::Duration,
    now: DateTime<Utc>,
) -> rusqlite::Result<Pruned> {
    let age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    let cutoff = timestamp(
        now.checked_sub_signed(age)
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
    );
    let mut candidates: BTreeSet<String> = BTreeSet::new();
    {
        let mut stmt = tx.prepare(
            "SELECT DISTINCT raw FROM (
               SELECT CASE WHEN typeof(payload) = 'text' AND json_extract(payload, '$.source') = ?2
                           THEN json_extract(payload, '$.raw_blob') END AS raw
               FROM ledger WHERE kind = 'fetch' AND recorded_at < ?1)
             WHERE raw IS NOT NULL",
        )?;
        let mut present = tx.prepare("SELECT COUNT(*) > 0 FROM blobs WHERE hash = ?1")?;
        for h in stmt.query_map(params![cutoff, source], |r| r.get::<_, String>(0))? {
            let h = h?;
            let Ok(key) = hex::decode(&h) else { continue };
            if present.query_row([key], |r| r.get::<_, bool>(0))? {
                candidates.insert(h);
            }
        }
    }
    // The capture of each article's current revision stays: it is what the
    // page says now, and what a new extractor re-reads to re-baseline.
    {
        let mut stmt = tx.prepare("SELECT raw_blob FROM articles WHERE raw_blob IS NOT NULL")?;
        for h in stmt.query_map([], |r| r.get::<_, String>(0))? {
            candidates.remove(&h?);
        }
    }
    if candidates.is_empty() {
        return Ok(Pruned::default());
    }
    // Still evidence of something recorded after the cutoff.
    {
        let mut stmt = tx.prepare(
            "SELECT payload FROM ledger WHERE recorded_at >= ?1 AND typeof(payload) = 'text'
               AND instr(payload, '_blob\"') > 0",
        )?;
        for payload in stmt.query_map([&cutoff], |r| r.get::<_, String>(0))? {
            for h in super::blobs::referenced_blobs(&payload?) {
                candidates.remove(&h);
            }
        }
    }
    // Bases of deltas that stay: kept (until those go too).
    let mut kept_as_base = 0;
    {
        let mut dependents = tx.prepare("SELECT hash FROM blobs WHERE base = ?1")?;
        loop {
            let mut keep = Vec::new();
            for c in &candidates {
                let Ok(key) = hex::decode(c) else { continue };
                let needed = dependents
                    .query_map([key], |r| r.get::<_, Vec<u8>>(0))?
                    .filter_map(Result::ok)
                    .any(|d| !candidates.contains(&hex::encode(d)));
                if needed {
                    keep.push(c.clone());
                }
            }
            if keep.is_empty() {
                break;
            }
            kept_as_base += keep.len();
            for k in keep {
                candidates.remove(&k);
            }
        }
    }
    // Dependents before their bases, so that no stored delta ever names a
    // missing base, even between two deletions.
    let mut order: Vec<String> = Vec::new();
    {
        let mut base_of = tx.prepare("SELECT base FROM blobs WHERE hash = ?1")?;
        let mut depth = |h: &str| -> rusqlite::Result<u32> {
            let mut key = hex::decode(h).unwrap_or_default();
            let mut d = 0;
            while let Some(Some(b)) = base_of
                .query_row([&key], |r| r.get::<_, Option<Vec<u8>>>(0))
                .optional()?
            {
                d += 1;
                key = b;
                if d > super::blobs::MAX_DELTA_DEPTH {
                    break;
                }
            }
            Ok(d)
        };
        let mut with_depth = Vec::new();
        for c in candidates.into_iter().take(MAX_PER_RUN) {
            with_depth.push((depth(&c)?, c));
        }
        with_depth.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        order.extend(with_depth.into_iter().map(|(_, c)| c));
    }
    if order.is_empty() {
        return Ok(Pruned {
            kept_as_base,
            ..Pruned::default()
        });
    }
    let bytes: u64 = {
        let mut size = tx.prepare("SELECT length(data) FROM blobs WHERE hash = ?1")?;
        let mut total = 0u64;
        for h in &order {
            let key = hex::decode(h).unwrap_or_default();
            total += size.query_row([key], |r| r.get::<_, i64>(0))?.max(0) as u64;
        }
        total
    };
    let payload = json!({
        "source": source,
        "rule": "raw_max_age",
        "max_age": humantime::format_duration(max_age).to_string(),
        "recorded_before": cutoff,
        "blobs": order,
        "bytes": bytes,
    });
    let seq = append(tx, Kind::Pruned, None, &payload, now)?;
    let mut delete = tx.prepare("DELETE FROM blobs WHERE hash = ?1")?;
    for h in &order {
        delete.execute([hex::decode(h).unwrap_or_default()])?;
    }
    Ok(Pruned {
        seq: Some(seq),
        blobs: order.len(),
        bytes,
        kept_as_base,
    })
}

/// The blobs a `pruned` entry names. A reference to a missing blob from an
/// entry before the last `pruned` entry naming it is a removal on purpose,
/// not damage.
pub fn pruned_blobs(payload: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| {
            v.get("blobs").and_then(|b| b.as_array()).map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default()
}

//! Folding entries another process appended: a replica that pulls a few
//! entries from its PostgreSQL ledger folds them into the rows they touch,
//! as the writer folds its own (load the rows, apply the entries in order,
//! save what changed), instead of folding the whole chain again. `verify`
//! checks the result as it checks the writer's: against a fold of the chain.

use std::collections::BTreeSet;

use rusqlite::{OptionalExtension, Transaction, params};

use super::store::{load_article, load_fetch_state_into, save_changed, set_through_seq};
use super::{Event, Payload, Replay};
use crate::ledger::entry::{Compact, Entry};

/// Folds the entries after seq `after` into the derived tables, in the
/// caller's transaction. Returns the entries that contradict what came
/// before them (for the caller to report; `verify` names them too).
pub fn fold_appended(tx: &Transaction<'_>, after: i64) -> rusqlite::Result<Vec<(i64, String)>> {
    let cols = Entry::columns(tx);
    let entries = tx
        .prepare(&format!(
            "SELECT {cols} FROM ledger WHERE seq > ?1 ORDER BY seq"
        ))?
        .query_map([after], Entry::from_row_unviewed)?
        .collect::<rusqlite::Result<Vec<Entry>>>()?;
    let Some(last) = entries.last().map(|e| e.seq) else {
        return Ok(Vec::new());
    };
    let compact: Vec<Option<Compact>> = entries
        .iter()
        .map(|e| e.compact.as_ref().and_then(|(_, b)| Compact::decode(b)))
        .collect();
    let payloads: Vec<Payload<'_>> = entries
        .iter()
        .zip(&compact)
        .map(|(e, c)| match c {
            Some(c) => Payload::of_compact(c),
            None => Payload::parse(&e.payload).unwrap_or_default(),
        })
        .collect();
    // The rows these entries touch: each fetched URL's state, each
    // article's row and revisions; and the full entries that compact ones
    // from before the batch repeat.
    let mut state = Replay::default();
    let (mut requested, mut articles) = (BTreeSet::new(), BTreeSet::new());
    for (e, p) in entries.iter().zip(&payloads) {
        if let Some(u) = &e.url {
            articles.insert(u.clone());
        }
        if let Some(r) = p.requested_url.as_deref() {
            requested.insert(r.to_string());
        }
        if let Some((ref_seq, _)) = &e.compact
            && *ref_seq <= after
            && let Some((r, url)) = anchor_of(tx, *ref_seq)?
        {
            state.anchor(*ref_seq, &r, url.as_deref());
            requested.insert(r);
            articles.extend(url);
        }
    }
    for r in &requested {
        load_fetch_state_into(tx, r, &mut state)?;
    }
    let filed: Vec<String> = state
        .fetch_state
        .values()
        .filter_map(|f| f.article_url.clone())
        .collect();
    articles.extend(filed);
    for a in &articles {
        load_article(tx, a, &mut state)?;
    }
    let before = state.clone();
    for ((e, p), c) in entries.iter().zip(&payloads).zip(&compact) {
        state.apply(Event {
            seq: e.seq,
            recorded_at: &e.recorded_at,
            kind: &e.kind,
            url: e.url.as_deref(),
            payload: p,
            ref_seq: c.as_ref().and(e.compact.as_ref().map(|(r, _)| *r)),
        });
    }
    state.finish();
    save_changed(tx, &before, &state)?;
    set_through_seq(tx, last)?;
    Ok(std::mem::take(&mut state.anomalies))
}

/// The requested URL and entry URL of the full fetch entry `seq`.
fn anchor_of(tx: &Transaction<'_>, seq: i64) -> rusqlite::Result<Option<(String, Option<String>)>> {
    let row: Option<(Option<String>, Option<String>)> = tx
        .prepare_cached(
            "SELECT url, CASE WHEN typeof(payload) = 'text' AND json_valid(payload)
                    THEN json_extract(payload, '$.requested_url') END
             FROM ledger WHERE seq = ?1 AND kind = 'fetch'",
        )?
        .query_row(params![seq], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.and_then(|(url, requested)| requested.map(|r| (r, url))))
}

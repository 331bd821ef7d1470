//! Applying one fetch report inside the writer's transaction: the
//! comparison with the stored revision, the entries it appends, and the
//! webhook notifications it queues.
//!
//! The derived rows are never written here directly: the entries appended
//! are folded by [`crate::ledger::derive`] into the rows this fetch touches,
//! exactly as `rebuild` and `verify` fold the whole chain.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::{Applied, ChangeKind, FetchReport, Flag, Outcome, prepare};
use crate::config::{KeepRaw, Webhook};
use crate::diff::{self, Fingerprint};
use crate::exchange::Response;
use crate::extract::{self, Article};
use crate::ledger::derive::{ArticleRow, Event, Payload, Replay, store};
use crate::ledger::entry::{Compact, CompactOutcome};
use crate::ledger::{Appended, Kind, append_compact, append_entry, blobs, timestamp};

/// The version of an article the record shows now, as the fold holds it.
struct Current {
    revision: i64,
    max_revision: i64,
    content_hash: String,
    field_hashes: BTreeMap<String, String>,
    extractor: String,
    text_blob: String,
    raw_blob: Option<String>,
    gone: bool,
}

impl Current {
    fn from_row(a: &ArticleRow) -> Current {
        Current {
            revision: a.revision,
            max_revision: a.max_revision,
            content_hash: a.content_hash.clone(),
            field_hashes: serde_json::from_str(&a.field_hashes).unwrap_or_default(),
            extractor: a.extractor.clone(),
            text_blob: a.text_blob.clone(),
            raw_blob: a.raw_blob.clone(),
            gone: a.gone_at.is_some(),
        }
    }

    /// The normalized fields of this version, read from its text blob.
    fn fingerprint(&self, tx: &Transaction<'_>) -> Fingerprint {
        let article = blobs::get(tx, &self.text_blob)
            .ok()
            .and_then(|b| serde_json::from_slice::<Article>(&b).ok())
            .unwrap_or_default();
        diff::fingerprint(&article)
    }
}

/// The article a fetch belongs to: the fetched URL, normalized. A URL that
/// an earlier version filed under another article (its declared canonical)
/// keeps that article only when it is on the same host and in the same
/// source: a page can never write into another outlet's or source's history.
fn article_identity(
    tx: &Transaction<'_>,
    requested: &str,
    source: &str,
    known: Option<&str>,
) -> rusqlite::Result<String> {
    let own = crate::identity::normalize(requested).unwrap_or_else(|| requested.to_string());
    let Some(known) = known.filter(|k| *k != own) else {
        return Ok(own);
    };
    let same_host = crate::identity::host(known).is_some()
        && crate::identity::host(known) == crate::identity::host(requested);
    let known_source: Option<String> = tx
        .query_row("SELECT source FROM articles WHERE url = ?1", [known], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(if same_host && known_source.as_deref() == Some(source) {
        known.to_string()
    } else {
        own
    })
}

/// What comparing the fetched version with the current one decided.
enum Decision {
    /// Nothing to compare (failed, skipped, gone, 304, ...).
    None,
    /// Same text and metadata as now.
    Same,
    /// A new revision of this kind (`Changed` for the first one too).
    Revise(ChangeKind, Vec<String>),
    /// Back to revision `k`'s text: a reversion, no new revision.
    Revert(i64, Vec<String>),
}

fn flag(kind: ChangeKind, url: &str, seq: i64) -> Flag {
    Flag {
        kind,
        url: url.to_string(),
        from_revision: None,
        to_revision: None,
        fields: vec![],
        words_added: 0,
        words_removed: 0,
        words_before: 0,
        declared: false,
        seq,
        excerpt: vec![],
        title_from: None,
        title_to: None,
        metadata: vec![],
        significance: None,
    }
}

pub(super) fn apply_in(
    tx: &Transaction<'_>,
    report: &FetchReport,
    now: DateTime<Utc>,
) -> rusqlite::Result<Applied> {
    let r = &report.result;
    // The rows this fetch can touch: the fetched URL's state (which names
    // the article it was filed under), then that article with its revisions.
    let mut state = store::load_fetch_state(tx, &r.requested_url)?;
    let known = state
        .fetch_state
        .get(&r.requested_url)
        .and_then(|f| f.article_url.clone());
    let article_url = article_identity(tx, &r.requested_url, &report.source, known.as_deref())?;
    store::load_article(tx, &article_url, &mut state)?;
    let cur = state.articles.get(&article_url).map(Current::from_row);

    // The fetch entry's payload, built field by field (a map: inserting
    // cannot fail the way indexing a `Value` could).
    let mut payload = serde_json::Map::new();
    for (k, v) in [
        ("source", json!(report.source)),
        ("requested_url", json!(r.requested_url)),
        ("final_url", json!(r.final_url)),
        ("started_at", json!(timestamp(r.started_at))),
        ("finished_at", json!(timestamp(r.finished_at))),
    ] {
        payload.insert(k.into(), v);
    }
    if !r.retries.is_empty() {
        payload.insert("retries".into(), json!(r.retries));
    }
    let mut applied = Applied {
        outcome: Outcome::Failed,
        fetch_seq: 0,
        requested_url: r.requested_url.clone(),
        article_url: cur.as_ref().map(|_| article_url.clone()),
        revision: cur.as_ref().map(|c| c.revision),
        flags: vec![],
        error: None,
        weak: None,
    };

    // Decide the outcome from the response alone first.
    let response: Option<&Response> = r.response.as_ref().ok();
    if let Some(resp) = response {
        payload.insert("status".into(), json!(resp.status));
        payload.insert("body_bytes".into(), json!(resp.body.len()));
        let prepared = &report.prepared;
        let body_sha256 = prepared
            .body_sha256
            .clone()
            .unwrap_or_else(|| blobs::hash_hex(&resp.body));
        payload.insert("body_sha256".into(), json!(body_sha256));
        if let Some(wire) = &resp.wire {
            // The body as sent, still content-encoded: what the capture holds.
            let wire_sha256 = prepared
                .wire_sha256
                .clone()
                .unwrap_or_else(|| blobs::hash_hex(wire));
            payload.insert("wire_sha256".into(), json!(wire_sha256));
        }
        payload.insert("etag".into(), json!(resp.header("etag")));
        payload.insert("last_modified".into(), json!(resp.header("last-modified")));
        payload.insert("content_type".into(), json!(resp.header("content-type")));
        // Who answered: the address and port connected to and, over TLS,
        // the session and the certificate chain the server presented.
        let peer = resp.peer();
        payload.insert("peer_ip".into(), json!(peer.ip().to_string()));
        payload.insert("peer_port".into(), json!(peer.port()));
        if let Some(tls) = &resp.capture.tls {
            let chain = blobs::put(tx, &tls.chain_der())?;
            payload.insert(
                "tls".into(),
                json!({
                    "protocol": tls.protocol,
                    "cipher": tls.cipher,
                    "sni": tls.sni,
                    "leaf_sha256": tls.leaf_sha256(),
                    "chain_blob": chain,
                }),
            );
        }
    }
    let mut extracted: Option<(&Article, Fingerprint)> = None;
    match (&r.response, &report.article) {
        // Not requested: robots.txt forbids it, or the link guard refused it.
        (Err(e), _) if e.class == "robots" || e.class == "refused" => {
            applied.outcome = Outcome::Skipped;
            payload.insert("reason".into(), json!(e.message));
        }
        (Err(e), _) => {
            applied.outcome = Outcome::Failed;
            applied.error = Some(e.to_string());
            payload.insert("error_class".into(), json!(e.class));
            payload.insert("error".into(), json!(e.message));
        }
        (Ok(resp), _) if resp.status == 304 => applied.outcome = Outcome::NotModified,
        (Ok(resp), _) if resp.status == 404 || resp.status == 410 => {
            if cur.is_some() {
                applied.outcome = Outcome::Gone;
            } else {
                applied.outcome = Outcome::Failed;
                applied.error = Some(format!("HTTP {}", resp.status));
                payload.insert("error_class".into(), json!("http_status"));
            }
        }
        (Ok(resp), _) if !(200..300).contains(&resp.status) => {
            applied.outcome = Outcome::Failed;
            applied.error = Some(format!("HTTP {}", resp.status));
            payload.insert("error_class".into(), json!("http_status"));
        }
        (Ok(_), None) => {
            applied.outcome = Outcome::Skipped;
            payload.insert(
                "reason".into(),
                json!(
                    report
                        .skipped
                        .clone()
                        .unwrap_or_else(|| "not extracted".into())
                ),
            );
        }
        (Ok(_), Some(article)) if article.text.trim().is_empty() => {
            applied.outcome = Outcome::Failed;
            applied.error = Some("no article text found on the page".into());
            payload.insert("error_class".into(), json!("empty_extraction"));
        }
        (Ok(_), Some(article)) => {
            let fp = report
                .prepared
                .fingerprint
                .clone()
                .unwrap_or_else(|| diff::fingerprint(article));
            payload.insert("content_hash".into(), json!(fp.content_hash));
            payload.insert("field_hashes".into(), json!(fp.field_hashes));
            payload.insert("extractor".into(), json!(article.extractor_version));
            payload.insert("article_url".into(), json!(article_url));
            // A declared canonical is metadata: recorded, never identity.
            if let Some(c) = &article.canonical_url {
                payload.insert("declared_canonical".into(), json!(c));
            }
            // The extractor's doubt is part of the record: an auditor sees
            // which versions may not be the article.
            if let Some(w) = article.weak {
                payload.insert("weak_extraction".into(), json!(w.as_str()));
                applied.weak = Some(w);
            }
            if article.from_structured {
                payload.insert("text_from".into(), json!("json-ld articleBody"));
            }
            applied.article_url = Some(article_url.clone());
            extracted = Some((article, fp));
        }
    }

    // Compare with the version the record shows now.
    let decision = match (&extracted, &cur) {
        (None, _) => Decision::None,
        (Some(_), None) => {
            applied.outcome = Outcome::New;
            Decision::Revise(
                ChangeKind::Changed,
                diff::TEXT_FIELDS.iter().map(|s| s.to_string()).collect(),
            )
        }
        (Some((article, fp)), Some(c)) => {
            let fields = diff::changed_fields(&c.field_hashes, &fp.field_hashes);
            if fields.is_empty() {
                applied.outcome = Outcome::Unchanged;
                Decision::Same
            } else if c.extractor != article.extractor_version
                && reextracts_equal(tx, c, &article_url, report, fp)
            {
                applied.outcome = Outcome::Unchanged;
                payload.insert("rebaseline".into(), json!(true));
                Decision::Revise(ChangeKind::Rebaseline, fields)
            } else if diff::is_metadata_only(&fields) {
                applied.outcome = Outcome::Changed;
                Decision::Revise(ChangeKind::Metadata, fields)
            } else {
                applied.outcome = Outcome::Changed;
                // Back to a version already recorded (A/B tests, CDN nodes
                // out of sync): no new revision, a reversion.
                let earlier = state
                    .revisions
                    .values()
                    .filter(|rv| rv.url == article_url && rv.content_hash == fp.content_hash)
                    .map(|rv| rv.revision)
                    .max();
                match earlier {
                    Some(k) => Decision::Revert(k, fields),
                    None => Decision::Revise(ChangeKind::Changed, fields),
                }
            }
        }
    };
    let seen = matches!(
        applied.outcome,
        Outcome::Unchanged | Outcome::NotModified | Outcome::Changed
    );
    let restored = seen && cur.as_ref().is_some_and(|c| c.gone);
    if restored {
        payload.insert("restored".into(), json!(true));
    }

    payload.insert("outcome".into(), json!(applied.outcome.as_str()));
    // The raw capture is the evidence of every new version: revisions
    // (re-baselines included, so that the next upgrade can re-extract it)
    // and reversions; of every fetch if the source asks.
    // The 404 or 410 behind a `gone` is kept too: it is what shows the
    // article was withdrawn. The request as sent is kept beside each capture.
    let keep_raw = matches!(decision, Decision::Revise(..) | Decision::Revert(..))
        || applied.outcome == Outcome::Gone
        || report.keep_raw == KeepRaw::All;
    let mut raw_blob = None;
    if let (true, Some(resp)) = (keep_raw, response) {
        let h = store(tx, report.prepared.raw.as_ref(), || resp.raw().to_vec())?;
        payload.insert("raw_blob".into(), json!(h));
        payload.insert(
            "request_blob".into(),
            json!(blobs::put(tx, resp.request())?),
        );
        if !resp.capture.interim.is_empty() {
            // 1xx responses before the final one (103 Early Hints...).
            payload.insert(
                "interim_blob".into(),
                json!(blobs::put(tx, &resp.capture.interim)?),
            );
        }
        raw_blob = Some(h);
    }
    let mut text_blob = None;
    if let (Some((article, _)), Decision::Revise(..) | Decision::Revert(..)) =
        (&extracted, &decision)
    {
        text_blob = Some(store(tx, report.prepared.text.as_ref(), || {
            prepare::text_json(article)
        })?);
    }
    if let Decision::Revert(k, fields) = &decision {
        payload.insert("reverted_to".into(), json!(k));
        payload.insert("fields_changed".into(), json!(fields));
        payload.insert("text_blob".into(), json!(text_blob));
    }
    let fetch_url = applied
        .article_url
        .clone()
        .unwrap_or_else(|| article_url.clone());
    let mut events: Vec<Folded> = Vec::new();
    let repeats = match (applied.outcome, &decision, restored, &raw_blob) {
        (
            Outcome::Unchanged | Outcome::NotModified,
            Decision::Same | Decision::None,
            false,
            None,
        ) => repeated_entry(tx, &fetch_url, &r.requested_url, &state, &payload)?,
        _ => None,
    };
    // Validators of an unchanged text: stored in a compact entry only when
    // they differ from the URL's current ones (a page whose ETag changes on
    // every render); a validator that disappeared needs a full entry.
    let mut validators: BTreeMap<&str, Option<String>> = BTreeMap::new();
    let repeats = repeats.filter(|_| {
        if applied.outcome != Outcome::Unchanged {
            return true;
        }
        let fs = state.fetch_state.get(&r.requested_url);
        ["etag", "last_modified"].iter().all(|k| {
            let now = payload.get(*k).and_then(Value::as_str);
            let current = fs.and_then(|f| match *k {
                "etag" => f.etag.as_deref(),
                _ => f.last_modified.as_deref(),
            });
            match (now, current) {
                (None, Some(_)) => false,
                (Some(n), c) if Some(n) != c => {
                    validators.insert(k, Some(n.to_string()));
                    true
                }
                _ => true,
            }
        })
    });
    let (written, ref_seq) = match (repeats, response) {
        (Some(anchor), Some(resp)) => {
            let changed = |k: &str| validators.get(k).cloned().flatten();
            // Compact: everything but outcome, status, times and body is
            // that of the full entry `anchor`.
            state.anchor(anchor, &r.requested_url, Some(&fetch_url));
            let ms = |t: DateTime<Utc>| (t - now).num_milliseconds();
            let unchanged = applied.outcome == Outcome::Unchanged;
            let compact = Compact {
                outcome: if unchanged {
                    CompactOutcome::Unchanged
                } else {
                    CompactOutcome::NotModified
                },
                status: resp.status,
                started_ms: ms(r.started_at),
                finished_ms: ms(r.finished_at),
                body_bytes: resp.body.len() as u64,
                etag: changed("etag"),
                last_modified: changed("last_modified"),
                body_sha256: unchanged.then(|| {
                    payload
                        .get("body_sha256")
                        .and_then(Value::as_str)
                        .and_then(|h| hex::decode(h).ok())
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or([0; 32])
                }),
            };
            (append_compact(tx, anchor, &compact, now)?, Some(anchor))
        }
        _ => (
            append_entry(
                tx,
                Kind::Fetch,
                Some(&fetch_url),
                &Value::Object(payload),
                now,
            )?,
            None,
        ),
    };
    applied.fetch_seq = written.seq;
    events.push((Kind::Fetch, fetch_url.clone(), written, ref_seq));

    if let (Some(c), true) = (&cur, restored) {
        let mut f = flag(ChangeKind::Restored, &article_url, applied.fetch_seq);
        f.to_revision = Some(c.revision);
        applied.flags.push(f);
    }
    match (&decision, &extracted) {
        (Decision::Revert(k, fields), _) => {
            let mut f = flag(ChangeKind::Reverted, &article_url, applied.fetch_seq);
            f.from_revision = cur.as_ref().map(|c| c.revision);
            f.to_revision = Some(*k);
            f.fields = fields.clone();
            applied.flags.push(f);
            applied.revision = Some(*k);
        }
        (Decision::Revise(kind, fields), Some((article, fp))) => {
            let to_rev = cur.as_ref().map_or(0, |c| c.max_revision) + 1;
            // The diff prepared before the writer, if it was made against
            // the version the record shows now; else made here.
            let prepared = report
                .prepared
                .previous
                .as_ref()
                .filter(|p| cur.as_ref().map(|c| &c.content_hash) == p.content_hash.as_ref());
            let old = match prepared {
                Some(p) => p.fingerprint.clone(),
                None => cur.as_ref().map(|c| c.fingerprint(tx)),
            };
            let old_body = old.as_ref().map_or("", body_of);
            let words = match prepared {
                Some(p) => p.diff.clone(),
                None => diff::words::diff(old_body, body_of(fp)),
            };
            let declared = old.as_ref().is_some_and(|o| diff::is_declared(o, fp));
            let rev_payload = json!({
                "article_url": article_url,
                "revision": to_rev,
                "content_hash": fp.content_hash,
                "previous_content_hash": cur.as_ref().map(|c| c.content_hash.clone()),
                "field_hashes": fp.field_hashes,
                "fields_changed": fields,
                "words_added": words.words_added,
                "words_removed": words.words_removed,
                "title": article.title,
                "text_blob": text_blob,
                "raw_blob": raw_blob,
                "fetch_seq": applied.fetch_seq,
                "extractor": article.extractor_version,
                "change": if cur.is_none() { "new" } else { kind.as_str() },
                "declared": declared,
                // The fetch's source again, for the index lists page by
                // (`ledger_revision_source`); the fold checks they agree.
                "source": report.source,
            });
            let written = append_entry(tx, Kind::Revision, Some(&article_url), &rev_payload, now)?;
            let seq = written.seq;
            events.push((Kind::Revision, article_url.clone(), written, None));
            applied.revision = Some(to_rev);
            if cur.is_none() {
                let mut f = flag(ChangeKind::New, &article_url, seq);
                f.to_revision = Some(to_rev);
                f.title_to = article.title.clone();
                applied.flags.push(f);
            }
            if let Some(c) = &cur {
                let mut f = flag(*kind, &article_url, seq);
                if fields.iter().any(|x| x == "title") {
                    f.title_from = old.as_ref().and_then(|o| o.fields.get("title").cloned());
                    f.title_to = fp.fields.get("title").cloned();
                }
                f.from_revision = Some(c.revision);
                f.to_revision = Some(to_rev);
                f.fields = fields.clone();
                f.words_added = words.words_added;
                f.words_removed = words.words_removed;
                f.words_before = old_body.split_whitespace().count() as u64;
                f.declared = declared;
                f.excerpt = diff::words::excerpt(&words, 6)
                    .into_iter()
                    .take(5)
                    .collect();
                f.metadata = diff::fingerprint_metadata_changes(old.as_ref(), fp);
                f.significance = Some(diff::significance::assess(&diff::significance::Change {
                    diff: &words,
                    metadata: &f.metadata,
                }));
                applied.flags.push(f);
            }
        }
        _ => {}
    }

    if let (Outcome::Gone, Some(c)) = (applied.outcome, &cur)
        && !c.gone
    {
        let gone_payload = json!({
            "article_url": article_url,
            "last_revision": c.revision,
            "status": response.map(|r| r.status),
            "fetch_seq": applied.fetch_seq,
        });
        let written = append_entry(tx, Kind::Gone, Some(&article_url), &gone_payload, now)?;
        let seq = written.seq;
        events.push((Kind::Gone, article_url.clone(), written, None));
        let mut f = flag(ChangeKind::Gone, &article_url, seq);
        f.from_revision = Some(c.revision);
        applied.flags.push(f);
    }

    fold(tx, &mut state, &events)?;
    Ok(applied)
}

/// Stores a blob packed before the writer, or packs it here when it was not
/// (or when the delta base it names is not stored).
fn store(
    tx: &Transaction<'_>,
    packed: Option<&blobs::Packed>,
    bytes: impl FnOnce() -> Vec<u8>,
) -> rusqlite::Result<String> {
    if let Some(p) = packed
        && blobs::base_stored(tx, p)?
    {
        return blobs::put_packed(tx, p);
    }
    blobs::put(tx, &bytes())
}

/// The normalized body of a fingerprint ("" if it has none).
fn body_of(f: &Fingerprint) -> &str {
    f.fields.get("body").map_or("", String::as_str)
}

/// Folds the entries just appended into the rows they touch and saves them.
/// An entry appended by this fetch, as the fold takes it: kind, URL, what
/// was written, and for a compact entry the full entry it repeats.
type Folded = (Kind, String, Appended, Option<i64>);

/// Keys a compact entry records itself; every other payload field must be
/// the same as in the full entry it repeats.
const VARYING: [&str; 9] = [
    "outcome",
    "status",
    "started_at",
    "finished_at",
    "body_bytes",
    "body_sha256",
    "wire_sha256",
    "etag",
    "last_modified",
];

/// The full fetch entry this fetch repeats, if it can be written compact:
/// the latest full fetch entry filed under `url`, with no full fetch of
/// `requested` after it, and the same payload but for [`VARYING`] fields.
fn repeated_entry(
    tx: &Transaction<'_>,
    url: &str,
    requested: &str,
    state: &Replay,
    payload: &serde_json::Map<String, Value>,
) -> rusqlite::Result<Option<i64>> {
    let Some(last_seq) = state.fetch_state.get(requested).map(|f| f.last_seq) else {
        return Ok(None);
    };
    let full: Option<(i64, String)> = tx
        .prepare_cached(
            "SELECT seq, payload FROM ledger WHERE url = ?1 AND kind = 'fetch' AND ref_seq IS NULL
             ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([url], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((seq, text)) = full else {
        return Ok(None);
    };
    // The URL's last fetch is that entry, or a compact one repeating it.
    let last_ref: Option<i64> = if last_seq == seq {
        Some(seq)
    } else {
        tx.prepare_cached("SELECT ref_seq FROM ledger WHERE seq = ?1")?
            .query_row([last_seq], |r| r.get(0))
            .optional()?
            .flatten()
    };
    if last_ref != Some(seq) {
        return Ok(None);
    }
    let Ok(Value::Object(earlier)) = serde_json::from_str::<Value>(&text) else {
        return Ok(None);
    };
    let fixed = |m: &serde_json::Map<String, Value>| -> Vec<(String, Value)> {
        m.iter()
            .filter(|(k, _)| !VARYING.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    Ok((fixed(&earlier) == fixed(payload)).then_some(seq))
}

fn fold(tx: &Transaction<'_>, state: &mut Replay, events: &[Folded]) -> rusqlite::Result<()> {
    let before = state.clone();
    for (kind, url, written, ref_seq) in events {
        // The stored text, parsed as `verify` and `rebuild` parse it.
        let payload = Payload::parse(&written.payload).unwrap_or_default();
        state.apply(Event {
            seq: written.seq,
            recorded_at: &written.recorded_at,
            kind: kind.as_str(),
            url: Some(url),
            payload: &payload,
            ref_seq: *ref_seq,
        });
    }
    store::save_changed(tx, &before, state)
}

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

/// The largest decoded capture a re-baseline re-extracts.
const MAX_REEXTRACT_BYTES: u64 = 64 * 1024 * 1024;

/// Re-extracts the stored raw capture of the current version with today's
/// extractor: equal to the new fingerprint means the page was not edited,
/// only read better.
fn reextracts_equal(
    tx: &Transaction<'_>,
    cur: &Current,
    url: &str,
    report: &FetchReport,
    new: &Fingerprint,
) -> bool {
    let Some(raw) = cur.raw_blob.as_deref().and_then(|h| blobs::get(tx, h).ok()) else {
        return false;
    };
    let Some((body, content_type)) = crate::exchange::capture_body(&raw, MAX_REEXTRACT_BYTES)
    else {
        return false;
    };
    let html = extract::decode(&body, content_type.as_deref());
    let again = extract::extract(&html, Some(url), &report.overrides);
    diff::fingerprint(&again).content_hash == new.content_hash
}

//! Applying one fetch report inside the writer's transaction: the
//! comparison with the stored revision, the entries it appends, the derived
//! rows it updates, and the webhook notifications it queues.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Value, json};

use super::{Applied, ChangeKind, Current, FetchReport, Flag, Outcome};
use crate::config::{KeepRaw, Webhook};
use crate::diff::{self, Fingerprint};
use crate::extract::{self, Article};
use crate::fetch::Response;
use crate::ledger::{Kind, append, blobs, timestamp};

fn current(tx: &Transaction<'_>, url: &str) -> rusqlite::Result<Option<Current>> {
    tx.query_row(
        "SELECT a.revision, a.content_hash, a.fields_json, a.extractor, r.text_blob, r.raw_blob, a.gone_at
         FROM articles a JOIN revisions r ON r.url = a.url AND r.revision = a.revision
         WHERE a.url = ?1",
        [url],
        |r| {
            let fields_json: String = r.get(2)?;
            let v: Value = serde_json::from_str(&fields_json).unwrap_or(Value::Null);
            let map = |k: &str| -> BTreeMap<String, String> {
                v.get(k)
                    .and_then(Value::as_object)
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
                    .unwrap_or_default()
            };
            Ok(Current {
                revision: r.get(0)?,
                content_hash: r.get(1)?,
                field_hashes: map("hashes"),
                fields: map("values"),
                extractor: r.get(3)?,
                text_blob: r.get(4)?,
                raw_blob: r.get(5)?,
                gone: r.get::<_, Option<String>>(6)?.is_some(),
            })
        },
    )
    .optional()
}

fn fingerprint_json(fp: &Fingerprint) -> Value {
    json!({
        "hashes": fp.field_hashes,
        "values": fp.fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<BTreeMap<_, _>>(),
    })
}

fn fingerprint_from_fields(
    fields: &BTreeMap<String, String>,
    hashes: &BTreeMap<String, String>,
    content_hash: &str,
) -> Fingerprint {
    let mut f = BTreeMap::new();
    for k in diff::TEXT_FIELDS.iter().chain(diff::META_FIELDS.iter()) {
        f.insert(*k, fields.get(*k).cloned().unwrap_or_default());
    }
    Fingerprint {
        fields: f,
        field_hashes: hashes.clone(),
        content_hash: content_hash.to_string(),
    }
}

pub(super) fn apply_in(
    tx: &Transaction<'_>,
    report: &FetchReport,
    now: DateTime<Utc>,
) -> rusqlite::Result<Applied> {
    let r = &report.result;
    let state: Option<(Option<String>,)> = tx
        .query_row(
            "SELECT article_url FROM fetch_state WHERE url = ?1",
            [&r.requested_url],
            |row| Ok((row.get(0)?,)),
        )
        .optional()?;
    let known_article = state.and_then(|s| s.0);

    let mut payload = json!({
        "source": report.source,
        "requested_url": r.requested_url,
        "final_url": r.final_url,
        "started_at": timestamp(r.started_at),
        "finished_at": timestamp(r.finished_at),
    });
    if !r.retries.is_empty() {
        payload["retries"] = json!(r.retries);
    }
    let mut applied = Applied {
        outcome: Outcome::Failed,
        fetch_seq: 0,
        article_url: known_article.clone(),
        revision: None,
        flag: None,
        error: None,
    };

    // Decide the outcome from the response alone first.
    let response: Option<&Response> = r.response.as_ref().ok();
    if let Some(resp) = response {
        let p = payload.as_object_mut().expect("payload is an object");
        p.insert("status".into(), json!(resp.status));
        p.insert("body_bytes".into(), json!(resp.body.len()));
        p.insert("body_sha256".into(), json!(blobs::hash_hex(&resp.body)));
        p.insert("etag".into(), json!(resp.header("etag")));
        p.insert("last_modified".into(), json!(resp.header("last-modified")));
        p.insert("content_type".into(), json!(resp.header("content-type")));
    }
    let mut new_revision: Option<(Article, Fingerprint, String)> = None;
    match (&r.response, &report.article) {
        (Err(e), _) if e.class == "robots" => {
            applied.outcome = Outcome::Skipped;
            payload["reason"] = json!(e.message);
        }
        (Err(e), _) => {
            applied.outcome = Outcome::Failed;
            applied.error = Some(e.to_string());
            payload["error_class"] = json!(e.class);
            payload["error"] = json!(e.message);
        }
        (Ok(resp), _) if resp.status == 304 => applied.outcome = Outcome::NotModified,
        (Ok(resp), _) if resp.status == 404 || resp.status == 410 => {
            applied.outcome = if known_article.is_some() {
                Outcome::Gone
            } else {
                Outcome::Failed
            };
            if applied.outcome == Outcome::Failed {
                applied.error = Some(format!("HTTP {}", resp.status));
                payload["error_class"] = json!("http_status");
            }
        }
        (Ok(resp), _) if !(200..300).contains(&resp.status) => {
            applied.outcome = Outcome::Failed;
            applied.error = Some(format!("HTTP {}", resp.status));
            payload["error_class"] = json!("http_status");
        }
        (Ok(_), None) => {
            applied.outcome = Outcome::Skipped;
            payload["reason"] = json!(
                report
                    .skipped
                    .clone()
                    .unwrap_or_else(|| "not extracted".into())
            );
        }
        (Ok(_), Some(article)) if article.text.trim().is_empty() => {
            applied.outcome = Outcome::Failed;
            applied.error = Some("no article text found on the page".into());
            payload["error_class"] = json!("empty_extraction");
        }
        (Ok(_), Some(article)) => {
            let fp = diff::fingerprint(article);
            let canonical = article
                .canonical_url
                .as_deref()
                .and_then(crate::identity::normalize)
                .or_else(|| crate::identity::normalize(&r.final_url))
                .unwrap_or_else(|| r.final_url.clone());
            payload["content_hash"] = json!(fp.content_hash);
            payload["extractor"] = json!(article.extractor_version);
            payload["article_url"] = json!(canonical);
            new_revision = Some((article.clone(), fp, canonical));
        }
    }

    // Compare with the stored revision.
    let mut change: Option<(ChangeKind, Option<Current>, Vec<String>)> = None;
    let mut reverted: Option<(i64, i64, Vec<String>)> = None;
    if let Some((article, fp, canonical)) = &new_revision {
        applied.article_url = Some(canonical.clone());
        match current(tx, canonical)? {
            None => {
                applied.outcome = Outcome::New;
                change = Some((
                    ChangeKind::Changed,
                    None,
                    diff::TEXT_FIELDS.iter().map(|s| s.to_string()).collect(),
                ));
            }
            Some(cur) => {
                let fields = diff::changed_fields(&cur.field_hashes, &fp.field_hashes);
                if fields.is_empty() {
                    applied.outcome = Outcome::Unchanged;
                    applied.revision = Some(cur.revision);
                    if cur.gone {
                        tx.execute(
                            "UPDATE articles SET gone_at = NULL WHERE url = ?1",
                            [canonical],
                        )?;
                    }
                } else if cur.extractor != article.extractor_version
                    && reextracts_equal(tx, &cur, report, fp)
                {
                    applied.outcome = Outcome::Unchanged;
                    change = Some((ChangeKind::Rebaseline, Some(cur), fields));
                } else if diff::is_metadata_only(&fields) {
                    applied.outcome = Outcome::Changed;
                    change = Some((ChangeKind::Metadata, Some(cur), fields));
                } else {
                    let earlier: Option<i64> = tx.query_row(
                        "SELECT MAX(revision) FROM revisions WHERE url = ?1 AND content_hash = ?2",
                        params![canonical, fp.content_hash],
                        |row| row.get(0),
                    )?;
                    applied.outcome = Outcome::Changed;
                    match earlier {
                        // Back to a version already recorded (A/B tests, CDN
                        // nodes out of sync): no new revision, a reversion.
                        Some(k) => reverted = Some((k, cur.revision, fields)),
                        None => change = Some((ChangeKind::Changed, Some(cur), fields)),
                    }
                }
            }
        }
    }

    payload["outcome"] = json!(applied.outcome.as_str());
    if let Some((k, _, _)) = &reverted {
        payload["reverted_to"] = json!(k);
    }
    // Keep the raw capture when a revision is made, or always if asked.
    let keep_raw = matches!(change, Some((k, _, _)) if k != ChangeKind::Rebaseline)
        || report.keep_raw == KeepRaw::All;
    let mut raw_blob = None;
    if let (true, Some(resp)) = (keep_raw, response) {
        let h = blobs::put(tx, &resp.raw())?;
        payload["raw_blob"] = json!(h);
        raw_blob = Some(h);
    }
    let fetch_url = applied
        .article_url
        .clone()
        .unwrap_or_else(|| r.requested_url.clone());
    applied.fetch_seq = append(tx, Kind::Fetch, Some(&fetch_url), &payload, now)?;
    let at = timestamp(now);

    if let (Some((_, fp, canonical)), Some((to, from, fields))) = (&new_revision, reverted) {
        tx.execute(
            "UPDATE articles SET revision = ?2, content_hash = ?3, fields_json = ?4, last_seen = ?5, gone_at = NULL WHERE url = ?1",
            params![canonical, to, fp.content_hash, fingerprint_json(fp).to_string(), at],
        )?;
        tx.execute(
            "UPDATE revisions SET last_seen = ?3 WHERE url = ?1 AND revision = ?2",
            params![canonical, to, at],
        )?;
        tx.execute(
            "INSERT INTO changes (seq, url, kind, from_revision, to_revision, detected_at, fields_json, declared)
             VALUES (?1, ?2, 'reverted', ?3, ?4, ?5, ?6, 0)",
            params![applied.fetch_seq, canonical, from, to, at, json!(fields).to_string()],
        )?;
        applied.revision = Some(to);
        applied.flag = Some(Flag {
            kind: ChangeKind::Reverted,
            url: canonical.clone(),
            from_revision: Some(from),
            to_revision: Some(to),
            fields,
            words_added: 0,
            words_removed: 0,
            words_before: 0,
            declared: false,
            seq: applied.fetch_seq,
            excerpt: vec![],
        });
    }
    if let (Some((article, fp, canonical)), Some((kind, cur, fields))) = (&new_revision, change) {
        let text_json = serde_json::to_vec(&json!(article)).expect("article serializes");
        let text_blob = blobs::put(tx, &text_json)?;
        let (from_rev, words) = match &cur {
            None => (None, diff::words::diff("", &fp.fields["body"])),
            Some(c) => (
                Some(c.revision),
                diff::words::diff(
                    &c.fields.get("body").cloned().unwrap_or_default(),
                    &fp.fields["body"],
                ),
            ),
        };
        let to_rev = from_rev.unwrap_or(0) + 1;
        let declared = cur
            .as_ref()
            .map(|c| {
                diff::is_declared(
                    &fingerprint_from_fields(&c.fields, &c.field_hashes, &c.content_hash),
                    fp,
                )
            })
            .unwrap_or(false);
        let rev_payload = json!({
            "article_url": canonical,
            "revision": to_rev,
            "content_hash": fp.content_hash,
            "previous_content_hash": cur.as_ref().map(|c| c.content_hash.clone()),
            "field_hashes": fp.field_hashes,
            "fields_changed": fields,
            "words_added": words.words_added,
            "words_removed": words.words_removed,
            "text_blob": text_blob,
            "raw_blob": raw_blob,
            "fetch_seq": applied.fetch_seq,
            "extractor": article.extractor_version,
            "change": if cur.is_none() { "new" } else { kind.as_str() },
            "declared": declared,
        });
        let seq = append(tx, Kind::Revision, Some(canonical), &rev_payload, now)?;
        tx.execute(
            "INSERT INTO revisions (url, revision, content_hash, title, first_seen, last_seen, words_added, words_removed, text_blob, raw_blob, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![canonical, to_rev, fp.content_hash, article.title, at, words.words_added as i64, words.words_removed as i64, text_blob, raw_blob, seq],
        )?;
        tx.execute(
            "INSERT INTO articles (url, source, fetch_url, revision, content_hash, fields_json, extractor, first_seen, last_seen, gone_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, NULL)
             ON CONFLICT(url) DO UPDATE SET source = excluded.source, fetch_url = excluded.fetch_url,
               revision = excluded.revision, content_hash = excluded.content_hash,
               fields_json = excluded.fields_json, extractor = excluded.extractor,
               last_seen = excluded.last_seen, gone_at = NULL",
            params![canonical, report.source, r.requested_url, to_rev, fp.content_hash, fingerprint_json(fp).to_string(), article.extractor_version, at],
        )?;
        applied.revision = Some(to_rev);
        if cur.is_some() {
            if kind != ChangeKind::Rebaseline {
                tx.execute(
                    "INSERT INTO changes (seq, url, kind, from_revision, to_revision, detected_at, fields_json, declared)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![seq, canonical, kind.as_str(), from_rev, to_rev, at, json!(fields).to_string(), declared],
                )?;
            }
            applied.flag = Some(Flag {
                kind,
                url: canonical.clone(),
                from_revision: from_rev,
                to_revision: Some(to_rev),
                fields,
                words_added: words.words_added,
                words_removed: words.words_removed,
                words_before: cur
                    .as_ref()
                    .and_then(|c| c.fields.get("body"))
                    .map_or(0, |b| b.split_whitespace().count() as u64),
                declared,
                seq,
                excerpt: diff::words::excerpt(&words, 6)
                    .into_iter()
                    .take(5)
                    .collect(),
            });
        }
    } else if matches!(applied.outcome, Outcome::Unchanged | Outcome::NotModified)
        && let Some(url) = &applied.article_url
    {
        tx.execute(
            "UPDATE articles SET last_seen = ?2 WHERE url = ?1",
            params![url, at],
        )?;
        tx.execute(
            "UPDATE revisions SET last_seen = ?2 WHERE url = ?1 AND revision = (SELECT revision FROM articles WHERE url = ?1)",
            params![url, at],
        )?;
        if applied.revision.is_none() {
            applied.revision = tx
                .query_row(
                    "SELECT revision FROM articles WHERE url = ?1",
                    [url],
                    |row| row.get(0),
                )
                .optional()?;
        }
    }

    if applied.outcome == Outcome::Gone
        && let Some(url) = &applied.article_url
    {
        let row: Option<(i64, Option<String>)> = tx
            .query_row(
                "SELECT revision, gone_at FROM articles WHERE url = ?1",
                [url],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if let Some((rev, None)) = row {
            let status = response.map(|r| r.status);
            let gone_payload = json!({
                "article_url": url,
                "last_revision": rev,
                "status": status,
                "fetch_seq": applied.fetch_seq,
            });
            let seq = append(tx, Kind::Gone, Some(url), &gone_payload, now)?;
            tx.execute(
                "UPDATE articles SET gone_at = ?2 WHERE url = ?1",
                params![url, at],
            )?;
            tx.execute(
                "INSERT INTO changes (seq, url, kind, from_revision, to_revision, detected_at, fields_json, declared)
                 VALUES (?1, ?2, 'gone', ?3, NULL, ?4, '[]', 0)",
                params![seq, url, rev, at],
            )?;
            applied.flag = Some(Flag {
                kind: ChangeKind::Gone,
                url: url.clone(),
                from_revision: Some(rev),
                to_revision: None,
                fields: vec![],
                words_added: 0,
                words_removed: 0,
                words_before: 0,
                declared: false,
                seq,
                excerpt: vec![],
            });
        }
    }

    // Fetch state: validators only from a response we extracted and stored.
    let (etag, last_modified) = match (response, &new_revision) {
        (Some(resp), Some(_)) => (
            resp.header("etag").map(str::to_string),
            resp.header("last-modified").map(str::to_string),
        ),
        _ => (None, None),
    };
    tx.execute(
        "INSERT INTO fetch_state (url, source, article_url, etag, last_modified, last_fetch_at, last_outcome, last_status, last_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT(url) DO UPDATE SET source = excluded.source,
           article_url = COALESCE(excluded.article_url, fetch_state.article_url),
           etag = CASE WHEN ?10 THEN excluded.etag ELSE fetch_state.etag END,
           last_modified = CASE WHEN ?10 THEN excluded.last_modified ELSE fetch_state.last_modified END,
           last_fetch_at = excluded.last_fetch_at, last_outcome = excluded.last_outcome,
           last_status = excluded.last_status, last_seq = excluded.last_seq",
        params![
            r.requested_url,
            report.source,
            applied.article_url,
            etag,
            last_modified,
            at,
            applied.outcome.as_str(),
            response.map(|r| r.status as i64),
            applied.fetch_seq,
            new_revision.is_some(),
        ],
    )?;
    Ok(applied)
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
    let title: Option<String> = tx
        .query_row(
            "SELECT title FROM revisions WHERE url = ?1 ORDER BY revision DESC LIMIT 1",
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

/// Re-extracts the stored raw capture of the current revision with today's
/// extractor: equal to the new fingerprint means the page was not edited,
/// only read better.
fn reextracts_equal(
    tx: &Transaction<'_>,
    cur: &Current,
    report: &FetchReport,
    new: &Fingerprint,
) -> bool {
    let Some(raw) = cur.raw_blob.as_deref().and_then(|h| blobs::get(tx, h).ok()) else {
        return false;
    };
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..split]);
    let content_type = head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.trim().to_string())
    });
    let html = extract::decode(&raw[split + 4..], content_type.as_deref());
    let old_url =
        serde_json::from_slice::<Article>(&blobs::get(tx, &cur.text_blob).unwrap_or_default())
            .ok()
            .and_then(|a| a.canonical_url);
    let again = extract::extract(&html, old_url.as_deref(), &report.overrides);
    diff::fingerprint(&again).content_hash == new.content_hash
}

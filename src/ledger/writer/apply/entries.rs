//! The entries one fetch appends, and the evidence they name: the raw
//! capture and the request as sent, the extracted text, then the fetch
//! entry (compact when it repeats the URL's latest full one), a revision
//! with its change flags, a `gone` entry; last, the fold of what was
//! appended into the rows it touches.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction};
use serde_json::{Value, json};

use super::{Decision, Extracted, Fetch};
use crate::config::KeepRaw;
use crate::diff::{self, Fingerprint};
use crate::ledger::derive::{Event, Payload, Replay};
use crate::ledger::entry::{Compact, CompactOutcome};
use crate::ledger::writer::{Applied, ChangeKind, Flag, Outcome, prepare};
use crate::ledger::{Appended, Kind, append_compact, append_entry, blobs};

/// The blobs a fetch keeps as its evidence.
pub(super) struct Evidence {
    /// The response as received (with the request as sent beside it).
    raw_blob: Option<String>,
    /// The extracted text of a new version.
    text_blob: Option<String>,
}

impl Fetch<'_, '_> {
    /// The raw capture is the evidence of every new version: revisions
    /// (re-baselines included, so that the next upgrade can re-extract it)
    /// and reversions; of every fetch if the source asks. The 404 or 410
    /// behind a `gone` is kept too: it is what shows the article was
    /// withdrawn. The request as sent is kept beside each capture.
    pub(super) fn keep_evidence(
        &mut self,
        decision: &Decision,
        extracted: &Extracted<'_>,
    ) -> rusqlite::Result<Evidence> {
        let new_version = matches!(decision, Decision::Revise(..) | Decision::Revert(..));
        let keep_raw = new_version
            || self.applied.outcome == Outcome::Gone
            || self.report.keep_raw == KeepRaw::All;
        let (tx, prepared) = (self.tx, &self.report.prepared);
        let mut raw_blob = None;
        if let (true, Some(resp)) = (keep_raw, self.response()) {
            let h = store(tx, prepared.raw.as_ref(), || resp.raw().to_vec())?;
            self.payload.insert("raw_blob".into(), json!(h));
            let request = blobs::put(tx, resp.request())?;
            self.payload.insert("request_blob".into(), json!(request));
            if !resp.capture.interim.is_empty() {
                // 1xx responses before the final one (103 Early Hints...).
                let interim = blobs::put(tx, &resp.capture.interim)?;
                self.payload.insert("interim_blob".into(), json!(interim));
            }
            raw_blob = Some(h);
        }
        let mut text_blob = None;
        if let (Some((article, _)), true) = (extracted, new_version) {
            let h = store(tx, prepared.text.as_ref(), || prepare::text_json(article))?;
            text_blob = Some(h);
        }
        if let Decision::Revert(k, fields) = decision {
            self.payload.insert("reverted_to".into(), json!(k));
            self.payload.insert("fields_changed".into(), json!(fields));
            self.payload.insert("text_blob".into(), json!(text_blob));
        }
        Ok(Evidence {
            raw_blob,
            text_blob,
        })
    }

    /// Appends the fetch entry: compact when it repeats the URL's latest
    /// full fetch entry but for its outcome, status, times and body.
    pub(super) fn append_fetch(
        &mut self,
        decision: &Decision,
        restored: bool,
        evidence: &Evidence,
    ) -> rusqlite::Result<()> {
        let requested = self.report.result.requested_url.as_str();
        let fetch_url = self
            .applied
            .article_url
            .clone()
            .unwrap_or_else(|| self.article_url.clone());
        let repeats = match (self.applied.outcome, decision, restored, &evidence.raw_blob) {
            (
                Outcome::Unchanged | Outcome::NotModified,
                Decision::Same | Decision::None,
                false,
                None,
            ) => repeated_entry(self.tx, &fetch_url, requested, &self.state, &self.payload)?,
            _ => None,
        };
        // Validators of an unchanged text: stored in a compact entry only
        // when they differ from the URL's current ones (a page whose ETag
        // changes on every render); a validator that disappeared needs a
        // full entry.
        let mut validators: BTreeMap<&str, Option<String>> = BTreeMap::new();
        let unchanged = self.applied.outcome == Outcome::Unchanged;
        let repeats = repeats.filter(|_| {
            if !unchanged {
                return true;
            }
            let fs = self.state.fetch_state.get(requested);
            ["etag", "last_modified"].iter().all(|k| {
                let now = self.payload.get(*k).and_then(Value::as_str);
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
        let (tx, now, r) = (self.tx, self.now, &self.report.result);
        let (written, ref_seq) = match (repeats, self.response()) {
            (Some(anchor), Some(resp)) => {
                let changed = |k: &str| validators.get(k).cloned().flatten();
                self.state.anchor(anchor, requested, Some(&fetch_url));
                let ms = |t: DateTime<Utc>| (t - now).num_milliseconds();
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
                        self.payload
                            .get("body_sha256")
                            .and_then(Value::as_str)
                            .and_then(|h| hex::decode(h).ok())
                            .and_then(|b| b.try_into().ok())
                            .unwrap_or([0; 32])
                    }),
                };
                (append_compact(tx, anchor, &compact, now)?, Some(anchor))
            }
            _ => {
                let payload = Value::Object(std::mem::take(&mut self.payload));
                let written = append_entry(tx, Kind::Fetch, Some(&fetch_url), &payload, now)?;
                (written, None)
            }
        };
        self.applied.fetch_seq = written.seq;
        self.events.push((Kind::Fetch, fetch_url, written, ref_seq));
        Ok(())
    }

    /// A gone article seen again is flagged `restored`, at the fetch.
    pub(super) fn flag_restored(&mut self, restored: bool) {
        if let (Some(c), true) = (&self.cur, restored) {
            let mut f = flag(
                ChangeKind::Restored,
                &self.article_url,
                self.applied.fetch_seq,
            );
            f.to_revision = Some(c.revision);
            self.applied.flags.push(f);
        }
    }

    /// A reversion is flagged at the fetch; a new version appends its
    /// revision entry, flagged with what changed and how much it matters.
    pub(super) fn append_revision(
        &mut self,
        decision: &Decision,
        extracted: &Extracted<'_>,
        evidence: &Evidence,
    ) -> rusqlite::Result<()> {
        let url = self.article_url.clone();
        match (decision, extracted) {
            (Decision::Revert(k, fields), _) => {
                let mut f = flag(ChangeKind::Reverted, &url, self.applied.fetch_seq);
                f.from_revision = self.cur.as_ref().map(|c| c.revision);
                f.to_revision = Some(*k);
                f.fields = fields.clone();
                self.applied.flags.push(f);
                self.applied.revision = Some(*k);
            }
            (Decision::Revise(kind, fields), Some((article, fp))) => {
                let cur = self.cur.as_ref();
                let to_rev = cur.map_or(0, |c| c.max_revision) + 1;
                // The diff prepared before the writer, if it was made against
                // the version the record shows now; else made here.
                let prepared = self
                    .report
                    .prepared
                    .previous
                    .as_ref()
                    .filter(|p| cur.map(|c| &c.content_hash) == p.content_hash.as_ref());
                let old = match prepared {
                    Some(p) => p.fingerprint.clone(),
                    None => cur.map(|c| c.fingerprint(self.tx)),
                };
                let old_body = old.as_ref().map_or("", body_of);
                let words = match prepared {
                    Some(p) => p.diff.clone(),
                    None => diff::words::diff(old_body, body_of(fp)),
                };
                let declared = old.as_ref().is_some_and(|o| diff::is_declared(o, fp));
                let rev_payload = json!({
                    "article_url": url,
                    "revision": to_rev,
                    "content_hash": fp.content_hash,
                    "previous_content_hash": cur.map(|c| c.content_hash.clone()),
                    "field_hashes": fp.field_hashes,
                    "fields_changed": fields,
                    "words_added": words.words_added,
                    "words_removed": words.words_removed,
                    "title": article.title,
                    "text_blob": evidence.text_blob,
                    "raw_blob": evidence.raw_blob,
                    "fetch_seq": self.applied.fetch_seq,
                    "extractor": article.extractor_version,
                    "change": if cur.is_none() { "new" } else { kind.as_str() },
                    "declared": declared,
                    // The fetch's source again, for the index lists page by
                    // (`ledger_revision_source`); the fold checks they agree.
                    "source": self.report.source,
                });
                let written =
                    append_entry(self.tx, Kind::Revision, Some(&url), &rev_payload, self.now)?;
                let seq = written.seq;
                self.events
                    .push((Kind::Revision, url.clone(), written, None));
                self.applied.revision = Some(to_rev);
                let Some(c) = cur else {
                    let mut f = flag(ChangeKind::New, &url, seq);
                    f.to_revision = Some(to_rev);
                    f.title_to = article.title.clone();
                    self.applied.flags.push(f);
                    return Ok(());
                };
                let mut f = flag(*kind, &url, seq);
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
                self.applied.flags.push(f);
            }
            _ => {}
        }
        Ok(())
    }

    /// A 404 or 410 for an article that was there appends a `gone` entry.
    pub(super) fn append_gone(&mut self) -> rusqlite::Result<()> {
        let (Outcome::Gone, Some(c)) = (self.applied.outcome, &self.cur) else {
            return Ok(());
        };
        if c.gone {
            return Ok(());
        }
        let url = self.article_url.clone();
        let gone_payload = json!({
            "article_url": url,
            "last_revision": c.revision,
            "status": self.response().map(|r| r.status),
            "fetch_seq": self.applied.fetch_seq,
        });
        let from_revision = c.revision;
        let written = append_entry(self.tx, Kind::Gone, Some(&url), &gone_payload, self.now)?;
        let mut f = flag(ChangeKind::Gone, &url, written.seq);
        f.from_revision = Some(from_revision);
        self.applied.flags.push(f);
        self.events.push((Kind::Gone, url, written, None));
        Ok(())
    }

    /// Folds the entries just appended into the rows they touch and saves
    /// them; what was applied.
    pub(super) fn finish(mut self) -> rusqlite::Result<Applied> {
        let before = self.state.clone();
        for (kind, url, written, ref_seq) in &self.events {
            // The stored text, parsed as `verify` and `rebuild` parse it.
            let payload = Payload::parse(&written.payload).unwrap_or_default();
            self.state.apply(Event {
                seq: written.seq,
                recorded_at: &written.recorded_at,
                kind: kind.as_str(),
                url: Some(url),
                payload: &payload,
                ref_seq: *ref_seq,
            });
        }
        crate::ledger::derive::store::save_changed(self.tx, &before, &self.state)?;
        Ok(self.applied)
    }
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

/// An entry appended by this fetch, as the fold takes it: kind, URL, what
/// was written, and for a compact entry the full entry it repeats.
pub(super) type Folded = (Kind, String, Appended, Option<i64>);

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

//! Applying one fetch report inside the writer's transaction: the
//! comparison with the stored revision and the entries it appends, in the
//! order a reader can follow in [`apply_in`]: the rows the fetch touches
//! are loaded, the response recorded, the outcome classified and compared
//! with the current version, then the evidence kept and the entries
//! appended (`entries.rs`).
//!
//! The derived rows are never written here directly: the entries appended
//! are folded by [`crate::ledger::derive`] into the rows this fetch touches,
//! exactly as `rebuild` and `verify` fold the whole chain.

mod entries;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction};
use serde_json::{Value, json};

use super::{Applied, ChangeKind, FetchReport, Outcome};
use crate::diff::{self, Fingerprint};
use crate::exchange::Response;
use crate::extract::{self, Article};
use crate::ledger::blobs;
use crate::ledger::derive::{ArticleRow, Replay, store};
use crate::ledger::timestamp;
use entries::Folded;

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

/// One fetch being applied: the rows it touches and what it has recorded
/// so far. Each stage of [`apply_in`] is one method.
struct Fetch<'a, 't> {
    tx: &'a Transaction<'t>,
    report: &'a FetchReport,
    now: DateTime<Utc>,
    /// The rows this fetch can touch, folded forward by what it appends.
    state: Replay,
    /// The article the fetch belongs to (see [`article_identity`]).
    article_url: String,
    /// The version the record shows now, if the article has one.
    cur: Option<Current>,
    /// The fetch entry's payload, built field by field (a map: inserting
    /// cannot fail the way indexing a `Value` could).
    payload: serde_json::Map<String, Value>,
    applied: Applied,
    /// The entries appended, in order, for the fold.
    events: Vec<Folded>,
}

/// The extracted article and its fingerprint, when the fetch has one.
type Extracted<'a> = Option<(&'a Article, Fingerprint)>;

pub(super) fn apply_in(
    tx: &Transaction<'_>,
    report: &FetchReport,
    now: DateTime<Utc>,
) -> rusqlite::Result<Applied> {
    let mut fetch = Fetch::load(tx, report, now)?;
    fetch.record_response()?;
    let extracted = fetch.classify();
    let decision = fetch.decide(&extracted);
    let restored = fetch.settle();
    let evidence = fetch.keep_evidence(&decision, &extracted)?;
    fetch.append_fetch(&decision, restored, &evidence)?;
    fetch.flag_restored(restored);
    fetch.append_revision(&decision, &extracted, &evidence)?;
    fetch.append_gone()?;
    fetch.finish()
}

impl<'a, 't> Fetch<'a, 't> {
    /// The rows this fetch can touch: the fetched URL's state (which names
    /// the article it was filed under), then that article with its
    /// revisions.
    fn load(
        tx: &'a Transaction<'t>,
        report: &'a FetchReport,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<Self> {
        let r = &report.result;
        let mut state = store::load_fetch_state(tx, &r.requested_url)?;
        let known = state
            .fetch_state
            .get(&r.requested_url)
            .and_then(|f| f.article_url.clone());
        let article_url = article_identity(tx, &r.requested_url, &report.source, known.as_deref())?;
        store::load_article(tx, &article_url, &mut state)?;
        let cur = state.articles.get(&article_url).map(Current::from_row);
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
        if let Some(v) = &report.vantage {
            payload.insert("vantage".into(), json!(v));
        }
        let applied = Applied {
            outcome: Outcome::Failed,
            fetch_seq: 0,
            requested_url: r.requested_url.clone(),
            article_url: cur.as_ref().map(|_| article_url.clone()),
            revision: cur.as_ref().map(|c| c.revision),
            flags: vec![],
            error: None,
            weak: None,
        };
        Ok(Fetch {
            tx,
            report,
            now,
            state,
            article_url,
            cur,
            payload,
            applied,
            events: Vec::new(),
        })
    }

    /// The response, when the server answered.
    fn response(&self) -> Option<&'a Response> {
        let report: &'a FetchReport = self.report;
        report.result.response.as_ref().ok()
    }

    /// What the server answered, whatever the outcome: status, body hashes,
    /// validators and who answered (the address and port connected to and,
    /// over TLS, the session and the certificate chain presented).
    fn record_response(&mut self) -> rusqlite::Result<()> {
        let Some(resp) = self.response() else {
            return Ok(());
        };
        let prepared = &self.report.prepared;
        let payload = &mut self.payload;
        payload.insert("status".into(), json!(resp.status));
        payload.insert("body_bytes".into(), json!(resp.body.len()));
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
        let peer = resp.peer();
        payload.insert("peer_ip".into(), json!(peer.ip().to_string()));
        payload.insert("peer_port".into(), json!(peer.port()));
        if let Some(tls) = &resp.capture.tls {
            let chain = blobs::put(self.tx, &tls.chain_der())?;
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
        Ok(())
    }

    /// The outcome as the response alone decides it, and the extracted
    /// article when there is one to compare.
    fn classify(&mut self) -> Extracted<'a> {
        let report: &'a FetchReport = self.report;
        let (applied, payload) = (&mut self.applied, &mut self.payload);
        let http_status =
            |applied: &mut Applied, payload: &mut serde_json::Map<String, Value>, status: u16| {
                applied.outcome = Outcome::Failed;
                applied.error = Some(format!("HTTP {status}"));
                payload.insert("error_class".into(), json!("http_status"));
            };
        match (&report.result.response, &report.article) {
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
                if self.cur.is_some() {
                    applied.outcome = Outcome::Gone;
                } else {
                    http_status(applied, payload, resp.status);
                }
            }
            (Ok(resp), _) if !(200..300).contains(&resp.status) => {
                http_status(applied, payload, resp.status);
            }
            (Ok(_), None) => {
                applied.outcome = Outcome::Skipped;
                let reason = report.skipped.as_deref().unwrap_or("not extracted");
                payload.insert("reason".into(), json!(reason));
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
                payload.insert("article_url".into(), json!(self.article_url));
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
                applied.article_url = Some(self.article_url.clone());
                return Some((article, fp));
            }
        }
        None
    }

    /// The extracted version compared with the one the record shows now.
    fn decide(&mut self, extracted: &Extracted<'a>) -> Decision {
        let Some((article, fp)) = extracted else {
            return Decision::None;
        };
        let Some(c) = &self.cur else {
            self.applied.outcome = Outcome::New;
            let all = diff::TEXT_FIELDS.iter().map(|s| s.to_string()).collect();
            return Decision::Revise(ChangeKind::Changed, all);
        };
        let fields = diff::changed_fields(&c.field_hashes, &fp.field_hashes);
        if fields.is_empty() {
            self.applied.outcome = Outcome::Unchanged;
            Decision::Same
        } else if c.extractor != article.extractor_version
            && reextracts_equal(self.tx, c, &self.article_url, self.report, fp)
        {
            self.applied.outcome = Outcome::Unchanged;
            self.payload.insert("rebaseline".into(), json!(true));
            Decision::Revise(ChangeKind::Rebaseline, fields)
        } else if diff::is_metadata_only(&fields) {
            self.applied.outcome = Outcome::Changed;
            Decision::Revise(ChangeKind::Metadata, fields)
        } else {
            self.applied.outcome = Outcome::Changed;
            // Back to a version already recorded (A/B tests, CDN nodes out
            // of sync): no new revision, a reversion.
            let earlier = self
                .state
                .revisions
                .values()
                .filter(|rv| rv.url == self.article_url && rv.content_hash == fp.content_hash)
                .map(|rv| rv.revision)
                .max();
            match earlier {
                Some(k) => Decision::Revert(k, fields),
                None => Decision::Revise(ChangeKind::Changed, fields),
            }
        }
    }

    /// Records the settled outcome; true when a gone article was seen again.
    fn settle(&mut self) -> bool {
        let seen = matches!(
            self.applied.outcome,
            Outcome::Unchanged | Outcome::NotModified | Outcome::Changed
        );
        let restored = seen && self.cur.as_ref().is_some_and(|c| c.gone);
        if restored {
            self.payload.insert("restored".into(), json!(true));
        }
        self.payload
            .insert("outcome".into(), json!(self.applied.outcome.as_str()));
        restored
    }
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

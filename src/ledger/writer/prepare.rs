//! The work on a fetch that does not need the writer: hashing the body,
//! fingerprinting the article, compressing its blobs (as deltas against the
//! article's current revision) and diffing its text. It runs on the CPU
//! pool (`service::cpu`), in parallel, right after extraction; the writer thread
//! then only decides and inserts.
//!
//! What the preparation assumes about the article's current version comes
//! from a [`Hint`] read on a read-only connection when the cycle started,
//! and may be stale by the time the writer applies the report (another
//! fetch of the same article in between, a reload). The writer uses a
//! prepared piece only where it matches what it finds (the same content hash
//! for a diff, a stored base for a delta) and redoes the rest itself: a
//! stale hint costs time, never correctness.

use rusqlite::Connection;

use super::FetchReport;
use crate::diff::{self, Fingerprint, words::WordDiff};
use crate::extract::Article;
use crate::ledger::blobs::{self, Packed};

/// What the record showed for a URL when the cycle started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hint {
    pub content_hash: String,
    /// The per-field hashes of that version: a new text blob is prepared
    /// when any differs (a metadata change too).
    pub field_hashes: std::collections::BTreeMap<String, String>,
    pub text_blob: String,
    pub raw_blob: Option<String>,
}

/// The text of the version a hint names, and how the new text differs.
#[derive(Debug, Clone)]
pub struct Previous {
    /// The content hash the diff was made against (`None`: against no
    /// version, for an article not recorded yet).
    pub content_hash: Option<String>,
    /// That version's fingerprint (`None` with `content_hash`).
    pub fingerprint: Option<Fingerprint>,
    pub diff: WordDiff,
}

/// Work done before the writer. Every field is optional: the writer
/// computes what is missing.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub body_sha256: Option<String>,
    pub wire_sha256: Option<String>,
    pub fingerprint: Option<Fingerprint>,
    /// The article's text blob, packed (only when its text may be new).
    pub text: Option<Packed>,
    /// The raw capture, packed (when it may be kept).
    pub raw: Option<Packed>,
    pub previous: Option<Previous>,
}

fn key(hex_hash: &str) -> Option<[u8; 32]> {
    hex::decode(hex_hash).ok()?.try_into().ok()
}

/// The article's text blob: its extracted fields as JSON.
pub fn text_json(article: &Article) -> Vec<u8> {
    #[allow(
        clippy::expect_used,
        reason = "serializing the Article struct (strings only) cannot fail"
    )]
    serde_json::to_vec(&serde_json::json!(article)).expect("article serializes")
}

/// Packs `bytes` as a delta against the stored blob `base` when it can be
/// read and its chain is not too deep, else whole.
fn pack_against(conn: Option<&Connection>, bytes: &[u8], base: Option<&str>) -> Option<Packed> {
    let delta = (|| {
        let conn = conn?;
        let base_hex = base?;
        let base_key = key(base_hex)?;
        let depth = blobs::delta_depth(conn, &base_key).ok()??;
        if depth >= blobs::MAX_DELTA_DEPTH {
            return None;
        }
        let base_bytes = blobs::get(conn, base_hex).ok()?;
        blobs::pack_delta(bytes, base_key, &base_bytes).ok()
    })();
    delta.or_else(|| blobs::pack(bytes).ok())
}

/// Prepares a report for the writer. `ledger` opens a read-only connection
/// to the ledger (for delta bases and the previous text); it is called only
/// when the text looks new and a hint names a previous version.
pub fn prepare(
    report: &FetchReport,
    hint: Option<&Hint>,
    ledger: impl FnOnce() -> Option<Connection>,
) -> Prepared {
    let mut p = Prepared::default();
    let Ok(resp) = &report.result.response else {
        return p;
    };
    p.body_sha256 = Some(blobs::hash_hex(&resp.body));
    p.wire_sha256 = resp.wire.as_deref().map(blobs::hash_hex);
    let keep_all = report.keep_raw == crate::config::KeepRaw::All;
    let fingerprint = report
        .article
        .as_ref()
        .filter(|a| !a.text.trim().is_empty())
        .map(|a| (a, diff::fingerprint(a)));
    let new_text = match (&fingerprint, hint) {
        (Some((_, fp)), Some(h)) => fp.field_hashes != h.field_hashes,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if !new_text && !keep_all {
        p.fingerprint = fingerprint.map(|(_, fp)| fp);
        return p;
    }
    // A delta base is needed for a new text, or for every capture kept.
    let conn = hint.and_then(|_| ledger());
    let raw = resp.raw();
    p.raw = pack_against(conn.as_ref(), raw, hint.and_then(|h| h.raw_blob.as_deref()));
    if let (Some((article, fp)), true) = (&fingerprint, new_text) {
        p.text = pack_against(
            conn.as_ref(),
            &text_json(article),
            hint.map(|h| h.text_blob.as_str()),
        );
        let body = |f: &Fingerprint| f.fields.get("body").cloned().unwrap_or_default();
        if hint.is_none() {
            p.previous = Some(Previous {
                content_hash: None,
                fingerprint: None,
                diff: diff::words::diff("", &body(fp)),
            });
        }
        if let (Some(h), Some(c)) = (hint, conn.as_ref()) {
            let old: Option<Article> = blobs::get(c, &h.text_blob)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            if let Some(old) = old {
                let old_fp = diff::fingerprint(&old);
                p.previous = Some(Previous {
                    content_hash: Some(h.content_hash.clone()),
                    diff: diff::words::diff(&body(&old_fp), &body(fp)),
                    fingerprint: Some(old_fp),
                });
            }
        }
    }
    p.fingerprint = fingerprint.map(|(_, fp)| fp);
    p
}

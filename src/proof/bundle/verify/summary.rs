//! What a verified bundle proves, in plain words first: the verdict's
//! summary and details.

use serde_json::Value;

use super::{Trust, Verdict, at};
use crate::ledger::checkpoints::Body;
use crate::proof::bundle::assemble::{self, Inputs};

pub(super) fn summarize(
    v: &mut Verdict,
    inputs: &Inputs,
    body: &Body,
    stamp: Option<&assemble::Stamp>,
    cosigned: &[String],
    trust: &Trust<'_>,
) {
    let data = assemble::page_data(inputs, stamp).unwrap_or(Value::Null);
    let revisions = at(&data, "revisions")
        .as_array()
        .cloned()
        .unwrap_or_default();
    let fetches = at(&data, "fetches").as_array().cloned().unwrap_or_default();
    v.summary.push(format!("The page: {}", inputs.article_url));
    if let Some(last) = revisions.last() {
        let article: Value = last["text"]
            .as_str()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(Value::Null);
        let title = at(&article, "title").as_str().unwrap_or("(no title)");
        let words: Vec<&str> = at(&article, "text")
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .take(25)
            .collect();
        // Which revisions the bundle holds; whether they are all the
        // article's, no proof in it can say.
        let numbers: Vec<String> = revisions
            .iter()
            .map(|r| at(r, "revision").to_string())
            .collect();
        let held = format!("revisions in this bundle: {}", numbers.join(", "));
        v.summary.push(format!(
            "Revision {} ({held}), headline: \"{title}\"",
            last["revision"]
        ));
        v.summary
            .push(format!("It begins: \"{} …\"", words.join(" ")));
        let seq = last["seq"].as_i64().unwrap_or(i64::MAX);
        let fetch = fetches
            .iter()
            .filter(|f| f["seq"].as_i64().unwrap_or(0) < seq)
            .max_by_key(|f| f["seq"].as_i64())
            .or(fetches.last());
        if let Some(f) = fetch {
            let port = f["peer_port"]
                .as_u64()
                .map(|p| format!(":{p}"))
                .unwrap_or_default();
            v.summary.push(format!(
                "Fetched at {} from {} (address {}{port}), HTTP {}",
                f["started_at"].as_str().unwrap_or("?"),
                f["final_url"].as_str().unwrap_or("?"),
                f["peer_ip"].as_str().unwrap_or("not recorded"),
                f["status"]
            ));
            match f["leaf_sha256"].as_str() {
                Some(fp) => v.summary.push(format!(
                    "Over TLS, the server's certificate: {}, issued by {}, SHA-256 fingerprint {fp}",
                    f["tls_subject"].as_str().unwrap_or("(unreadable)"),
                    f["tls_issuer"].as_str().unwrap_or("(unreadable)"),
                )),
                None => v
                    .summary
                    .push("Over plain HTTP: no certificate identifies the server".into()),
            }
        }
        // A withdrawal after it: the page answered 404 or 410; and whether
        // a later fetch found it back.
        if let Some(g) = fetches
            .iter()
            .filter(|f| f["seq"].as_i64().unwrap_or(0) > seq && f["outcome"] == "gone")
            .min_by_key(|f| f["seq"].as_i64())
        {
            let back = inputs
                .entries
                .iter()
                .filter(|e| {
                    e["kind"] == "fetch"
                        && e["seq"].as_i64().unwrap_or(0) > g["seq"].as_i64().unwrap_or(0)
                })
                .map(assemble::payload)
                .find(|p| {
                    matches!(
                        p["outcome"].as_str(),
                        Some("unchanged" | "not_modified" | "changed" | "new")
                    )
                });
            let back = back.map_or(String::new(), |p| {
                format!(
                    "; back at {} (HTTP {}, {})",
                    at(&p, "started_at").as_str().unwrap_or("?"),
                    at(&p, "status"),
                    at(&p, "outcome").as_str().unwrap_or("?")
                )
            });
            v.summary.push(format!(
                "Then withdrawn: at {} the page answered HTTP {} (gone){back}",
                g["started_at"].as_str().unwrap_or("?"),
                g["status"]
            ));
        }
    } else if let Some(f) = fetches.last() {
        v.summary.push(format!(
            "Fetched at {} (HTTP {}, {})",
            f["started_at"].as_str().unwrap_or("?"),
            f["status"],
            f["outcome"].as_str().unwrap_or("?")
        ));
    }
    v.summary.push(format!(
        "Recorded in the log {} (size {}); the log's signature checked with the key {}",
        body.origin, body.size, trust.log_key
    ));
    if let Some(s) = stamp {
        let how = if trust.tsa_ca.is_some() {
            "signature checked"
        } else {
            "signature NOT checked"
        };
        v.summary
            .push(format!("Timestamped by {} at {} ({how})", s.tsa, s.time));
    }
    for c in cosigned {
        v.summary.push(format!("Cosigned by witness {c}"));
    }
    if v.repacked {
        v.summary.push(
            "Container re-packed: the ZIP file is not laid out as newsledger wrote it (another tool re-zipped it); every member's contents verified"
                .into(),
        );
    }
    // Details: the timeline and each entry.
    let (observations, spans) = observations(inputs);
    let compact = inputs
        .entries
        .iter()
        .filter(|e| !e["ref_seq"].is_null())
        .count();
    if let (Some(first), Some(last)) = (spans.first(), spans.last()) {
        v.details.push(format!(
            "{}: {observations} observations in {} stretches from {} to {} ({compact} of them unchanged or not-modified fetches kept as compact entries)",
            inputs.article_url,
            spans.len(),
            first.first_seen,
            last.last_seen
        ));
    }
    for e in &inputs.entries {
        if !e["ref_seq"].is_null() {
            continue; // counted in the observations line
        }
        let p = assemble::payload(e);
        let g = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
        let seq = &e["seq"];
        match e["kind"].as_str() {
            Some("revision") => v.details.push(format!(
                "entry {seq}: revision {} has content {} (text and metadata in evidence/blobs/{}.json)",
                at(&p, "revision"),
                g("content_hash"),
                g("text_blob"),
            )),
            Some("fetch") => v.details.push(format!(
                "entry {seq}: fetch of {} at {}: HTTP {}, {}{}{}",
                g("final_url"),
                g("started_at"),
                at(&p, "status"),
                g("outcome"),
                p.get("raw_blob")
                    .and_then(Value::as_str)
                    .map(|r| format!(", response as received in the WARC record with block digest sha256:{r}"))
                    .unwrap_or_default(),
                p.get("content_hash")
                    .and_then(Value::as_str)
                    .map(|c| format!(", text content {c}"))
                    .unwrap_or_default(),
            )),
            Some(kind) => v.details.push(format!("entry {seq}: {kind}")),
            None => {}
        }
    }
    v.details.push(format!(
        "each entry is in the log {} of size {}",
        body.origin, body.size
    ));
}

/// The article's timeline folded from the bundle's entries, as `history`
/// folds the ledger's (`ledger::derive::Replay`): the observations it counts
/// and its stretches.
pub(super) fn observations(inputs: &Inputs) -> (u64, Vec<crate::ledger::derive::Span>) {
    use crate::ledger::derive::{Event, Payload, Replay};
    let mut replay = Replay::with_spans();
    for e in &inputs.entries {
        let text = e["payload"].as_str().unwrap_or_default();
        let payload = Payload::parse(text).unwrap_or_default();
        replay.apply(Event {
            seq: e["seq"].as_i64().unwrap_or(0),
            recorded_at: e["recorded_at"].as_str().unwrap_or_default(),
            kind: e["kind"].as_str().unwrap_or_default(),
            url: e["url"].as_str(),
            payload: &payload,
            ref_seq: e["ref_seq"].as_i64(),
        });
    }
    let spans = replay.spans.remove(&inputs.article_url).unwrap_or_default();
    (spans.iter().map(|s| s.observations).sum(), spans)
}

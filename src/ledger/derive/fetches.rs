//! Folding fetch entries, full and compact: the URL's fetch state, the
//! observation of the current version, and the expectation that a fetch
//! recording a new text is followed by its revision entry.

use super::{ChangeRow, Event, FetchStateRow, LastFetch, Payload, Replay, set, set_opt};

impl Replay {
    pub(super) fn fetch(&mut self, e: Event<'_>) {
        self.finish();
        if let Some(r) = e.ref_seq {
            return self.compact_fetch(e, r);
        }
        let p = e.payload;
        let new_text = matches!(p.outcome.as_deref(), Some("new" | "changed"))
            && p.reverted_to.is_none()
            || p.rebaseline == Some(true);
        if new_text {
            self.awaiting_revision = Some(e.seq);
        }
        let Some(requested) = p.requested_url.as_deref() else {
            self.anomaly(e.seq, "fetch entry without requested_url".into());
            return;
        };
        self.anchor(e.seq, requested, e.url);
        self.fetch_of(e, requested);
    }

    /// A compact entry: the URLs and source of the full entry it repeats,
    /// its own outcome, status and time.
    fn compact_fetch(&mut self, e: Event<'_>, ref_seq: i64) {
        let Some((requested, url)) = self.anchors.get(&ref_seq).cloned() else {
            self.anomaly(
                e.seq,
                format!("compact fetch entry repeats seq {ref_seq}, which is not the latest full fetch entry of a URL"),
            );
            return;
        };
        let source = self
            .fetch_state
            .get(&requested)
            .map(|f| f.source.clone())
            .unwrap_or_default();
        let payload = Payload {
            requested_url: Some(requested.as_str().into()),
            source: Some(source.as_str().into()),
            ..e.payload.clone()
        };
        self.fetch_of(
            Event {
                url: url.as_deref(),
                payload: &payload,
                ref_seq: None,
                ..e
            },
            &requested,
        );
        // Validators that changed since the full entry (an unchanged text
        // served with a new ETag): kept for the next conditional request.
        if payload.outcome.as_deref() == Some("unchanged")
            && let Some(fs) = self.fetch_state.get_mut(&requested)
        {
            if let Some(t) = payload.etag.as_deref() {
                set_opt(&mut fs.etag, Some(t));
            }
            if let Some(l) = payload.last_modified.as_deref() {
                set_opt(&mut fs.last_modified, Some(l));
            }
        }
    }

    fn fetch_of(&mut self, e: Event<'_>, requested: &str) {
        let p = e.payload;
        let source = p.source.as_deref().unwrap_or_default();
        let outcome = p.outcome.as_deref().unwrap_or_default();
        // Reused strings: a fold of a million fetches allocates little.
        match &mut self.last_fetch {
            Some(last) => {
                last.seq = e.seq;
                set(&mut last.source, source);
                set(&mut last.requested_url, requested);
            }
            None => {
                self.last_fetch = Some(LastFetch {
                    seq: e.seq,
                    source: source.to_string(),
                    requested_url: requested.to_string(),
                })
            }
        }
        if !self.fetch_state.contains_key(requested) {
            self.fetch_state.insert(
                requested.to_string(),
                FetchStateRow {
                    url: requested.to_string(),
                    ..FetchStateRow::default()
                },
            );
        }
        if let Some(fs) = self.fetch_state.get_mut(requested) {
            set(&mut fs.source, source);
            if let Some(a) = p.article_url.as_deref() {
                set_opt(&mut fs.article_url, Some(a));
            }
            // Validators only from a response that was extracted and stored.
            if p.content_hash.is_some() {
                set_opt(&mut fs.etag, p.etag.as_deref());
                set_opt(&mut fs.last_modified, p.last_modified.as_deref());
            }
            set(&mut fs.last_fetch_at, e.recorded_at);
            set(&mut fs.last_outcome, outcome);
            fs.last_status = p.status;
            fs.last_seq = e.seq;
        }

        let Some(url) = e.url.filter(|u| self.articles.contains_key(*u)) else {
            return;
        };
        let url = url.to_string();
        if outcome == "failed" {
            if let Some(span) = self.spans.get_mut(&url).and_then(|v| v.last_mut()) {
                span.failed += 1;
            }
            return;
        }
        let at = e.recorded_at;
        let seen = matches!(outcome, "unchanged" | "not_modified" | "changed");
        let (was_gone, current) = match self.articles.get(&url) {
            Some(a) => (a.gone_at.is_some(), a.revision),
            None => return,
        };
        if seen && was_gone {
            // A page answering again after a 404/410: its own event.
            if let Some(a) = self.articles.get_mut(&url) {
                a.gone_at = None;
            }
            self.changes.insert(
                (e.seq, "restored".into()),
                ChangeRow {
                    seq: e.seq,
                    kind: "restored".into(),
                    url: url.clone(),
                    from_revision: None,
                    to_revision: Some(current),
                    detected_at: at.to_string(),
                    fields_json: "[]".into(),
                    declared: false,
                },
            );
            self.open_span(&url, "restored", current, at, e.seq);
        } else if outcome == "gone" && was_gone {
            // Still gone: one more observation of the absence.
            self.observe_span(&url, at);
            return;
        }

        if let Some(k) = p.reverted_to {
            self.revert(e, &url, current, k);
        } else if matches!(outcome, "unchanged" | "not_modified") && p.rebaseline.is_none() {
            if let Some(a) = self.articles.get_mut(&url) {
                a.last_seen = at.to_string();
            }
            if let Some(r) = self.revisions.get_mut(&(url.clone(), current)) {
                r.last_seen = at.to_string();
            }
            if !(seen && was_gone) {
                self.observe_span(&url, at);
            }
        }
    }
}

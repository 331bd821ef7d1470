//! What the command line, the web view and the logs show alike: page text
//! made safe for a terminal or a log line, a cycle's counts in words, and
//! the problems `health` and the sources page report. Below `cli`, `web`
//! and `service`, so that none of them reaches into another for it.

use std::collections::BTreeMap;

use crate::ledger::read::Status;
use crate::ledger::writer::Outcome;

/// Page text made safe for a terminal: control characters (C0 but newline
/// and tab, DEL, C1) and bidirectional overrides are shown escaped
/// (`\u{1b}`), so a page cannot move the cursor, retitle the window or
/// reorder what the auditor reads. `--json` and the ledger keep the text
/// verbatim.
pub fn safe(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if unsafe_char(c) {
                    format!("\\u{{{:x}}}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// [`safe`] for one-line fields: newlines and tabs escaped too.
pub fn safe_line(s: &str) -> String {
    safe(s).replace('\n', "\\n").replace('\t', "\\t")
}

/// A cycle's counts in words, in the order of the pipeline's outcomes.
pub fn counts(c: &BTreeMap<&'static str, u64>) -> String {
    if c.is_empty() {
        return "nothing fetched".into();
    }
    // In the order of the pipeline's outcomes, not alphabetically; then
    // the discovery documents read for links.
    Outcome::ALL
        .iter()
        .map(|o| o.as_str())
        .chain(["discovery"])
        .filter_map(|o| c.get(o).map(|v| format!("{v} {o}")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sources whose next run is more than `grace` in the past: the daemon is
/// not running, or stuck.
pub fn overdue(
    s: &Status,
    now: chrono::DateTime<chrono::Utc>,
    grace: std::time::Duration,
) -> Vec<String> {
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let mut problems = Vec::new();
    if s.sources.is_empty() {
        problems.push("no source has been recorded in the ledger yet".to_string());
    }
    for src in &s.sources {
        match src
            .next_run_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        {
            Some(next) if now - next.with_timezone(&chrono::Utc) > grace => {
                problems.push(format!(
                    "source {}: its cycle due at {next} has not run",
                    src.name
                ));
            }
            Some(_) => {}
            None => problems.push(format!("source {}: no cycle has finished yet", src.name)),
        }
        // A cycle that could not record a fetch is unhealthy until a later
        // cycle records everything.
        if let Some(n) = src
            .counts
            .get("unrecorded")
            .and_then(serde_json::Value::as_u64)
            .filter(|n| *n > 0)
        {
            problems.push(format!(
                "source {}: its last cycle could not record {n} fetches ({})",
                src.name,
                src.last_error.as_deref().unwrap_or("see the log")
            ));
        }
        if let Some(problem) = weak_extraction(src) {
            problems.push(problem);
        }
    }
    problems
}

/// Sources whose last `cycles` cycles in a row failed every fetch
/// (`failing_cycles` of the last cycle's counts): the site is down, blocks
/// this machine, or the network is gone, and nothing is being watched.
pub fn failing(s: &Status, cycles: u64) -> Vec<String> {
    s.sources
        .iter()
        .filter_map(|src| {
            let n = src
                .counts
                .get("failing_cycles")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            (n >= cycles).then(|| {
                format!(
                    "source {}: every fetch failed in its last {n} cycles ({})",
                    src.name,
                    src.last_error.as_deref().unwrap_or("see the log")
                )
            })
        })
        .collect()
}

/// A source whose last cycle extracted at least half of its pages weakly
/// ([`crate::extract::Weakness`]): what is watched may not be the article.
pub fn weak_extraction(src: &crate::ledger::read::SourceStatus) -> Option<String> {
    let count = |k: &str| {
        src.counts
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    let weak = count("weak");
    let extracted = count("new") + count("changed") + count("unchanged");
    (weak > 0 && weak * 2 >= extracted).then(|| {
        format!(
            "source {}: {weak} of {extracted} pages extracted in its last cycle may not be the article (mostly short lines or little prose); check them with `newsledger show URL` and set the source's content_selector",
            src.name
        )
    })
}

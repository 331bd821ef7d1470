//! Webhook delivery. Notifications are queued by the ledger writer in the
//! transaction of the change they report (so they survive restarts); this
//! task POSTs the due ones and records each attempt, with exponential
//! backoff on failure. It never blocks ingestion: it only asks the writer
//! for small updates between fetches.

use std::collections::BTreeMap;
use std::time::Duration;

use tracing::{info, warn};

use crate::ledger::writer::{Pending, WriterHandle};

/// How often the queue is polled.
const POLL: Duration = Duration::from_secs(1);
/// Deliveries per poll, at most.
const BATCH: usize = 32;
/// One delivery attempt's time limit.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client for webhooks, the TSA and witnesses (its own: a
/// receiver is not a news site): each request within `TIMEOUT`, no
/// redirects (a configured endpoint that moves is an error to fix, never a
/// hop to wherever it points).
pub fn client(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(user_agent.to_string())
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// A reply's body, at most `cap` bytes: a longer one is an error, read no
/// further (an endless body costs `cap`, not memory without end).
pub async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > cap {
            return Err(format!("the reply is longer than {cap} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Remote text made safe for a log line: control characters (ESC, BEL,
/// CR...) written as escapes, at most `max` characters.
pub fn printable(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars().take(max) {
        // Controls, and the bidirectional overrides and isolates that make
        // a terminal show text in another order than it was written.
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Delivers what is due now, each receiver on its own task, so that a dead
/// or slow receiver delays only its own notifications (bounded: one task
/// per configured webhook, one request at a time each). Returns how many
/// were delivered.
pub async fn deliver_due(writer: &WriterHandle, client: &reqwest::Client) -> usize {
    let due = match writer.due_notifications(BATCH).await {
        Ok(d) => d,
        Err(e) => {
            warn!(error = %e, "cannot read the webhook queue");
            return 0;
        }
    };
    let mut by_receiver: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
    for n in due {
        by_receiver.entry(n.webhook.clone()).or_default().push(n);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (_, queue) in by_receiver {
        let (writer, client) = (writer.clone(), client.clone());
        tasks.spawn(async move { deliver_to_one(&writer, &client, queue).await });
    }
    let mut delivered = 0;
    while let Some(r) = tasks.join_next().await {
        delivered += r.unwrap_or(0);
    }
    delivered
}

/// One receiver's due notifications, in order. After a failure the rest wait
/// for the next poll: a receiver that is down costs one timeout per poll.
async fn deliver_to_one(
    writer: &WriterHandle,
    client: &reqwest::Client,
    queue: Vec<Pending>,
) -> usize {
    let mut delivered = 0;
    for n in queue {
        let result = client
            .post(&n.webhook)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(n.body.clone())
            .send()
            .await;
        let error = match result {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
            // "timed out", "connection refused": the cause, not reqwest's
            // generic "error sending request".
            Err(e) => Some(crate::fetch::classify(e).to_string()),
        };
        match &error {
            None => {
                delivered += 1;
                info!(webhook = %n.webhook, id = n.id, attempts = n.attempts + 1, "webhook delivered");
            }
            Some(e) => {
                warn!(webhook = %n.webhook, id = n.id, attempts = n.attempts + 1, error = %e, "webhook delivery failed; will retry")
            }
        }
        let failed = error.is_some();
        if let Err(e) = writer.notification_attempted(n.id, error).await {
            warn!(error = %e, "cannot record a webhook attempt");
        }
        if failed {
            break;
        }
    }
    delivered
}

/// Polls and delivers until `stop` turns true.
pub async fn run(
    writer: WriterHandle,
    client: reqwest::Client,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        deliver_due(&writer, &client).await;
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = super::stopped(&mut stop) => return,
        }
    }
}

#[cfg(test)]
mod printable_tests {
    #[test]
    fn control_characters_from_a_remote_body_are_escaped() {
        let hostile = "bad\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{7}\r\nforged line";
        let shown = super::printable(hostile, 1000);
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert!(
            shown.contains("\\u{1b}") && shown.contains("\\r\\n"),
            "{shown}"
        );
        assert_eq!(super::printable("abcdef", 3), "abc");
    }
}

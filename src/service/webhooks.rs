//! Webhook delivery. Notifications are queued by the ledger writer in the
//! transaction of the change they report (so they survive restarts); this
//! task POSTs the due ones and records each attempt, with exponential
//! backoff on failure. It never blocks ingestion: it only asks the writer
//! for small updates between fetches.

use std::time::Duration;

use tracing::{info, warn};

use crate::ledger::writer::WriterHandle;

/// How often the queue is polled.
const POLL: Duration = Duration::from_secs(1);
/// Deliveries per poll, at most.
const BATCH: usize = 32;
/// One delivery attempt's time limit.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client for webhooks (its own: a receiver is not a news site).
pub fn client(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(user_agent.to_string())
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .unwrap_or_default()
}

/// Delivers what is due now. Returns how many were delivered.
pub async fn deliver_due(writer: &WriterHandle, client: &reqwest::Client) -> usize {
    let due = match writer.due_notifications(BATCH).await {
        Ok(d) => d,
        Err(e) => {
            warn!(error = %e, "cannot read the webhook queue");
            return 0;
        }
    };
    let mut delivered = 0;
    for n in due {
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
        if let Err(e) = writer.notification_attempted(n.id, error).await {
            warn!(error = %e, "cannot record a webhook attempt");
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

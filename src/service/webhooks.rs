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

/// The HTTP client for webhooks (its own: a receiver is not a news site).
pub fn client(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(user_agent.to_string())
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .unwrap_or_default()
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

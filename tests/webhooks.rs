//! Webhooks: a change is queued in its own transaction, survives a
//! receiver that is down and a restart, and is delivered with the ledger
//! seq and entry hash.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::server::{Page, Server};
use common::{Setup, bin, seed};
use serde_json::Value;

/// The Nordic Monitor article on the test site, and a webhook receiver
/// that answers 503 until told otherwise.
async fn one_article_and_a_receiver_that_is_down() -> (Setup, Server) {
    let s = Setup::new().await;
    let receiver = Server::start().await.unwrap();
    receiver.set("/hook", Page::status(503));
    let a = seed("nordic-monitor");
    s.publish(&a, 0);
    s.write_config("0 0 1 1 *", &[&a.path]);
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text.push_str(&format!(
        "\n[[webhook]]\nurl = \"{}\"\n",
        receiver.url("/hook")
    ));
    std::fs::write(&s.config, text).unwrap();
    (s, receiver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_reaches_a_receiver_that_was_down_across_a_restart() {
    let (s, receiver) = one_article_and_a_receiver_that_is_down().await;

    assert!(s.cli(&["once"]).await.status.success());
    common::publish_quiet_edit(&s);
    // The change happens while the receiver answers 503: queued, attempted, kept.
    let out = s.cli(&["once"]).await;
    assert!(
        common::stderr(&out).contains("webhook delivery failed"),
        "{}",
        common::stderr(&out)
    );
    let posts = |r: &Server| {
        r.hits()
            .into_iter()
            .filter(|h| h.method == "POST")
            .collect::<Vec<_>>()
    };
    assert_eq!(posts(&receiver).len(), 1);
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let (attempts, delivered): (i64, Option<String>) = conn
        .query_row(
            "SELECT attempts, delivered_at FROM notifications",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((attempts, delivered), (1, None));

    // The receiver comes back; a new daemon process delivers from the queue.
    receiver.set("/hook", Page::html("ok"));
    let mut child = tokio::process::Command::new(bin())
        .arg("--config")
        .arg(&s.config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while posts(&receiver).len() < 2 {
        assert!(t0.elapsed() < Duration::from_secs(20), "not redelivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );

    let body: Value = serde_json::from_slice(&posts(&receiver)[1].body).unwrap();
    assert_eq!(body["event"], "changed");
    assert_eq!(body["url"], s.server.url(&seed("nordic-monitor").path));
    assert_eq!(body["from_revision"], 1);
    assert_eq!(body["to_revision"], 2);
    assert_eq!(body["fields"], serde_json::json!(["body"]));
    assert_eq!(body["words_added"], 27);
    assert!(body["diff"][0].as_str().unwrap().contains("Riot Police"));
    let seq = body["seq"].as_i64().unwrap();
    let (kind, hash): (String, String) = conn
        .query_row(
            "SELECT kind, lower(hex(entry_hash)) FROM ledger WHERE seq = ?1",
            [seq],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kind, "revision");
    assert_eq!(body["entry_hash"], hash);
    let delivered: Option<String> = conn
        .query_row("SELECT delivered_at FROM notifications", [], |r| r.get(0))
        .unwrap();
    assert!(delivered.is_some());
}

#[test]
fn backoff_grows_and_is_capped() {
    use newsledger::ledger::writer::backoff;
    let secs = |a| backoff(a, 7).num_milliseconds() as f64 / 1000.0;
    assert!((4.0..=6.0).contains(&secs(0)));
    assert!((8.0..=12.0).contains(&secs(1)));
    assert!(secs(5) > secs(4));
    assert!(secs(40) <= 3600.0 * 1.2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_receiver_does_not_delay_the_others() {
    let s = Setup::new().await;
    // Listed first: a receiver that accepts and never answers (the webhook
    // timeout is 10 s), then a healthy one.
    let dead = Server::start().await.unwrap();
    dead.set(
        "/hook",
        Page::html("late").with_delay(Duration::from_secs(60)),
    );
    let alive = Server::start().await.unwrap();
    alive.set("/hook", Page::html("ok"));
    let a = seed("nordic-monitor");
    s.publish(&a, 0);
    s.write_config("0 0 1 1 *", &[&a.path]);
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    for r in [&dead, &alive] {
        text.push_str(&format!("\n[[webhook]]\nurl = \"{}\"\n", r.url("/hook")));
    }
    std::fs::write(&s.config, text).unwrap();
    assert!(s.cli(&["once"]).await.status.success());
    common::publish_quiet_edit(&s);
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let first_post = |r: &Server| {
        r.hits()
            .into_iter()
            .find(|h| h.method == "POST")
            .map(|h| h.at)
            .expect("a POST")
    };
    let (d, a) = (first_post(&dead), first_post(&alive));
    // Delivered side by side: the healthy receiver did not wait for the
    // dead one's 10 s timeout (one after the other, it would have).
    assert!(
        a.saturating_duration_since(d) < Duration::from_secs(5),
        "the healthy receiver waited {:?}",
        a.saturating_duration_since(d)
    );
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let delivered: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM notifications WHERE delivered_at IS NOT NULL AND webhook = ?1",
            [alive.url("/hook")],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(delivered, 1);
    // The dead receiver's attempt says what happened, not "error sending request".
    let last_error: String = conn
        .query_row(
            "SELECT last_error FROM notifications WHERE webhook = ?1",
            [dead.url("/hook")],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        last_error.contains("timed out") || last_error.contains("timeout"),
        "{last_error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_articles_and_title_changes_are_events_with_both_titles() {
    let s = Setup::new().await;
    let receiver = Server::start().await.unwrap();
    receiver.set("/hook", Page::html("ok"));
    let a = seed("ycpress");
    s.publish(&a, 0);
    s.write_config("0 0 1 1 *", &[&a.path]);
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text.push_str(&format!(
        "\n[[webhook]]\nurl = \"{}\"\nevents = [\"new\", \"changed\", \"restored\"]\n",
        receiver.url("/hook")
    ));
    std::fs::write(&s.config, text).unwrap();
    let out = s.cli(&["once"]).await;
    assert!(out.status.success());
    assert!(
        common::stderr(&out).contains("new article"),
        "{}",
        common::stderr(&out)
    );
    let mut edited = a.clone();
    edited.title = format!("{} (corrected)", a.title);
    s.publish(&edited, 0);
    let out = s.cli(&["once"]).await;
    assert!(out.status.success());
    let bodies: Vec<Value> = receiver
        .hits()
        .into_iter()
        .filter(|h| h.method == "POST")
        .map(|h| serde_json::from_slice(&h.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert_eq!(bodies[0]["event"], "new");
    assert_eq!(bodies[0]["to_revision"], 1);
    assert!(
        bodies[0]["title_to"]
            .as_str()
            .unwrap()
            .contains(&a.title[..20])
    );
    assert_eq!(bodies[1]["event"], "changed");
    assert_eq!(bodies[1]["title_from"], a.title.as_str());
    assert_eq!(bodies[1]["title_to"], edited.title.as_str());
    let log = common::stderr(&out);
    assert!(log.contains("title_to="), "{log}");
    assert!(log.contains("(corrected)"), "{log}");
}

/// The outbox is operational state: a body edited in it (here the revision
/// it reports) is not sent; the row is given up, naming why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_outbox_body_is_never_sent() {
    let (s, receiver) = one_article_and_a_receiver_that_is_down().await;
    assert!(s.cli(&["once"]).await.status.success());
    common::publish_quiet_edit(&s);
    assert!(s.cli(&["once"]).await.status.success());
    let posts = |r: &Server| r.hits().into_iter().filter(|h| h.method == "POST").count();
    assert_eq!(
        posts(&receiver),
        1,
        "attempted once while the receiver was down"
    );

    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let body: String = conn
        .query_row("SELECT body FROM notifications", [], |r| r.get(0))
        .unwrap();
    assert!(body.contains("\"to_revision\":2"), "{body}");
    // A true body, queued for a receiver nobody configured.
    conn.execute(
        "INSERT INTO notifications (webhook, seq, body, created_at, next_attempt_at)
         SELECT ?1, seq, body, created_at, '2000-01-01T00:00:00.000Z' FROM notifications",
        [receiver.url("/elsewhere")],
    )
    .unwrap();
    conn.execute(
        "UPDATE notifications SET body = replace(body, '\"to_revision\":2', '\"to_revision\":3'),
                next_attempt_at = '2000-01-01T00:00:00.000Z'",
        [],
    )
    .unwrap();
    drop(conn);
    receiver.set("/hook", Page::html("ok"));
    let out = s.cli(&["once"]).await;
    assert!(
        common::stderr(&out).contains("webhook notification not sent"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(posts(&receiver), 1, "the forged body was not sent");
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let rows: Vec<(String, Option<String>, String)> = conn
        .prepare("SELECT webhook, gave_up_at, last_error FROM notifications ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.1.is_some()), "{rows:?}");
    assert!(
        rows[0].2.contains("does not record this changed"),
        "{rows:?}"
    );
    assert!(
        rows[1].2.contains("is not a configured webhook"),
        "{rows:?}"
    );
}

/// An edit's substance in the outbox is checked too: a body whose
/// significance was lowered (a substantive edit passed off as trivial) is
/// not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_significance_is_never_sent() {
    let (s, receiver) = one_article_and_a_receiver_that_is_down().await;
    assert!(s.cli(&["once"]).await.status.success());
    common::publish_quiet_edit(&s);
    assert!(s.cli(&["once"]).await.status.success());
    let posts = |r: &Server| r.hits().into_iter().filter(|h| h.method == "POST").count();
    assert_eq!(posts(&receiver), 1);
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let level: Option<String> = conn
        .query_row(
            "SELECT json_extract(body, '$.significance') FROM notifications",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        level.is_some(),
        "an edit's notification says how much it matters"
    );
    conn.execute(
        "UPDATE notifications SET body = json_set(body, '$.significance',
                CASE WHEN json_extract(body, '$.significance') = 'trivial' THEN 'substantive' ELSE 'trivial' END),
                next_attempt_at = '2000-01-01T00:00:00.000Z'",
        [],
    )
    .unwrap();
    drop(conn);
    receiver.set("/hook", Page::html("ok"));
    let out = s.cli(&["once"]).await;
    assert!(
        common::stderr(&out).contains("webhook notification not sent"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(posts(&receiver), 1, "the forged body was not sent");
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let error: String = conn
        .query_row("SELECT last_error FROM notifications", [], |r| r.get(0))
        .unwrap();
    assert!(
        error.contains("its significance or metadata is not what revisions 1 and 2"),
        "{error}"
    );
}

//! The journalist's desk on the command line: the article list, search
//! over every revision, what a page said at a time, "did you mean".

mod common;

use common::{stderr, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn articles_search_and_show_at_answer_from_the_record() {
    let s = common::two_articles_fetched_twice().await;
    common::publish_quiet_edit(&s);
    assert!(s.cli(&["once"]).await.status.success());
    let edited = s.server.url(&common::seed("nordic-monitor").path);

    // The list: both articles, the edited one `changed` with 2 revisions.
    let all = s.json(&["articles", "--json"]).await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    let row = all.iter().find(|a| a["url"] == edited.as_str()).unwrap();
    assert_eq!(row["status"], "changed");
    assert_eq!(row["revisions"], 2);
    assert!(row["title"].as_str().unwrap().len() > 10);
    assert!(row["last_change"].is_string());
    let changed = s.json(&["articles", "--status", "changed", "--json"]).await;
    assert_eq!(changed.as_array().unwrap().len(), 1);
    let none = s.json(&["articles", "--source", "nope", "--json"]).await;
    assert!(none.as_array().unwrap().is_empty());

    // A sentence the edit added: first in revision 2, still shown.
    let added = newsledger::demo::site::NORDIC_ADDED_PARAGRAPH;
    let phrase: String = added
        .split_whitespace()
        .take(8)
        .collect::<Vec<_>>()
        .join(" ");
    let hits = s.json(&["search", &phrase, "--json"]).await;
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["url"], edited.as_str());
    assert_eq!(hits[0]["first_revision"], 2);
    assert_eq!(hits[0]["present"], true);
    assert_eq!(hits[0]["revisions"], serde_json::json!([2]));
    // The page reverts: the sentence was removed, in the revision it went back to.
    s.publish(&common::seed("nordic-monitor"), 0);
    assert!(s.cli(&["once"]).await.status.success());
    let hits = s.json(&["search", &phrase, "--json"]).await;
    assert_eq!(hits[0]["present"], false);
    assert_eq!(hits[0]["removed_in"], 1);
    assert_eq!(hits[0]["removed_by"], "reverted");
    let text = stdout(&s.cli(&["search", &phrase]).await);
    assert!(
        text.contains("removed when the page went back to revision 1"),
        "{text}"
    );
    assert!(hits[0]["removed_at"].as_str().unwrap() > hits[0]["last_seen"].as_str().unwrap());
    // Words that are not a phrase in order, or not there at all: nothing.
    assert!(
        s.json(&["search", "zzqx unknownword", "--json"])
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The index is derived: deleted, it is rebuilt and answers the same.
    std::fs::remove_file(format!("{}.search", s.db.display())).unwrap();
    assert_eq!(
        s.json(&["search", &phrase, "--json"]).await[0]["removed_in"],
        1
    );

    // Names as readers type them: without the marks or Turkish letters the
    // article writes ("Recep Tayyip Erdoğan"), or in capitals.
    for typed in ["Tayyip Erdogan", "TAYYIP ERDOĞAN", "tayyip erdoğan"] {
        let hits = s.json(&["search", typed, "--json"]).await;
        let urls: Vec<&str> = hits
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|h| h["url"].as_str())
            .collect();
        assert_eq!(urls, vec![edited.as_str()], "{typed}");
    }

    // Pages of hits: a word both articles hold, one article at a time; only
    // the page's hits are confirmed, and the rest is announced.
    let both = s.json(&["search", "the", "--json"]).await;
    assert_eq!(both.as_array().unwrap().len(), 2, "{both}");
    let first = s.json(&["search", "the", "--limit", "1", "--json"]).await;
    let second = s
        .json(&["search", "the", "--limit", "1", "--offset", "1", "--json"])
        .await;
    assert_eq!(first.as_array().unwrap().len(), 1);
    assert_eq!(second.as_array().unwrap().len(), 1);
    assert_ne!(first[0]["url"], second[0]["url"]);
    let text = stdout(&s.cli(&["search", "the", "--limit", "1"]).await);
    assert!(
        text.contains("more articles may hold it: --offset 1"),
        "{text}"
    );

    // show --at: what the page showed then, with the observations around it.
    let history = s.json(&["history", &edited, "--json"]).await;
    let rev2_seen = history
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["revision"] == 2)
        .unwrap()["first_seen"]
        .clone();
    let at = s
        .json(&[
            "show",
            &edited,
            "--at",
            rev2_seen.as_str().unwrap(),
            "--json",
        ])
        .await;
    assert_eq!(at["revision"], 2);
    assert_eq!(at["observed_before"], rev2_seen);
    assert!(at["observed_after"].is_string());
    assert!(at["article"]["text"].as_str().unwrap().contains(&phrase));
    let early = s.cli(&["show", &edited, "--at", "2001-01-01"]).await;
    assert_eq!(early.status.code(), Some(2), "{}", stderr(&early));
    // A duration is not a time: the error names the flag given.
    let duration = s.cli(&["show", &edited, "--at", "1e3h"]).await;
    assert_eq!(duration.status.code(), Some(2));
    assert!(
        stderr(&duration).contains("--at") && !stderr(&duration).contains("--since"),
        "{}",
        stderr(&duration)
    );
    // A revision the article does not have: the same usage error from
    // `show` and from `prove`.
    let bundle = s.db.with_extension("wacz");
    for args in [
        vec!["show", &edited, "--rev", "77"],
        vec![
            "prove",
            &edited,
            "--rev",
            "77",
            "-o",
            bundle.to_str().unwrap(),
        ],
    ] {
        let out = s.cli(&args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("has no revision 77 (it has 1 to 2)"),
            "{args:?}: {}",
            stderr(&out)
        );
    }

    // A URL with a typo: one line, exit 2, and the article it resembles.
    let typo = format!("{}x", edited.trim_end_matches('/'));
    let out = s.cli(&["history", &typo]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean"), "{}", stderr(&out));
    assert!(stderr(&out).contains(&edited), "{}", stderr(&out));
    // Any normalized form of the URL works.
    let upper = edited.replace("http://", "HTTP://") + "?utm_source=x";
    assert!(s.cli(&["show", &upper]).await.status.success());

    // The list is folded from the chain: a forged derived row changes
    // nothing it prints, and `verify` names the row.
    let before = stdout(&s.cli(&["articles"]).await);
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    conn.execute("UPDATE articles SET revision = 7 WHERE url = ?1", [&edited])
        .unwrap();
    drop(conn);
    let out = s.cli(&["articles"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), before);
    let v = s.cli(&["verify"]).await;
    assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
    assert!(stdout(&v).contains("table articles"), "{}", stdout(&v));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_defaults_to_the_latest_text_change_and_shows_it_in_context() {
    let s = common::two_articles_fetched_twice().await;
    common::publish_quiet_edit(&s);
    assert!(s.cli(&["once"]).await.status.success());
    // Then only the modified date changes: a metadata revision.
    let mut edited = common::seed("nordic-monitor");
    edited.blocks.push(newsledger::demo::site::Block::Paragraph(
        newsledger::demo::site::NORDIC_ADDED_PARAGRAPH.into(),
    ));
    edited.modified = Some("2026-11-20T10:00:00+01:00".into());
    s.publish(&edited, 0);
    assert!(s.cli(&["once"]).await.status.success());
    let url = s.server.url(&edited.path);
    let d = s.json(&["diff", &url, "--json"]).await;
    assert_eq!(
        (d["from"].as_i64(), d["to"].as_i64()),
        (Some(1), Some(2)),
        "{d}"
    );
    assert!(d["words_added"].as_u64().unwrap() > 10);
    let text = stdout(&s.cli(&["diff", &url, "--color", "never"]).await);
    assert!(text.contains("{+The Turkish"), "{text}");
    let first_words: String = edited_first_paragraph(&s, &url).await;
    assert!(
        !text.contains(&first_words),
        "context only, not the whole article: {text}"
    );
    let full = stdout(&s.cli(&["diff", &url, "--color", "never", "--full"]).await);
    assert!(full.contains(&first_words));
    // Reversed, the same alignment mirrored.
    let back = s
        .json(&["diff", &url, "--from", "2", "--to", "1", "--json"])
        .await;
    assert_eq!(back["words_removed"], d["words_added"]);
    assert_eq!(back["words_added"], d["words_removed"]);
}

async fn edited_first_paragraph(s: &common::Setup, url: &str) -> String {
    let shown = s.json(&["show", url, "--rev", "1", "--json"]).await;
    shown["article"]["text"]
        .as_str()
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .split_whitespace()
        .take(8)
        .collect::<Vec<_>>()
        .join(" ")
}

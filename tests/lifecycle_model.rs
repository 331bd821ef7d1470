//! The article lifecycle proven against a reference model.
//!
//! Random sequences of page versions (text × modified date), 304s, 404/410s,
//! server and network errors, and crashes (a transaction cut off before its
//! commit, then the writer reopened) are applied by the real writer to a
//! real SQLite file. A small model says what must be recorded and flagged.
//! After every step: every fetch is in the ledger, revision numbers are
//! unique and increasing (1..n), outcomes and flags match the model,
//! `verify` passes (chain, contradictions, and the derived tables against
//! the fold of the chain), and the article's timeline read back from the
//! chain has the model's spans, in order and without overlap.
//!
//! Each report is prepared before the writer as the cycle prepares it, with
//! a hint of the article's current version that is absent, current or stale;
//! retention runs (`raw_max_age = 0`) are interleaved with the fetches, and
//! unchanged refetches are stored as compact entries: after every step every
//! revision's text reads back whole and the current capture is kept. A second
//! property applies the same reports one transaction each and in random
//! group commits, and requires the same entries and outcomes; a third does
//! the same with fetches that fail inside the group (a trigger aborts their
//! statement or rolls back the whole transaction).
//!
//! `PROPTEST_CASES` raises the number of sequences; `bench/fuzz.sh` runs it long.

mod common;

use std::path::Path;

use chrono::Utc;
use common::response;
use newsledger::config::{ExtractOverrides, KeepRaw};
use newsledger::fetch::{FetchError, FetchResult};
use newsledger::ledger::storage::postgres::PgStorage;
use newsledger::ledger::storage::sqlite::SqliteStorage;
use newsledger::ledger::storage::{replica, summarize};
use newsledger::ledger::writer::prepare::{Hint, prepare};
use newsledger::ledger::writer::{Applied, FetchReport, Writer};
use newsledger::ledger::{self, Kind, read, verify};
use newsledger::note::Signer;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const URL: &str = "http://127.0.0.1:9/2026/11/model-article/";

#[derive(Debug, Clone, Copy)]
enum Step {
    /// The page answers 200 with body text `text` and modified date `date`
    /// (0 = none).
    Serve {
        text: u8,
        date: u8,
    },
    NotModified,
    NotFound(u16),
    ServerError,
    NetworkError,
    /// A transaction cut off before its commit; the writer reopens.
    Crash,
    /// The writer is asked for a signed checkpoint (as after a cycle).
    Checkpoint,
    /// Retention with `raw_max_age = 0`: every capture that is not the
    /// current revision's (nor a base of one kept) is removed through a
    /// `pruned` entry.
    Prune,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u8..4, 0u8..3).prop_map(|(text, date)| Step::Serve { text, date }),
        2 => Just(Step::NotModified),
        2 => prop_oneof![Just(404u16), Just(410u16)].prop_map(Step::NotFound),
        1 => Just(Step::ServerError),
        1 => Just(Step::NetworkError),
        1 => Just(Step::Crash),
        2 => Just(Step::Checkpoint),
        1 => Just(Step::Prune),
    ]
}

/// What must be recorded: revisions by (text, date), what the page shows
/// now, and whether it is gone.
#[derive(Debug, Default)]
struct Model {
    revisions: Vec<(u8, u8)>,
    current: Option<usize>,
    shown: Option<(u8, u8)>,
    gone: bool,
    fetches: usize,
    /// The timeline: how each span began.
    spans: Vec<&'static str>,
    /// Signed checkpoints expected in the ledger.
    checkpoints: usize,
    /// Whether an entry other than a checkpoint was appended since the last
    /// checkpoint (the genesis entry counts).
    dirty: bool,
}

/// The expected outcome and flags of one fetch.
type Expect = (&'static str, Vec<&'static str>);

impl Model {
    fn apply(&mut self, step: Step) -> Option<Expect> {
        if matches!(step, Step::Crash | Step::Prune) {
            // A prune may append a `pruned` entry: the next checkpoint then
            // has something new to sign, or not; the test reads which.
            return None;
        }
        if matches!(step, Step::Checkpoint) {
            if self.dirty {
                self.checkpoints += 1;
                self.dirty = false;
            }
            return None;
        }
        self.dirty = true;
        self.fetches += 1;
        let known = self.current.is_some();
        let mut flags = vec![];
        let restore = |m: &mut Model, flags: &mut Vec<&'static str>| {
            if m.gone {
                m.gone = false;
                flags.push("restored");
                m.spans.push("restored");
            }
        };
        let outcome = match step {
            Step::Serve { text, date } if !known => {
                flags.push("new");
                self.revisions.push((text, date));
                self.current = Some(1);
                self.shown = Some((text, date));
                self.spans.push("new");
                "new"
            }
            Step::Serve { text, date } => {
                let came_back = self.gone;
                restore(self, &mut flags);
                if came_back && self.shown != Some((text, date)) {
                    // Back with another version: one span, of that change.
                    self.spans.pop();
                }
                let shown = self.shown.expect("known");
                if shown == (text, date) {
                    "unchanged"
                } else {
                    let earlier = self.revisions.iter().rposition(|r| r.0 == text);
                    if shown.0 == text {
                        self.revisions.push((text, date));
                        self.current = Some(self.revisions.len());
                        flags.push("metadata");
                        self.spans.push("metadata");
                    } else if let Some(k) = earlier {
                        self.current = Some(k + 1);
                        flags.push("reverted");
                        self.spans.push("reverted");
                    } else {
                        self.revisions.push((text, date));
                        self.current = Some(self.revisions.len());
                        flags.push("changed");
                        self.spans.push("changed");
                    }
                    self.shown = Some((text, date));
                    "changed"
                }
            }
            Step::NotModified => {
                if known {
                    restore(self, &mut flags);
                }
                "not_modified"
            }
            Step::NotFound(_) if known => {
                if !self.gone {
                    self.gone = true;
                    flags.push("gone");
                    self.spans.push("gone");
                }
                "gone"
            }
            Step::NotFound(_) | Step::ServerError | Step::NetworkError => "failed",
            Step::Crash | Step::Checkpoint | Step::Prune => unreachable!(),
        };
        Some((outcome, flags))
    }
}

const TEXTS: [&str; 4] = [
    "The council approved the harbour plan after a long debate on Tuesday evening.",
    "The council rejected the harbour plan after a long debate on Tuesday evening.",
    "The council postponed its vote on the harbour plan until the spring session.",
    "Correction: the council approved an amended harbour plan, not the original one.",
];

fn page(text: u8, date: u8) -> String {
    let modified = match date {
        0 => String::new(),
        d => format!(
            r#"<meta property="article:modified_time" content="2026-11-0{d}T10:00:00+01:00">"#
        ),
    };
    let filler = "Residents of the old town followed the session from the gallery, and several \
                  speakers asked for more time to study the costs of dredging the inner basin.";
    format!(
        r#"<!doctype html><html><head><title>Harbour plan | Coast Gazette</title>
<meta property="article:published_time" content="2026-11-01T09:00:00+01:00">{modified}</head>
<body><nav><a href="/">Home</a> <a href="/local">Local</a></nav>
<article><h1>Harbour plan</h1><p class="byline">By Ana Ruiz</p>
<p>{}</p><p>{filler}</p><p>{filler} The mayor said the city would publish the figures.</p>
<p>Opponents argued that the plan favoured large cruise ships over the fishing fleet, which has used the basin for two centuries.</p>
</article><footer>© Coast Gazette</footer></body></html>"#,
        TEXTS[text as usize]
    )
}

fn report(step: Step) -> FetchReport {
    let now = Utc::now();
    let overrides = ExtractOverrides::default();
    let (resp, article) = match step {
        Step::Serve { text, date } => {
            let html = page(text, date);
            let a = newsledger::extract::extract(&html, Some(URL), &overrides);
            (Ok(response(200, &html)), Some(a))
        }
        Step::NotModified => (Ok(response(304, "")), None),
        Step::NotFound(code) => (Ok(response(code, "<h1>Not found</h1>")), None),
        Step::ServerError => (Ok(response(503, "busy")), None),
        Step::NetworkError | Step::Crash | Step::Checkpoint | Step::Prune => (
            Err(FetchError {
                class: "connect",
                message: "connection refused".into(),
            }),
            None,
        ),
    };
    FetchReport {
        source: "model".into(),
        keep_raw: KeepRaw::Revisions,
        result: FetchResult {
            requested_url: URL.into(),
            final_url: URL.into(),
            started_at: now,
            finished_at: now,
            response: resp,
            retries: vec![],
        },
        article,
        skipped: None,
        overrides,
        prepared: Default::default(),
        vantage: None,
    }
}

/// What the cycle reads before fetching: the article's current version.
fn current_hint(path: &Path) -> Option<Hint> {
    let conn = ledger::open_read_only(path).ok()?;
    conn.query_row(
        "SELECT content_hash, field_hashes, text_blob, raw_blob FROM articles LIMIT 1",
        [],
        |r| {
            Ok(Hint {
                content_hash: r.get(0)?,
                field_hashes: serde_json::from_str(&r.get::<_, String>(1)?).unwrap_or_default(),
                text_blob: r.get(2)?,
                raw_blob: r.get(3)?,
            })
        },
    )
    .ok()
}

/// A report prepared before the writer as the cycle prepares it, with a
/// hint that is absent, current, or stale (read several steps ago): the
/// writer must record the same whichever it gets.
fn prepared_report(step: Step, path: &Path, hint: u8, history: &[Option<Hint>]) -> FetchReport {
    let mut r = report(step);
    let hint = match hint {
        0 => None,
        1 => current_hint(path),
        _ => history.get(history.len() / 2).cloned().flatten(),
    };
    r.prepared = prepare(&r, hint.as_ref(), || ledger::open_read_only(path).ok());
    r
}

/// A crash in the middle of a transaction: entries appended, never committed.
fn crash_mid_transaction(path: &Path) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    ledger::append(
        &tx,
        Kind::Fetch,
        Some(URL),
        &serde_json::json!({"requested_url": URL, "outcome": "unchanged", "source": "model"}),
        Utc::now(),
    )
    .unwrap();
    drop(tx); // rolled back, as SQLite's journal does after a crash
}

fn check(
    path: &Path,
    model: &Model,
    step: Step,
    applied: Option<&Applied>,
    expect: Option<Expect>,
) {
    let conn = ledger::open_read_only(path).unwrap();
    if let (Some(a), Some((outcome, flags))) = (applied, expect) {
        assert_eq!(
            a.outcome.as_str(),
            outcome,
            "outcome of {step:?} ({model:?})"
        );
        let got: Vec<&str> = a.flags.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(got, flags, "flags of {step:?} ({model:?})");
        if let Some(rev) = model.current.filter(|_| outcome != "failed") {
            assert_eq!(a.revision, Some(rev as i64), "revision after {step:?}");
        }
    }
    let fetches: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM ledger WHERE kind = 'fetch'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        fetches as usize, model.fetches,
        "every fetch is in the ledger"
    );
    let numbers: Vec<i64> = conn
        .prepare("SELECT json_extract(iif(typeof(payload) = 'text', payload, NULL), '$.revision') FROM ledger WHERE kind = 'revision' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let expected: Vec<i64> = (1..=model.revisions.len() as i64).collect();
    assert_eq!(numbers, expected, "revision numbers are 1..n in order");

    let report = verify::verify(&conn, None).unwrap();
    assert!(
        report.ok() && report.derived_checked,
        "verify after {step:?}: {:?} {:?} {:?}",
        report.first_break,
        report.anomalies,
        report.derived.first()
    );
    if model.current.is_none() {
        return;
    }
    let record = read::article(&conn, URL).unwrap();
    assert_eq!(record.current(), model.current.map(|c| c as i64));
    let history = record.history();
    let kinds: Vec<&str> = history.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, model.spans, "timeline after {step:?}");
    for w in history.windows(2) {
        assert!(
            w[0].seq < w[1].seq && w[0].last_seen <= w[1].first_seen,
            "spans overlap: {history:?}"
        );
    }
    // The text shown is the one the model says the page showed.
    let (_, article) = record.revision(&conn, None).unwrap().unwrap();
    let (text, _) = model.revisions[model.current.unwrap() - 1];
    assert!(article.text.contains(TEXTS[text as usize]), "current text");
    // Every revision's text reads back whole (deltas resolved), and the
    // current revision's capture survives retention.
    for rev in 1..=model.revisions.len() as i64 {
        let (_, a) = record.revision(&conn, Some(rev)).unwrap().unwrap();
        let (t, _) = model.revisions[rev as usize - 1];
        assert!(
            a.text.contains(TEXTS[t as usize]),
            "revision {rev} after {step:?}"
        );
    }
    let raw: Option<String> = conn
        .query_row("SELECT raw_blob FROM articles", [], |r| r.get(0))
        .unwrap();
    if let Some(raw) = raw {
        ledger::blobs::get(&conn, &raw).expect("the current revision's capture");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_writer_records_what_the_model_says(
        steps in prop::collection::vec(step(), 1..28),
        hints in prop::collection::vec(0u8..3, 28),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        follow_the_model(&path, steps, hints, &|p| Writer::open(p).unwrap())?;
        // Rebuilding from the chain changes nothing.
        let r = ledger::rebuild(&path, false).unwrap();
        prop_assert_eq!(r.differed, 0);
    }
}

#[path = "support/postgres.rs"]
#[allow(dead_code)]
mod pg;

/// The same model, the ledger a replica of a PostgreSQL one: every step's
/// entries reach PostgreSQL before the replica holds them, a crash
/// mid-transaction and a reopening pull nothing twice, and at the end
/// PostgreSQL and the replica are one log, which a new replica made from
/// PostgreSQL alone folds to the same rows (retention is not offered on
/// PostgreSQL: its steps are left out). One server for every case, a
/// database each; stopped when the cases end.
#[test]
fn the_writer_records_what_the_model_says_into_postgres() {
    let Some(server) = pg::Postgres::start() else {
        return;
    };
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(16);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        max_shrink_iters: 50,
        ..ProptestConfig::default()
    });
    let steps = prop::collection::vec(
        step().prop_filter("no retention on PostgreSQL", |s| !matches!(s, Step::Prune)),
        1..28,
    );
    let hints = prop::collection::vec(0u8..3, 28);
    let outcome = runner.run(&(steps, hints), |(steps, hints)| {
        let url = server.database();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replica.db");
        follow_the_model(&path, steps, hints, &|p| {
            Writer::open_replica(p, &url).unwrap()
        })?;
        let shared = summarize(&mut PgStorage::open_existing(&url).unwrap()).unwrap();
        let replica = summarize(&mut SqliteStorage::open_read_only(&path).unwrap()).unwrap();
        prop_assert_eq!(&shared, &replica);
        let fresh = dir.path().join("fresh.db");
        replica::follow(&url, &fresh).unwrap();
        let copied = summarize(&mut SqliteStorage::open_read_only(&fresh).unwrap()).unwrap();
        prop_assert_eq!(copied, shared);
        let conn = ledger::open_read_only(&fresh).unwrap();
        let report = ledger::verify::verify(&conn, None).unwrap();
        prop_assert!(
            report.ok(),
            "a replica made from PostgreSQL does not verify: {:?}",
            report.first_break
        );
        let r = ledger::rebuild(&path, false).unwrap();
        prop_assert_eq!(r.differed, 0);
        Ok(())
    });
    drop(server);
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// Applies `steps` through a writer `open` gives, checking each against
/// the model.
fn follow_the_model(
    path: &Path,
    steps: Vec<Step>,
    hints: Vec<u8>,
    open: &dyn Fn(&Path) -> Writer,
) -> Result<(), TestCaseError> {
    let mut writer = open(path);
    let mut model = Model {
        dirty: true,
        ..Model::default()
    };
    let signer = Signer::generate("model.test/log").unwrap();
    let mut history: Vec<Option<Hint>> = Vec::new();
    for (i, step) in steps.into_iter().enumerate() {
        let before = model.checkpoints;
        let expect = model.apply(step);
        let expected_new = model.checkpoints > before;
        let applied = match step {
            Step::Crash => {
                drop(writer);
                crash_mid_transaction(path);
                writer = open(path);
                None
            }
            Step::Prune => {
                let p = writer
                    .retain("model", std::time::Duration::ZERO, Utc::now())
                    .unwrap();
                if p.is_some_and(|p| p.seq.is_some()) {
                    model.dirty = true;
                }
                None
            }
            Step::Checkpoint => {
                let made = writer
                    .checkpoint(&signer, "model.test/log", None, Utc::now())
                    .unwrap();
                prop_assert_eq!(made.is_some(), expected_new, "checkpoint after {:?}", model);
                None
            }
            _ => Some(
                writer
                    .apply(&prepared_report(step, path, hints[i], &history))
                    .unwrap(),
            ),
        };
        history.push(current_hint(path));
        check(path, &model, step, applied.as_ref(), expect);
        check_proofs(path, &model, &signer);
    }
    drop(writer);
    Ok(())
}

/// Every checkpoint in the ledger: as many as the model expects, signed by
/// the key, with the root of the leaves up to its size, and consistent with
/// the tree now (a consistency proof from the stored nodes verifies).
fn check_proofs(path: &Path, model: &Model, signer: &Signer) {
    use newsledger::ledger::checkpoints as log;
    use newsledger::ledger::merkle;
    use newsledger::note::Note;
    let conn = ledger::open_read_only(path).unwrap();
    let all = log::all(&conn).unwrap();
    assert_eq!(all.len(), model.checkpoints, "checkpoints made");
    let leaves: Vec<merkle::Hash> = conn
        .prepare("SELECT entry_hash FROM ledger ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|h| h.unwrap().try_into().unwrap())
        .collect();
    let n = leaves.len() as u64;
    let root = log::root(&conn, n).unwrap();
    assert_eq!(root, merkle::naive_root(&leaves), "stored tree root");
    let v = signer.verifier();
    for cp in &all {
        Note::parse(&cp.note).unwrap().verify(&v).unwrap();
        assert_eq!(
            cp.body.size,
            cp.seq as u64 - 1,
            "a checkpoint covers every entry before it"
        );
        assert_eq!(
            cp.body.root,
            merkle::naive_root(&leaves[..cp.body.size as usize])
        );
        let proof = log::consistency(&conn, cp.body.size, n).unwrap();
        merkle::verify_consistency(cp.body.size, n, &cp.body.root, &root, &proof).unwrap();
        let inc = log::inclusion(&conn, cp.seq, n).unwrap();
        merkle::verify_inclusion(
            &leaves[cp.seq as usize - 1],
            cp.seq as u64 - 1,
            n,
            &inc,
            &root,
        )
        .unwrap();
    }
}

/// The defect that started this: A → B → A → C lost C and every later edit.
#[test]
fn an_edit_after_a_reversion_gets_the_next_unused_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut writer = Writer::open(&path).unwrap();
    let mut revs = vec![];
    for text in [0, 1, 0, 2, 3, 0] {
        let a = writer
            .apply(&report(Step::Serve { text, date: 0 }))
            .unwrap();
        revs.push(a.revision.unwrap());
    }
    assert_eq!(revs, [1, 2, 1, 3, 4, 1]);
    drop(writer);
    let conn = ledger::open_read_only(&path).unwrap();
    assert!(verify::verify(&conn, None).unwrap().ok());
}

/// The entries of a ledger after genesis, without the times they were
/// recorded at: what two writers given the same reports must agree on.
fn entries_after_genesis(path: &Path) -> Vec<(String, Option<String>, String)> {
    let conn = ledger::open_read_only(path).unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {} FROM ledger WHERE seq > 1 ORDER BY seq",
            ledger::Entry::COLUMNS
        ))
        .unwrap();
    stmt.query_map([], ledger::Entry::from_row)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            // A compact entry stores its times relative to when it was
            // recorded (to the millisecond): compare the rest of its view.
            let payload = match &e.compact {
                Some(_) => {
                    let mut v: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
                    let o = v.as_object_mut().unwrap();
                    o.remove("started_at");
                    o.remove("finished_at");
                    v.to_string()
                }
                None => e.payload,
            };
            (e.kind, e.url, payload)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Group commits (several fetches, one transaction)
    /// record exactly what one transaction per fetch records, whatever the
    /// grouping: the same entries in the same order, the same outcomes, and
    /// a ledger that verifies.
    #[test]
    fn a_group_commit_records_what_single_commits_record(
        steps in prop::collection::vec(step(), 1..20),
        cuts in prop::collection::vec(any::<bool>(), 20),
    ) {
        let reports: Vec<FetchReport> = steps
            .into_iter()
            .filter(|s| !matches!(s, Step::Crash | Step::Checkpoint))
            .map(report)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("single.db"), dir.path().join("grouped.db"));
        let mut single = Writer::open(&a).unwrap();
        let one: Vec<&'static str> = reports
            .iter()
            .map(|r| single.apply(r).unwrap().outcome.as_str())
            .collect();
        let mut grouped = Writer::open(&b).unwrap();
        let mut many = Vec::new();
        let mut group: Vec<&FetchReport> = Vec::new();
        for (i, r) in reports.iter().enumerate() {
            group.push(r);
            if cuts[i] || i + 1 == reports.len() {
                for applied in grouped.apply_group(&group) {
                    many.push(applied.unwrap().outcome.as_str());
                }
                group.clear();
            }
        }
        prop_assert_eq!(one, many);
        prop_assert_eq!(entries_after_genesis(&a), entries_after_genesis(&b));
        let conn = ledger::open_read_only(&b).unwrap();
        let report = verify::verify(&conn, None).unwrap();
        prop_assert!(report.ok(), "{:?} {:?}", report.first_break, report.derived.first());
    }
}

/// How a report of the failure property ends: recorded, refused by a
/// trigger that aborts its statement, or by one that rolls back the
/// whole transaction (as SQLite does itself on a full disk).
#[derive(Debug, Clone, Copy)]
enum Fate {
    Recorded,
    Aborted,
    RolledBack,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![6 => Just(Fate::Recorded), 1 => Just(Fate::Aborted), 1 => Just(Fate::RolledBack)]
}

/// A ledger whose fetch-state rows refuse the sources "aborted" (the
/// statement fails) and "rolled-back" (the transaction is rolled back):
/// the fetch fails after its entries were appended, inside its transaction.
fn refusing_writer(path: &Path) -> Writer {
    let writer = Writer::open(path).unwrap();
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER test_abort BEFORE INSERT ON fetch_state WHEN NEW.source = 'aborted'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;
             CREATE TRIGGER test_rollback BEFORE INSERT ON fetch_state WHEN NEW.source = 'rolled-back'
             BEGIN SELECT RAISE(ROLLBACK, 'rolled back by the test'); END;",
        )
        .unwrap();
    writer
}

fn outcome(applied: newsledger::ledger::Result<Applied>) -> Result<&'static str, ()> {
    applied.map(|a| a.outcome.as_str()).map_err(|_| ())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A fetch that fails inside a group commit (its statement aborted, or
    /// its whole transaction rolled back by SQLite) leaves nothing of
    /// itself, and every other fetch of the group is recorded as one
    /// transaction per fetch would record it: the same outcomes, failures
    /// at the same places, the same entries, and a ledger that verifies.
    #[test]
    fn a_failed_fetch_in_a_group_costs_only_itself(
        steps in prop::collection::vec((step(), fate()), 1..16),
        cuts in prop::collection::vec(any::<bool>(), 16),
    ) {
        let reports: Vec<FetchReport> = steps
            .into_iter()
            .filter(|(s, _)| !matches!(s, Step::Crash | Step::Checkpoint | Step::Prune))
            .map(|(s, f)| {
                let mut r = report(s);
                r.source = match f {
                    Fate::Recorded => "model",
                    Fate::Aborted => "aborted",
                    Fate::RolledBack => "rolled-back",
                }
                .into();
                r
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("single.db"), dir.path().join("grouped.db"));
        let mut single = refusing_writer(&a);
        let one: Vec<_> = reports.iter().map(|r| outcome(single.apply(r))).collect();
        let mut grouped = refusing_writer(&b);
        let mut many = Vec::new();
        let mut group: Vec<&FetchReport> = Vec::new();
        for (i, r) in reports.iter().enumerate() {
            group.push(r);
            if cuts[i] || i + 1 == reports.len() {
                many.extend(grouped.apply_group(&group).into_iter().map(outcome));
                group.clear();
            }
        }
        // A refused fetch fails, whichever way it was refused.
        for (r, o) in reports.iter().zip(&one) {
            prop_assert_eq!(r.source == "model", o.is_ok(), "{} {:?}", r.source, o);
        }
        prop_assert_eq!(&one, &many);
        prop_assert_eq!(entries_after_genesis(&a), entries_after_genesis(&b));
        let conn = ledger::open_read_only(&b).unwrap();
        let report = verify::verify(&conn, None).unwrap();
        prop_assert!(report.ok(), "{:?} {:?}", report.first_break, report.derived.first());
    }
}

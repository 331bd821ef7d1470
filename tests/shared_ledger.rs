//! A ledger in PostgreSQL, end to end: the daemon records into a real
//! PostgreSQL server (started by the test from Debian's binaries on a
//! loopback port) through its replica, and every command that reads a
//! ledger reads the PostgreSQL one with `--db postgres://…` exactly as it
//! reads a SQLite file. The server is killed mid-cycle and restarted; two
//! writers append at once; a database rewritten under its replica, and a
//! replica pointed at another ledger, are refused.

mod common;
#[path = "support/postgres.rs"]
mod pg;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use clap::CommandFactory;
use common::{Setup, server::Page};
use newsledger::demo::site::{self, SeedArticle};
use newsledger::ledger::storage::postgres::PgStorage;
use newsledger::ledger::storage::sqlite::SqliteStorage;
use newsledger::ledger::storage::summarize;

/// The test site's articles: the five seeds, each under `copies` paths.
fn articles(copies: usize) -> Vec<SeedArticle> {
    let mut out = Vec::new();
    for n in 0..copies {
        for mut a in site::seeds() {
            if n > 0 {
                a.path = format!("{}-{n}", a.path);
            }
            out.push(a);
        }
    }
    out
}

/// A site with `articles`, and a configuration whose ledger is the
/// PostgreSQL database `url` (replica: the setup's `ledger.db`).
fn shared_setup(s: &Setup, url: &str, articles: &[SeedArticle], delay: Duration) {
    for a in articles {
        let page = site::render(a, &s.server.url(&a.path), &site::Chrome::visit(0));
        s.server.set(&a.path, Page::html(page).with_delay(delay));
    }
    let paths: Vec<&str> = articles.iter().map(|a| a.path.as_str()).collect();
    s.write_config("0 0 1 1 *", &paths);
    let text = std::fs::read_to_string(&s.config).unwrap();
    let text = text.replacen("[ledger]\n", &format!("[ledger]\nurl = \"{url}\"\n"), 1);
    std::fs::write(&s.config, text).unwrap();
}

/// Runs `f` on a thread of its own: the PostgreSQL client starts a runtime
/// of its own, which cannot run inside the test's.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

/// Runs the binary with a cache directory of its own (so `--db URL` makes
/// its replica there) and no configuration unless given.
fn cli(cache: &Path, config: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(common::bin());
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    } else {
        cmd.arg("--config").arg(cache.join("none.toml"));
    }
    cmd.args(args)
        .env("XDG_CACHE_HOME", cache)
        .env("RUST_LOG", "warn")
        .env_remove("NEWSLEDGER_CONFIG")
        .output()
        .unwrap()
}

fn ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\n{}\n{}",
        o.status.code(),
        common::stdout(o),
        common::stderr(o)
    );
    common::stdout(o)
}

fn pg_summary(url: &str) -> newsledger::ledger::storage::Summary {
    let url = url.to_string();
    std::thread::spawn(move || summarize(&mut PgStorage::open_existing(&url).unwrap()).unwrap())
        .join()
        .unwrap()
}

fn sqlite_summary(path: &Path) -> newsledger::ledger::storage::Summary {
    summarize(&mut SqliteStorage::open_read_only(path).unwrap()).unwrap()
}

/// `(url, count)` of the fetch entries PostgreSQL holds, per article URL
/// (none while the database is down or holds no ledger yet).
fn fetches_per_url(url: &str) -> std::collections::BTreeMap<String, i64> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let rows = postgres::Client::connect(&url, postgres::NoTls).and_then(|mut c| {
            c.query(
                "SELECT url, COUNT(*) FROM ledger WHERE kind = 'fetch' AND url IS NOT NULL GROUP BY url",
                &[],
            )
        });
        rows.unwrap_or_default()
            .into_iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
            .collect()
    })
    .join()
    .unwrap()
}

/// What each command prints for the same ledger, read as a SQLite file and
/// as a PostgreSQL URL; the replica's path is the one difference allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_reads_a_postgres_ledger_as_it_reads_sqlite() {
    let Some(server) = off_runtime(pg::Postgres::start) else {
        return;
    };
    let url = off_runtime(|| server.database());
    let s = Setup::new().await;
    let site = articles(1);
    shared_setup(&s, &url, &site, Duration::ZERO);
    let vkey = s.checkpoint_key("shared.test/log").await;
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "once: {}", common::stderr(&out));
    // An edit, so that changes, diff and history have something to show.
    common::publish_quiet_edit(&s);
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "once: {}", common::stderr(&out));

    // PostgreSQL holds the record, and the replica is that record.
    let shared = pg_summary(&url);
    assert!(shared.entries > 12, "{} entries", shared.entries);
    assert_eq!(shared, sqlite_summary(&s.db));

    let cache = tempfile::tempdir().unwrap();
    let article = s.server.url(&common::seed("nordic-monitor").path);
    let db = s.db.to_str().unwrap().to_string();
    let file = |name: &str| cache.path().join(name).display().to_string();
    let reads: Vec<(&str, Vec<&str>)> = vec![
        ("articles", vec!["articles", "--json"]),
        ("history", vec!["history", &article]),
        ("show", vec!["show", &article]),
        ("search", vec!["search", "Nordic"]),
        ("diff", vec!["diff", &article, "--color", "never"]),
        ("changes", vec!["changes", "--json"]),
        ("status", vec!["status", "--json"]),
        ("export", vec!["export", "--format", "jsonl"]),
        ("verify", vec!["verify"]),
        ("checkpoint", vec!["checkpoint", "--json"]),
        ("rebuild", vec!["rebuild"]),
        ("report", vec!["report", &article, "-o", "OUT"]),
        ("prove", vec!["prove", &article, "-o", "OUT"]),
    ];
    // Every command clap knows is here: one that reads the ledger, with
    // its arguments, or one that does not, with the reason.
    let elsewhere = [
        (
            "run",
            "the daemon: it recorded into PostgreSQL above (once)",
        ),
        ("once", "recorded into PostgreSQL above"),
        ("demo", "its own SQLite ledger"),
        ("check-config", "reads no ledger"),
        ("extract", "reads no ledger"),
        (
            "migrate",
            "takes --from and --to (tests/storage_contract.rs)",
        ),
        ("key", "reads no ledger"),
        ("serve", "served below"),
        (
            "health",
            "the daemon's own cycle state, kept beside its replica, not in the shared record",
        ),
        (
            "verify-bundle",
            "reads a bundle, not a ledger (run on the proven one below)",
        ),
    ];
    let known: Vec<String> = newsledger::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in &known {
        assert!(
            reads.iter().any(|(n, _)| n == name) || elsewhere.iter().any(|(n, _)| n == name),
            "`{name}` is a command this test does not run on a PostgreSQL ledger: add it"
        );
    }
    let mut replica = None;
    for (name, args) in &reads {
        let with = |ledger: &str, out: &str| {
            let mut a: Vec<&str> = vec!["--db", ledger];
            a.extend(args.iter().map(|x| if *x == "OUT" { out } else { x }));
            cli(cache.path(), None, &a)
        };
        let (out_sqlite, out_pg) = (file(&format!("{name}-sqlite")), file(&format!("{name}-pg")));
        let from_sqlite = ok(&with(&db, &out_sqlite), &format!("{name} on SQLite"));
        let from_pg = ok(&with(&url, &out_pg), &format!("{name} on PostgreSQL"));
        // The replica `--db URL` made for itself, in the cache directory.
        let replica = replica
            .get_or_insert_with(|| {
                let dir = cache.path().join("newsledger/replicas");
                let found: Vec<_> = std::fs::read_dir(&dir)
                    .unwrap()
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "db"))
                    .collect();
                assert_eq!(
                    found.len(),
                    1,
                    "one replica in {}: {found:?}",
                    dir.display()
                );
                found[0].display().to_string()
            })
            .clone();
        let same = |sqlite: String, pg: String| {
            assert_eq!(
                sqlite,
                pg.replace(&replica, &db),
                "`{name}` differs between SQLite and PostgreSQL"
            );
        };
        match *name {
            "verify" => assert!(
                from_pg.contains("PostgreSQL") && from_pg.contains("checked on its own bytes"),
                "{from_pg}"
            ),
            "prove" => {
                // 4: verified, except what it lists as not checked (no
                // time-stamping authority is configured here).
                for bundle in [&out_sqlite, &out_pg] {
                    let o = cli(
                        cache.path(),
                        None,
                        &["verify-bundle", bundle, "--key", &vkey],
                    );
                    assert_eq!(
                        o.status.code(),
                        Some(4),
                        "verify-bundle {bundle}: {}{}",
                        common::stdout(&o),
                        common::stderr(&o)
                    );
                    assert!(
                        common::stdout(&o).contains("NOT CHECKED"),
                        "{}",
                        common::stdout(&o)
                    );
                }
            }
            // The one line that names when the report was made.
            "report" => {
                let untimed = |path: &str| {
                    let text = std::fs::read_to_string(path).unwrap();
                    let (head, rest) = text.split_once("Generated ").unwrap();
                    let (_, tail) = rest.split_once(" from ledger head").unwrap();
                    format!("{head}{tail}")
                };
                same(untimed(&out_sqlite), untimed(&out_pg));
            }
            // The sources' cycles are the daemon's own state (kept beside
            // its replica, not in the record): the rest is the record's.
            "status" => {
                let record = |text: &str| {
                    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
                    for s in v["sources"].as_array_mut().unwrap() {
                        for cycle in ["last_cycle_at", "next_run_at", "counts", "last_error"] {
                            s.as_object_mut().unwrap().remove(cycle);
                        }
                    }
                    v.to_string()
                };
                same(record(&from_sqlite), record(&from_pg));
            }
            _ => same(from_sqlite, from_pg),
        }
    }
}

/// Waits for `child` (a `once`) with a limit; its output.
async fn finish(child: tokio::process::Child, limit: Duration) -> Output {
    tokio::time::timeout(limit, child.wait_with_output())
        .await
        .expect("the cycle ends")
        .unwrap()
}

fn spawn_once(config: &Path) -> tokio::process::Child {
    tokio::process::Command::new(common::bin())
        .arg("--config")
        .arg(config)
        .arg("once")
        .env("RUST_LOG", "info")
        .env_remove("NEWSLEDGER_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// PostgreSQL SIGKILLed while a cycle records into it, and started again:
/// the writer holds its fetches and tries again; every URL ends recorded
/// once, whole, and the replica is the shared log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_mid_cycle_loses_nothing_and_records_nothing_twice() {
    let Some(server) = off_runtime(pg::Postgres::start) else {
        return;
    };
    let url = off_runtime(|| server.database());
    let s = Setup::new().await;
    let site = articles(4);
    shared_setup(&s, &url, &site, Duration::from_millis(300));
    let child = spawn_once(&s.config);
    // Killed once the first articles are in.
    let started = std::time::Instant::now();
    let at_kill = loop {
        let fetched: i64 = fetches_per_url(&url).values().sum();
        if fetched >= 2 {
            break fetched;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no fetch recorded"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    off_runtime(|| server.kill());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    off_runtime(|| server.start_server());
    let out = finish(child, Duration::from_secs(120)).await;
    let log = common::stderr(&out);
    assert!(out.status.success(), "once: {log}");
    assert!(
        log.contains("trying again"),
        "the writer never saw PostgreSQL gone:\n{log}"
    );

    let fetched = fetches_per_url(&url);
    assert!(at_kill < site.len() as i64, "the kill came after the cycle");
    for a in &site {
        let u = s.server.url(&a.path);
        assert_eq!(
            fetched.get(&u),
            Some(&1),
            "{u} recorded {:?} times",
            fetched.get(&u)
        );
    }
    assert_eq!(pg_summary(&url), sqlite_summary(&s.db));
    let cache = tempfile::tempdir().unwrap();
    ok(
        &cli(cache.path(), None, &["--db", &url, "verify"]),
        "verify",
    );
    ok(
        &cli(cache.path(), Some(&s.config), &["verify"]),
        "verify of the replica",
    );
}

/// Two writers with replicas of their own record into one PostgreSQL
/// ledger at once: their appends interleave through the sequencer, each
/// one's refused appends are applied again on top of the other's, and the
/// one log holds both, checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_record_into_one_ledger_at_once() {
    let Some(server) = off_runtime(pg::Postgres::start) else {
        return;
    };
    let url = off_runtime(|| server.database());
    let (a, b) = (Setup::new().await, Setup::new().await);
    let (site_a, site_b) = (articles(3), articles(3));
    shared_setup(&a, &url, &site_a, Duration::from_millis(20));
    shared_setup(&b, &url, &site_b, Duration::from_millis(20));
    for round in 0..2 {
        if round == 1 {
            // Edits on both sites: revisions from both writers.
            common::publish_quiet_edit(&a);
            common::publish_quiet_edit(&b);
        }
        let (x, y) = (spawn_once(&a.config), spawn_once(&b.config));
        let (x, y) = tokio::join!(
            finish(x, Duration::from_secs(120)),
            finish(y, Duration::from_secs(120))
        );
        assert!(x.status.success(), "writer a: {}", common::stderr(&x));
        assert!(y.status.success(), "writer b: {}", common::stderr(&y));
    }
    let fetched = fetches_per_url(&url);
    for (s, site) in [(&a, &site_a), (&b, &site_b)] {
        for art in site {
            let u = s.server.url(&art.path);
            assert_eq!(fetched.get(&u), Some(&2), "{u}: {:?}", fetched.get(&u));
        }
    }
    let shared = pg_summary(&url);
    // Each replica follows the one log, and its derived tables are the
    // fold of that log (verify checks them against the chain).
    for s in [&a, &b] {
        let cache = tempfile::tempdir().unwrap();
        ok(&cli(cache.path(), Some(&s.config), &["verify"]), "verify");
        assert_eq!(sqlite_summary(&s.db), shared);
    }
    let cache = tempfile::tempdir().unwrap();
    let changes = ok(
        &cli(
            cache.path(),
            None,
            &["--db", &url, "changes", "--kind", "changed", "--json"],
        ),
        "changes",
    );
    let v: serde_json::Value = serde_json::from_str(&changes).unwrap();
    let rows = v["changes"].as_array().or_else(|| v.as_array()).unwrap();
    assert_eq!(rows.len(), 2, "one edit on each site: {changes}");
}

/// A replica never follows a log other than the one it copied: pointed at
/// another ledger's database it is refused, and a row rewritten in
/// PostgreSQL after the replica pulled it fails `verify`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_or_different_shared_log_is_refused() {
    let Some(server) = off_runtime(pg::Postgres::start) else {
        return;
    };
    let (first, other) = off_runtime(|| (server.database(), server.database()));
    let (s, t) = (Setup::new().await, Setup::new().await);
    shared_setup(&s, &first, &articles(1), Duration::ZERO);
    shared_setup(&t, &other, &articles(1), Duration::ZERO);
    for x in [&s, &t] {
        let out = x.cli(&["once"]).await;
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    // The first ledger's replica, told the other database is its ledger.
    let text = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace(&first, &other);
    let swapped = s.dir.path().join("swapped.toml");
    std::fs::write(&swapped, text).unwrap();
    let cache = tempfile::tempdir().unwrap();
    for args in [&["articles"][..], &["once"][..]] {
        let o = cli(cache.path(), Some(&swapped), args);
        assert!(!o.status.success(), "{args:?} followed another ledger");
        assert!(
            common::stderr(&o).contains("follows another ledger"),
            "{args:?}: {}",
            common::stderr(&o)
        );
    }
    // A fetch entry's payload rewritten in PostgreSQL (its triggers off,
    // as an administrator could), after the replica pulled it.
    off_runtime(|| {
        let mut c = postgres::Client::connect(&first, postgres::NoTls).unwrap();
        c.batch_execute(
            "ALTER TABLE ledger DISABLE TRIGGER ledger_append_only;
             UPDATE ledger SET payload_json = replace(payload_json, '\"status\":200', '\"status\":203')
              WHERE seq = (SELECT MIN(seq) FROM ledger WHERE kind = 'fetch');
             ALTER TABLE ledger ENABLE TRIGGER ledger_append_only;",
        )
        .unwrap();
    });
    let o = cli(cache.path(), Some(&s.config), &["verify"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "verify: {}{}",
        common::stdout(&o),
        common::stderr(&o)
    );
    let said = format!("{}{}", common::stdout(&o), common::stderr(&o));
    assert!(said.contains("not the hash of its encoding"), "{said}");
    // A new reader refuses to copy the rewritten entry.
    let fresh = tempfile::tempdir().unwrap();
    let o = cli(fresh.path(), None, &["--db", &first, "articles"]);
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));

    // The other ledger: a blob removed, then a row beyond the sequencer's
    // head, each caught by verify; TRUNCATE refused.
    let admin = |sql: &str| {
        let (url, sql) = (other.clone(), sql.to_string());
        off_runtime(move || {
            postgres::Client::connect(&url, postgres::NoTls)
                .unwrap()
                .batch_execute(&sql)
        })
    };
    assert!(
        admin("TRUNCATE ledger").is_err(),
        "TRUNCATE was not refused"
    );
    let verify_t = || cli(cache.path(), Some(&t.config), &["verify"]);
    ok(&verify_t(), "verify before the damage");
    admin(
        "ALTER TABLE blobs DISABLE TRIGGER blobs_append_only;
         DELETE FROM blobs WHERE hash = (SELECT hash FROM blobs ORDER BY hash LIMIT 1);
         ALTER TABLE blobs ENABLE TRIGGER blobs_append_only;",
    )
    .unwrap();
    let o = verify_t();
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("in the replica but not in PostgreSQL"),
        "{}",
        common::stderr(&o)
    );
    admin(
        "INSERT INTO ledger (seq, recorded_at, kind, url, payload_json, prev_hash, entry_hash)
         SELECT MAX(seq) + 1, '2026-12-07T00:00:00.000Z', 'fetch', NULL, '{}',
                decode(repeat('00', 32), 'hex'), decode(repeat('11', 32), 'hex') FROM ledger",
    )
    .unwrap();
    let o = verify_t();
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("around the sequencer"),
        "{}",
        common::stderr(&o)
    );

    // A ledger of its own (a SQLite file with history) pointed at an empty
    // database is not pushed into it.
    let empty = off_runtime(|| server.database());
    let text = std::fs::read_to_string(&s.config).unwrap();
    let own = s.dir.path().join("own.db");
    std::fs::copy(&s.db, &own).unwrap();
    let text = text
        .replace(&first, &empty)
        .replace(&s.db.display().to_string(), &own.display().to_string());
    let _ = std::fs::remove_file(format!("{}.shared-id", own.display()));
    let pointed = s.dir.path().join("pointed.toml");
    std::fs::write(&pointed, text).unwrap();
    let o = cli(cache.path(), Some(&pointed), &["once"]);
    assert!(
        !o.status.success(),
        "a replica's history was pushed into an empty database"
    );
    assert!(
        common::stderr(&o).contains("newsledger migrate"),
        "{}",
        common::stderr(&o)
    );
    assert!(
        fetches_per_url(&empty).is_empty(),
        "entries reached the empty database"
    );
}

/// A worker's configuration: the setup's site and PostgreSQL ledger, a
/// replica, `[node]` and `[fetch]` settings of its own.
fn worker_config(
    s: &Setup,
    name: &str,
    schedule: &str,
    fetch: &str,
    node: &str,
) -> std::path::PathBuf {
    let text = std::fs::read_to_string(&s.config).unwrap();
    let replica = s.dir.path().join(format!("{name}.db"));
    let text = text
        .replace(&s.db.display().to_string(), &replica.display().to_string())
        .replacen(
            "schedule = \"0 0 1 1 *\"",
            &format!("schedule = \"{schedule}\""),
            1,
        )
        .replacen("[fetch]\n", &format!("[fetch]\n{fetch}\n"), 1);
    let text = text.replacen(
        "per_host_interval = \"0s\"\n",
        "",
        usize::from(fetch.contains("per_host_interval")),
    );
    let path = s.dir.path().join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!("{text}\n[node]\nname = \"{name}\"\n{node}\n"),
    )
    .unwrap();
    path
}

/// The leases PostgreSQL holds: (url, holder, live and not done).
fn leases(url: &str) -> Vec<(String, String, bool)> {
    let url = url.to_string();
    std::thread::spawn(move || {
        postgres::Client::connect(&url, postgres::NoTls)
            .and_then(|mut c| {
                c.query(
                    "SELECT url, holder, done_at IS NULL AND until > clock_timestamp() FROM leases",
                    &[],
                )
            })
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    })
    .join()
    .unwrap()
}

/// A worker SIGKILLed while it holds leases: once they run out, another
/// worker fetches its URLs; every URL ends recorded, the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_holding_leases_has_its_urls_fetched_by_another() {
    let Some(server) = off_runtime(pg::Postgres::start) else {
        return;
    };
    let url = off_runtime(|| server.database());
    let s = Setup::new().await;
    let site = articles(2);
    shared_setup(&s, &url, &site, Duration::from_millis(1500));
    // Both on one schedule: a tick a few seconds from now, once a minute.
    let tick = (chrono::Utc::now() + chrono::Duration::seconds(4))
        .format("%S")
        .to_string();
    let schedule = format!(
        "{} * * * * *",
        tick.trim_start_matches('0').parse::<u32>().unwrap_or(0)
    );
    let a = worker_config(&s, "a", &schedule, "", "lease = \"10s\"");
    let b = worker_config(&s, "b", &schedule, "", "lease = \"10s\"");
    let mut worker_a = common::spawn_run(&a);
    let mut worker_b = common::spawn_run(&b);
    let started = std::time::Instant::now();
    let held_by_a = loop {
        let held: Vec<String> = leases(&url)
            .into_iter()
            .filter(|(_, h, live)| h == "a" && *live)
            .map(|(u, _, _)| u)
            .collect();
        if !held.is_empty() {
            break held;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "worker a never took a lease"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    worker_a.start_kill().unwrap();
    let _ = worker_a.wait().await;
    let killed_at = std::time::Instant::now();
    // Every URL recorded, those a held included.
    let want: Vec<String> = site.iter().map(|a| s.server.url(&a.path)).collect();
    loop {
        let fetched = fetches_per_url(&url);
        if want.iter().all(|u| fetched.contains_key(u)) {
            break;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(90),
            "not every URL was recorded after the kill: {fetched:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Not before a's leases ran out.
    assert!(
        killed_at.elapsed() >= Duration::from_secs(5),
        "a's URLs were taken before its leases ran out"
    );
    let pid = worker_b.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = worker_b.wait().await.unwrap();
    let log = common::stderr_of(&mut worker_b).await;
    assert!(status.success(), "worker b: {log}");
    let after = leases(&url);
    for u in &held_by_a {
        let holder = after
            .iter()
            .find(|(l, _, _)| l == u)
            .map(|(_, h, _)| h.as_str());
        assert_eq!(
            holder,
            Some("b"),
            "{u}, leased by a when it died, ended with {holder:?}"
        );
    }
    // Each URL once: a lease ends in the append that records its fetch,
    // so none that a recorded is taken over.
    let fetched = fetches_per_url(&url);
    for u in &want {
        assert_eq!(fetched.get(u), Some(&1), "{u}: {fetched:?}");
    }
    let cache = tempfile::tempdir().unwrap();
    ok(
        &cli(cache.path(), None, &["--db", &url, "verify"]),
        "verify",
    );
}

/// Three workers, one slow host: the gaps between the requests that reach
/// the host, from all of them, are at least `per_host_interval`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_keep_one_hosts_interval_between_them() {
    let Some(server) = off_runtime(pg::Postgres::start) else {
        return;
    };
    let url = off_runtime(|| server.database());
    let s = Setup::new().await;
    let site = articles(2);
    shared_setup(&s, &url, &site, Duration::from_millis(200));
    let interval = Duration::from_millis(700);
    let configs: Vec<_> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| {
            let fetch = format!(
                "per_host_interval = \"700ms\"\nuser_agent = \"newsledger-{n} (+https://example.org/test)\""
            );
            worker_config(&s, n, "0 0 1 1 *", &fetch, "")
        })
        .collect();
    // The workers start together, as three machines on one schedule would.
    let children: Vec<_> = configs.iter().map(|c| spawn_once(c)).collect();
    for c in children {
        let out = finish(c, Duration::from_secs(120)).await;
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    let hits = s.server.hits();
    let agents: std::collections::BTreeSet<&str> =
        hits.iter().filter_map(|h| h.header("user-agent")).collect();
    assert!(
        agents.len() >= 2,
        "the requests came from one worker: {agents:?}"
    );
    assert!(hits.len() >= site.len(), "{} requests", hits.len());
    let mut times: Vec<std::time::Instant> = hits.iter().map(|h| h.at).collect();
    times.sort();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let shortest = gaps.iter().min().copied().unwrap();
    eprintln!(
        "{} requests from {} workers; shortest gap {shortest:?} (interval {interval:?})",
        times.len(),
        agents.len()
    );
    assert!(
        shortest >= interval,
        "two requests {shortest:?} apart (interval {interval:?}); gaps: {gaps:?}"
    );
}

/// A TCP proxy to PostgreSQL that, once, lets through the COMMIT of a
/// transaction that carried fetch entries and then cuts that connection:
/// PostgreSQL commits, the writer never hears it. The flag says it cut.
async fn proxy_cutting_after_commit(
    pg_port: u16,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cut = std::sync::Arc::new(AtomicBool::new(false));
    let flag = cut.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", pg_port)).await else {
                continue;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let flag = flag.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut armed = false;
                while let Ok(n) = cr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let chunk = &buf[..n];
                    let has = |w: &[u8]| chunk.windows(w.len()).any(|x| x == w);
                    if has(b"\"outcome\"") {
                        armed = true;
                    }
                    if sw.write_all(chunk).await.is_err() {
                        break;
                    }
                    if armed && has(b"COMMIT") && !flag.swap(true, Ordering::SeqCst) {
                        // Let PostgreSQL commit, then drop its answer.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let _ = stop_tx.send(true);
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let mut stop = stop_rx;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    tokio::select! {
                        r = sr.read(&mut buf) => match r {
                            Ok(0) | Err(_) => break,
                            Ok(n) => if cw.write_all(&buf[..n]).await.is_err() { break },
                        },
                        _ = stop.changed() => break,
                    }
                }
            });
        }
    });
    (port, cut)
}

/// The connection lost after PostgreSQL committed a group's entries: the
/// writer finds them in the shared log and does not record them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_lost_is_recorded_once() {
    let Some(server) = off_runtime(pg::Postgres::start) else {
        return;
    };
    let url = off_runtime(|| server.database());
    let pg_port: u16 = url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (proxy, cut) = proxy_cutting_after_commit(pg_port).await;
    let via_proxy = url.replace(&format!(":{pg_port}/"), &format!(":{proxy}/"));
    let s = Setup::new().await;
    let site = articles(1);
    shared_setup(&s, &via_proxy, &site, Duration::ZERO);
    let out = s.cli(&["once"]).await;
    let log = common::stderr(&out);
    assert!(out.status.success(), "once: {log}");
    assert!(
        cut.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy never cut a commit"
    );
    assert!(log.contains("trying again"), "{log}");
    let fetched = fetches_per_url(&url);
    for a in &site {
        let u = s.server.url(&a.path);
        assert_eq!(fetched.get(&u), Some(&1), "{u}: {fetched:?}");
    }
    assert_eq!(pg_summary(&url), sqlite_summary(&s.db));
    let o = common::stdout(&out);
    assert!(o.contains(&format!("{} new", site.len())), "{o}");
}

/// On a shared ledger a watched URL the guard refuses (its source's feed
/// moved to another site name) is recorded as skipped, as on SQLite, and
/// the cycle goes on: it is not taken for an interruption.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_watched_url_is_recorded_and_the_cycle_ends() {
    let Some(server) = off_runtime(pg::Postgres::start) else {
        return;
    };
    let url = off_runtime(|| server.database());
    let s = Setup::new().await;
    let site = articles(1);
    // No configured URL: the source's one site is its feed's.
    shared_setup(&s, &url, &[], Duration::ZERO);
    for a in &site {
        let page = site::render(a, &s.server.url(&a.path), &site::Chrome::visit(0));
        s.server.set(&a.path, Page::html(page));
    }
    let items: String = site
        .iter()
        .map(|a| {
            format!(
                "<item><title>t</title><link>{}</link></item>",
                s.server.url(&a.path)
            )
        })
        .collect();
    s.server.set(
        "/feed.xml",
        Page::html(format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>f</title>{items}</channel></rss>"))
            .with_header("content-type", "application/rss+xml"),
    );
    let text = std::fs::read_to_string(&s.config).unwrap().replacen(
        "[fetch]\n",
        "[fetch]\nallow_private_networks = true\n",
        1,
    );
    let with_feed = |host: &str| {
        let feed = s.server.url("/feed.xml").replace("127.0.0.1", host);
        text.replacen("urls = [", &format!("feeds = [\"{feed}\"]\nurls = ["), 1)
    };
    std::fs::write(&s.config, with_feed("127.0.0.1")).unwrap();
    let first = s.cli(&["once"]).await;
    assert!(first.status.success(), "{}", common::stderr(&first));
    // The feed now at another name of the host: the watched links are
    // another site's, refused when their turn comes.
    std::fs::write(&s.config, with_feed("localhost")).unwrap();
    let second = s.cli(&["once"]).await;
    let (o, e) = (common::stdout(&second), common::stderr(&second));
    assert!(second.status.success(), "{o}{e}");
    assert!(
        o.contains("skipped"),
        "the refusals were not recorded: {o}\nfirst: {}\n{e}",
        common::stdout(&first)
    );
    assert!(
        e.contains("interrupted=false") && !e.contains("interrupted=true"),
        "{e}"
    );
}

/// A source fetched from two vantage points: each URL once from each, the
/// vantage in every fetch entry; a worker at a third vantage fetches none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_url_is_fetched_once_from_each_vantage_point() {
    let Some(server) = off_runtime(pg::Postgres::start) else {
        return;
    };
    let url = off_runtime(|| server.database());
    let s = Setup::new().await;
    let site = articles(1);
    shared_setup(&s, &url, &site, Duration::from_millis(50));
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        text.replacen(
            "urls = [",
            "vantages = [\"istanbul\", \"berlin\"]\nurls = [",
            1,
        ),
    )
    .unwrap();
    let configs: Vec<_> = [("w1", "istanbul"), ("w2", "berlin"), ("w3", "paris")]
        .iter()
        .map(|(n, v)| worker_config(&s, n, "0 0 1 1 *", "", &format!("vantage = \"{v}\"")))
        .collect();
    let children: Vec<_> = configs.iter().map(|c| spawn_once(c)).collect();
    let mut outs = Vec::new();
    for c in children {
        let out = finish(c, Duration::from_secs(120)).await;
        assert!(out.status.success(), "{}", common::stderr(&out));
        outs.push(out);
    }
    assert!(
        common::stderr(&outs[2]).contains("not fetched from this node's vantage point"),
        "{}",
        common::stderr(&outs[2])
    );
    let seen: Vec<(String, Option<String>)> = off_runtime(|| {
        postgres::Client::connect(&url, postgres::NoTls)
            .unwrap()
            .query(
                "SELECT url, payload_json::json->>'vantage' FROM ledger
                  WHERE kind = 'fetch' AND url IS NOT NULL ORDER BY url, 2",
                &[],
            )
            .unwrap()
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    });
    for a in &site {
        let u = s.server.url(&a.path);
        let from: Vec<Option<&str>> = seen
            .iter()
            .filter(|(x, _)| *x == u)
            .map(|(_, v)| v.as_deref())
            .collect();
        assert_eq!(from, [Some("berlin"), Some("istanbul")], "{u}");
    }
}

/// A session that holds the sequencer's lock (a worker stopped in the
/// middle of an append) holds the others up for a while, not forever: the
/// writer's wait ends at its lock timeout, and it tries again until the
/// lock is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_sequencer_lock_delays_a_writer_and_does_not_stop_it() {
    let Some(server) = off_runtime(pg::Postgres::start) else {
        return;
    };
    let url = off_runtime(|| server.database());
    let s = Setup::new().await;
    let site = articles(1);
    shared_setup(&s, &url, &site, Duration::ZERO);
    let first = s.cli(&["once"]).await;
    assert!(first.status.success(), "{}", common::stderr(&first));
    common::publish_quiet_edit(&s);
    // Held for longer than the writer's 30 s lock timeout.
    let holder_url = url.clone();
    let holder = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&holder_url, postgres::NoTls).unwrap();
        let mut tx = c.transaction().unwrap();
        tx.query("SELECT * FROM sequencer FOR UPDATE", &[]).unwrap();
        std::thread::sleep(Duration::from_secs(34));
        tx.commit().unwrap();
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let out = finish(spawn_once(&s.config), Duration::from_secs(150)).await;
    let log = common::stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        started.elapsed() >= Duration::from_secs(30),
        "the lock was not held"
    );
    assert!(log.contains("trying again"), "{log}");
    holder.join().unwrap();
    assert!(
        common::stdout(&out).contains("1 changed"),
        "{}",
        common::stdout(&out)
    );
    assert_eq!(pg_summary(&url), sqlite_summary(&s.db));
}

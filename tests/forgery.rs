//! Issue 31: what every screen shows is what the chain proves.
//!
//! A ledger is built by the real binary over a real loopback site through a
//! whole lifecycle (new articles, a body edit and its reversion, a title
//! edit, a byline edit, a page gone and restored, not-modified fetches kept
//! as compact entries, signed checkpoints). Then every table beside `ledger`
//! and `blobs`, and every column of each, is read from `sqlite_master` and
//! `pragma_table_info` (so a table or column added later is covered without
//! touching this file) and mutated on a fresh copy: one row's value changed
//! (text to another plausible value, a number by one, a hash to another
//! real hash, a time a year earlier, NULL where allowed), a row deleted, a
//! plausible row inserted, the table dropped. After each:
//! - `verify` exits 1, unless the table is operational state
//!   (`newsledger::ledger::OPERATIONAL`);
//! - every read surface (`articles`, `history`, `show`, `diff`, `changes`,
//!   `search`, `report`, the web pages and the Atom feed, `prove` then
//!   `verify-bundle`) prints exactly what it prints on the untouched copy,
//!   or exits non-zero naming the table;
//! - after `rebuild`, `verify` exits 0 again (derived tables).
//!
//! A failure prints the one `sqlite3` statement that reproduces it.
//! `FORGERY_ROUNDS` (default 24) sets how many times every mutation kind is
//! drawn again on other rows and values; `FORGERY_SEED` the random seed.

mod common;

use std::path::{Path, PathBuf};

use common::server::Page;
use common::{Setup, seed, stdout};
use newsledger::demo::site::{self, Block, Chrome, NORDIC_ADDED_PARAGRAPH};
use rusqlite::Connection;
use rusqlite::types::Value;

/// Statements on the search index beside the ledger are named by this
/// prefix and their table.
const SEARCH: &str = "search index:";

/// A small deterministic generator (xorshift64*): a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

struct Fixture {
    _setup: Setup,
    dir: PathBuf,
    db: PathBuf,
    vkey: String,
    urls: Vec<String>,
}

fn page(a: &site::SeedArticle, url: &str, etag: bool) -> Page {
    let p = Page::html(site::render(a, url, &Chrome::visit(0)));
    if etag { p } else { p.without_etag() }
}

/// The ledger every mutation starts from, built by `once` cycles.
async fn build() -> Fixture {
    let s = Setup::new().await;
    let nordic = seed("nordic-monitor");
    let portal = seed("hurriyet-daily-news");
    let wp = seed("ycpress");
    let urls: Vec<String> = [&nordic, &portal, &wp]
        .iter()
        .map(|a| s.server.url(&a.path))
        .collect();
    let set = |a: &site::SeedArticle, etag: bool| {
        s.server.set(&a.path, page(a, &s.server.url(&a.path), etag));
    };
    set(&nordic, false);
    set(&portal, true);
    set(&wp, true);
    s.write_config("0 0 * * *", &[&nordic.path, &portal.path, &wp.path]);
    let key = s.dir.path().join("checkpoint.key");
    let out = s
        .cli(&[
            "key",
            "generate",
            "--name",
            "forgery.test/log",
            "-o",
            key.to_str().unwrap(),
        ])
        .await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let vkey = stdout(&out).trim().to_string();
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text.push_str(&format!(
        "\n[checkpoint]\nkey = \"{}\"\npublish = \"{}\"\n",
        key.display(),
        s.dir.path().join("public").display()
    ));
    std::fs::write(&s.config, text).unwrap();

    let once = || async {
        let out = s.cli(&["once"]).await;
        assert!(out.status.success(), "{}", common::stderr(&out));
    };
    once().await; // three new articles
    once().await; // unchanged (full) and not modified (compact)
    once().await; // compact entries repeating the last full ones
    // A body edit, and a title edit.
    let mut edited = nordic.clone();
    edited
        .blocks
        .push(Block::Paragraph(NORDIC_ADDED_PARAGRAPH.into()));
    set(&edited, false);
    let mut retitled = portal.clone();
    retitled.title = format!("{} (updated)", portal.title);
    set(&retitled, true);
    once().await;
    // The body edit taken back (a reversion); a byline edit (metadata).
    set(&nordic, false);
    let mut byline = retitled.clone();
    byline.byline = Some("Anna Correspondent".into());
    set(&byline, true);
    once().await;
    // A page gone, then back.
    s.server.set(&wp.path, Page::status(404));
    once().await;
    set(&wp, true);
    once().await;
    once().await;
    let dir = s.dir.path().to_path_buf();
    let db = s.db.clone();
    Fixture {
        _setup: s,
        dir,
        db,
        vkey,
        urls,
    }
}

/// One command line's result, with the copy's directory written as DIR.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    code: u8,
    text: String,
}

/// Every read surface on the ledger at `db`: (name, what it showed).
async fn surfaces(db: &Path, f: &Fixture) -> Vec<(String, Shown)> {
    let dir = db.parent().unwrap();
    let d = db.to_str().unwrap();
    let (a, b, c) = (&f.urls[0], &f.urls[1], &f.urls[2]);
    let report = dir.join("report.html");
    let bundle = dir.join("bundle.wacz");
    let bundle_one = dir.join("bundle-one.wacz");
    let cli: Vec<Vec<String>> = vec![
        vec!["articles".into()],
        vec!["articles".into(), "--json".into()],
        vec!["articles".into(), "--status".into(), "changed".into()],
        vec!["changes".into()],
        vec!["changes".into(), "--json".into()],
        vec!["history".into(), a.clone(), "--json".into()],
        vec!["history".into(), b.clone()],
        vec!["history".into(), c.clone(), "--json".into()],
        vec!["show".into(), a.clone()],
        vec![
            "show".into(),
            b.clone(),
            "--rev".into(),
            "2".into(),
            "--json".into(),
        ],
        vec!["show".into(), c.clone(), "--json".into()],
        vec!["diff".into(), a.clone(), "--color".into(), "never".into()],
        vec![
            "diff".into(),
            b.clone(),
            "--from".into(),
            "1".into(),
            "--to".into(),
            "3".into(),
            "--json".into(),
        ],
        vec!["search".into(), "Nordic".into(), "--json".into()],
        vec!["search".into(), "zzzz-not-anywhere".into()],
        vec![
            "report".into(),
            a.clone(),
            "-o".into(),
            report.display().to_string(),
        ],
        vec![
            "prove".into(),
            b.clone(),
            "-o".into(),
            bundle.display().to_string(),
        ],
        vec![
            "verify-bundle".into(),
            bundle.display().to_string(),
            "--key".into(),
            f.vkey.clone(),
        ],
        vec![
            "prove".into(),
            a.clone(),
            "--rev".into(),
            "1".into(),
            "-o".into(),
            bundle_one.display().to_string(),
        ],
        vec![
            "verify-bundle".into(),
            bundle_one.display().to_string(),
            "--key".into(),
            f.vkey.clone(),
        ],
    ];
    let mut out: Vec<(String, Shown)> = Vec::new();
    for args in cli {
        // A bundle that could not be made cannot be checked: the failure
        // is `prove`'s, already listed.
        if args[0] == "verify-bundle"
            && let Some((_, prove)) = out.last().filter(|(_, s)| s.code != 0)
        {
            let prove = prove.clone();
            out.push((format!("verify-bundle after {}", args[1]), prove));
            continue;
        }
        let mut full: Vec<&str> = vec!["--db", d];
        full.extend(args.iter().map(String::as_str));
        let mut buf = Vec::new();
        let t0 = std::time::Instant::now();
        let (code, err) = newsledger::cli::run_in_process(&full, &mut buf).await;
        if std::env::var_os("FORGERY_PROFILE").is_some() {
            eprintln!(
                "{:>8.1} ms  {}",
                t0.elapsed().as_secs_f64() * 1e3,
                args.join(" ")
            );
        }
        let mut text = String::from_utf8_lossy(&buf).into_owned();
        if args[0] == "report" && code == 0 {
            text = std::fs::read_to_string(&report).unwrap_or_default();
            // The time the report was made is its own.
            text = text
                .lines()
                .filter(|l| !l.contains("Generated") && !l.contains("generated"))
                .collect::<Vec<_>>()
                .join("\n");
        }
        // Exit 4 and 5 are verify-bundle's "verified" with remarks: its output counts.
        if !matches!(code, 0 | 4 | 5) {
            text = err;
        }
        let name = args
            .iter()
            .map(|a| a.replace(dir.to_str().unwrap(), "DIR"))
            .collect::<Vec<_>>()
            .join(" ");
        out.push((
            name,
            Shown {
                code,
                text: text.replace(dir.to_str().unwrap(), "DIR"),
            },
        ));
    }
    let pages: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/", vec![]),
        ("/articles", vec![]),
        ("/article", vec![("url", a)]),
        ("/article", vec![("url", b), ("from", "1"), ("to", "3")]),
        ("/article", vec![("url", c)]),
        ("/revision", vec![("url", a), ("rev", "2")]),
        ("/raw", vec![("url", b), ("rev", "1")]),
        ("/search", vec![("q", "Nordic")]),
        ("/feed.atom", vec![]),
    ];
    for (path, q) in pages {
        let t0 = std::time::Instant::now();
        let (status, body) = newsledger::web::render_page(path, &q, db).await;
        if std::env::var_os("FORGERY_PROFILE").is_some() {
            eprintln!("{:>8.1} ms  {path} {q:?}", t0.elapsed().as_secs_f64() * 1e3);
        }
        let name = format!("serve {path}?{q:?}");
        let text = String::from_utf8_lossy(&body).replace(dir.to_str().unwrap(), "DIR");
        out.push((
            name,
            Shown {
                code: if status == 200 { 0 } else { 1 },
                text,
            },
        ));
    }
    out
}

async fn verify(db: &Path) -> (u8, String) {
    let mut buf = Vec::new();
    let (code, err) =
        newsledger::cli::run_in_process(&["--db", db.to_str().unwrap(), "verify"], &mut buf).await;
    (code, format!("{}{err}", String::from_utf8_lossy(&buf)))
}

/// A table's columns: (name, declared type, not null, primary key position).
fn columns(conn: &Connection, table: &str) -> Vec<(String, String, bool, i64)> {
    conn.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid")
        .unwrap()
        .query_map([table], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every table the test mutates: all but the chain itself, SQLite's own and
/// full-text shadow tables.
fn tables(conn: &Connection) -> Vec<String> {
    conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('ledger', 'blobs')
         AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .unwrap()
    .query_map([], |r| r.get(0))
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
        Value::Blob(b) => format!("x'{}'", hex::encode(b)),
    }
}

/// The WHERE clause that names one row: its primary key, or its rowid.
fn row_filter(conn: &Connection, table: &str, rng: &mut Rng) -> Option<String> {
    let cols = columns(conn, table);
    let mut pk: Vec<&(String, String, bool, i64)> = cols.iter().filter(|c| c.3 > 0).collect();
    pk.sort_by_key(|c| c.3);
    let keys: Vec<String> = if pk.is_empty() {
        vec!["rowid".into()]
    } else {
        pk.iter().map(|c| c.0.clone()).collect()
    };
    let rows: Vec<Vec<Value>> = conn
        .prepare(&format!("SELECT {} FROM {table}", keys.join(", ")))
        .unwrap()
        .query_map([], |r| {
            (0..keys.len()).map(|i| r.get::<_, Value>(i)).collect()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    if rows.is_empty() {
        return None;
    }
    let row = &rows[rng.below(rows.len())];
    Some(
        keys.iter()
            .zip(row)
            .map(|(k, v)| format!("{k} = {}", literal(v)))
            .collect::<Vec<_>>()
            .join(" AND "),
    )
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A plausible other value for one column of one row.
fn other_value(
    conn: &Connection,
    table: &str,
    col: &str,
    now: &Value,
    rng: &mut Rng,
) -> Option<Value> {
    let others: Vec<Value> = conn
        .prepare(&format!(
            "SELECT DISTINCT {col} FROM {table} WHERE {col} IS NOT NULL"
        ))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let others: Vec<Value> = others.into_iter().filter(|v| v != now).collect();
    match now {
        Value::Null => (!others.is_empty()).then(|| others[rng.below(others.len())].clone()),
        Value::Integer(i) => Some(Value::Integer(if rng.below(2) == 0 {
            i + 1
        } else {
            i - 1
        })),
        Value::Real(f) => Some(Value::Real(f + 1.0)),
        Value::Blob(b) => {
            let mut b = b.clone();
            if let Some(x) = b.first_mut() {
                *x ^= 0x01;
            } else {
                b.push(1);
            }
            Some(Value::Blob(b))
        }
        Value::Text(t) => {
            if let Some(year) = t.get(..4).and_then(|y| y.parse::<i32>().ok())
                && t.get(4..5) == Some("-")
                && t.contains('T')
            {
                return Some(Value::Text(format!("{}{}", year - 1, &t[4..])));
            }
            if is_hash(t) {
                // Another real hash: from the same column, else any blob.
                let pool: Vec<String> = others
                    .iter()
                    .filter_map(|v| match v {
                        Value::Text(s) if is_hash(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                if !pool.is_empty() {
                    return Some(Value::Text(pool[rng.below(pool.len())].clone()));
                }
                let blob: String = conn
                    .query_row(
                        "SELECT lower(hex(hash)) FROM blobs WHERE lower(hex(hash)) <> ?1 LIMIT 1",
                        [t],
                        |r| r.get(0),
                    )
                    .ok()?;
                return Some(Value::Text(blob));
            }
            if rng.below(2) == 0 && !others.is_empty() {
                return Some(others[rng.below(others.len())].clone());
            }
            let forged = match t.as_str() {
                "[]" => "[\"body\"]".to_string(),
                "[\"title\"]" => "[\"body\"]".to_string(),
                s if s.starts_with('[') => "[\"title\"]".to_string(),
                s if s.starts_with('{') => s.replacen(':', ":\"0\",\"x\":", 1),
                "new" => "changed".into(),
                "changed" => "metadata".into(),
                "metadata" => "changed".into(),
                "unchanged" => "not_modified".into(),
                s => format!("{s} NOT"),
            };
            Some(Value::Text(forged))
        }
    }
}

/// The statements that forge one table: a value of each column, NULL in
/// each nullable one, a row deleted, a row inserted, the table dropped.
fn mutations(conn: &Connection, table: &str, rng: &mut Rng) -> Vec<String> {
    let mut out = Vec::new();
    let cols = columns(conn, table);
    for (col, _ty, notnull, _pk) in &cols {
        let Some(filter) = row_filter(conn, table, rng) else {
            continue;
        };
        let now: Value = conn
            .query_row(
                &format!("SELECT {col} FROM {table} WHERE {filter}"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        if let Some(v) = other_value(conn, table, col, &now, rng).filter(|v| *v != now) {
            out.push(format!(
                "UPDATE {table} SET {col} = {} WHERE {filter}",
                literal(&v)
            ));
        }
        if !notnull && now != Value::Null {
            out.push(format!("UPDATE {table} SET {col} = NULL WHERE {filter}"));
        }
    }
    if let Some(filter) = row_filter(conn, table, rng) {
        out.push(format!("DELETE FROM {table} WHERE {filter}"));
        // A plausible extra row: a copy of one with its key moved.
        let values: Vec<String> = cols
            .iter()
            .map(|(c, ty, _, pk)| match (pk, ty.as_str()) {
                (0, _) => c.clone(),
                (_, "INTEGER") => format!("{c} + 1000"),
                _ => format!("{c} || '-forged'"),
            })
            .collect();
        let names: Vec<&str> = cols.iter().map(|c| c.0.as_str()).collect();
        out.push(format!(
            "INSERT INTO {table} ({}) SELECT {} FROM {table} WHERE {filter}",
            names.join(", "),
            values.join(", ")
        ));
    }
    out.push(format!("DROP TABLE {table}"));
    out
}

/// Whether a read's failure names the table it found wrong.
fn names_table(text: &str, table: &str) -> bool {
    text.contains(table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_forgery_of_every_table_is_caught_or_changes_nothing() {
    let f = build().await;
    let base_dir = f.dir.join("base");
    std::fs::create_dir_all(&base_dir).unwrap();
    let base = base_dir.join("ledger.db");
    {
        // One self-contained file to copy (the WAL folded in).
        let c = Connection::open(&f.db).unwrap();
        c.execute("VACUUM INTO ?1", [base.to_str().unwrap()])
            .unwrap();
    }
    let (code, text) = verify(&base).await;
    assert_eq!(code, 0, "the untouched ledger verifies: {text}");
    std::fs::remove_file(newsledger::ledger::verified::verified_path(&base)).ok();
    let expected = surfaces(&base, &f).await;
    for (name, shown) in &expected {
        // verify-bundle: verified, except the timestamp the fixture does
        // not have (listed under NOT CHECKED, exit 4).
        let works = if name.starts_with("verify-bundle") {
            4
        } else {
            0
        };
        assert_eq!(
            shown.code, works,
            "{name} works on the untouched ledger: {}",
            shown.text
        );
    }

    bundles_hold_every_observation(&f, &base).await;

    let seed: u64 = std::env::var("FORGERY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x005e_ed31);
    let rounds: usize = std::env::var("FORGERY_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let mut rng = Rng(seed | 1);
    let conn = Connection::open(&base).unwrap();
    let all_tables = tables(&conn);
    assert!(
        newsledger::ledger::derive::schema::DERIVED_TABLES
            .iter()
            .chain(&["schema_version"])
            .all(|t| all_tables.iter().any(|a| a == t)),
        "{all_tables:?}"
    );
    let mut statements: Vec<(String, String)> = Vec::new();
    for round in 0..rounds {
        for table in &all_tables {
            for sql in mutations(&conn, table, &mut rng) {
                // A drop is the same every round.
                if round > 0 && sql.starts_with("DROP") {
                    continue;
                }
                statements.push((table.clone(), sql));
            }
        }
    }
    drop(conn);
    // The search index beside the ledger (made by the surfaces' `search`):
    // its tables too, but not FTS5's own shadow tables (`texts_*`), which
    // are SQLite's internals like `sqlite_*`.
    let index = PathBuf::from(format!("{}.search", base.display()));
    assert!(
        index.exists(),
        "the untouched ledger's search made its index"
    );
    let idx = Connection::open(&index).unwrap();
    let index_tables: Vec<String> = idx
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             AND name NOT LIKE 'texts_%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(index_tables, ["meta", "texts"]);
    for round in 0..rounds.div_ceil(4) {
        for table in &index_tables {
            for sql in mutations(&idx, table, &mut rng) {
                if round > 0 && sql.starts_with("DROP") {
                    continue;
                }
                statements.push((format!("{SEARCH}{table}"), sql));
            }
        }
    }
    drop(idx);
    // Two workers (this machine's cores), each on its own copies.
    let f = std::sync::Arc::new(f);
    let expected = std::sync::Arc::new(expected);
    let statements = std::sync::Arc::new(statements);
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (f, expected, statements, base) = (
                f.clone(),
                expected.clone(),
                statements.clone(),
                base.clone(),
            );
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(forge_all(&f, &base, &expected, &statements, w, 2))
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut tried = 0;
    for w in workers {
        let (t, fails) = w.join().unwrap();
        tried += t;
        failures.extend(fails);
    }
    eprintln!(
        "{tried} forgeries of {} tables tried (seed {seed:#x})",
        all_tables.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures (seed {seed:#x}):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(tried >= 80 * rounds, "only {tried} forgeries applied");
}

/// A whole-history bundle holds every observation `history` counts, the
/// compact entries included, and both verifiers accept it.
async fn bundles_hold_every_observation(f: &Fixture, base: &Path) {
    let d = base.to_str().unwrap();
    for url in &f.urls {
        let mut buf = Vec::new();
        let (code, err) =
            newsledger::cli::run_in_process(&["--db", d, "history", url, "--json"], &mut buf).await;
        assert_eq!(code, 0, "{err}");
        let history: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        let observed: u64 = history
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["observations"].as_u64().unwrap())
            .sum();
        let bundle = base.with_file_name("whole.wacz");
        let b = bundle.to_str().unwrap();
        let (code, err) =
            newsledger::cli::run_in_process(&["--db", d, "prove", url, "-o", b], &mut Vec::new())
                .await;
        assert_eq!(code, 0, "{err}");
        let mut out = Vec::new();
        let (code, err) =
            newsledger::cli::run_in_process(&["verify-bundle", b, "--key", &f.vkey], &mut out)
                .await;
        let out = String::from_utf8_lossy(&out).into_owned();
        assert_eq!(code, 4, "verified but for the timestamp: {err}{out}");
        assert!(
            out.contains(&format!(
                "{url}: {observed} observations in {} stretches",
                history.as_array().unwrap().len()
            )),
            "history counts {observed}: {out}"
        );
        let compact = out
            .split(" of them unchanged or not-modified fetches")
            .next()
            .and_then(|l| l.rsplit('(').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap();
        assert!(
            compact > 0,
            "the fixture has compact entries for {url}: {out}"
        );
        let py = std::process::Command::new(
            std::env::var("NEWSLEDGER_PYTHON").unwrap_or_else(|_| "python3".into()),
        )
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tools/verify_bundle.py"),
            b,
            "--key",
            &f.vkey,
        ])
        .output()
        .unwrap();
        assert_eq!(
            py.status.code(),
            Some(4),
            "{}{}",
            stdout(&py),
            common::stderr(&py)
        );
        assert!(
            stdout(&py).contains(&format!(
                "{compact} unchanged or not-modified fetches kept as compact entries"
            )),
            "{}",
            stdout(&py)
        );
    }
}

/// Applies every `k`th statement from the `w`th on a fresh copy of `base`
/// and checks `verify`, every surface and `rebuild`: (forgeries applied,
/// failures).
async fn forge_all(
    f: &Fixture,
    base: &Path,
    expected: &[(String, Shown)],
    statements: &[(String, String)],
    w: usize,
    k: usize,
) -> (usize, Vec<String>) {
    let mut failures: Vec<String> = Vec::new();
    let work = f.dir.join(format!("work{w}"));
    let mut tried = 0;
    for (table, sql) in statements.iter().skip(w).step_by(k) {
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).unwrap();
        let db = work.join("ledger.db");
        std::fs::copy(base, &db).unwrap();
        // The search index the untouched ledger's `search` made, as a
        // daemon's machine would have it beside the ledger.
        let index = PathBuf::from(format!("{}.search", base.display()));
        if index.exists() {
            std::fs::copy(&index, format!("{}.search", db.display())).unwrap();
        }
        let on_index = table.starts_with(SEARCH);
        {
            let target = if on_index {
                PathBuf::from(format!("{}.search", db.display()))
            } else {
                db.clone()
            };
            let c = Connection::open(&target).unwrap();
            match c.execute_batch(sql) {
                Ok(()) if c.changes() > 0 || sql.starts_with("DROP") => {}
                // A constraint refused it, or it matched nothing: not a forgery.
                _ => continue,
            }
        }
        tried += 1;
        let file = if on_index { "LEDGER.search" } else { "LEDGER" };
        let repro = format!("sqlite3 {file} \"{}\"", sql.replace('"', "\\\""));
        let operational = newsledger::ledger::OPERATIONAL
            .iter()
            .any(|(t, c)| t == table && (*c == "*" || sql.contains(&format!("SET {c} ="))));
        let (code, text) = verify(&db).await;
        if !operational && code != 1 {
            failures.push(format!("{repro}: verify exited {code}: {text}"));
        }
        std::fs::remove_file(newsledger::ledger::verified::verified_path(&db)).ok();
        let shown = surfaces(&db, f).await;
        // An index row whose text was edited can hide a hit until `verify`
        // names it (README): only `verify` is held to that forgery.
        let hides = on_index && sql.contains("SET body");
        let named = if on_index {
            "search index"
        } else {
            table.as_str()
        };
        for ((name, want), (_, got)) in expected.iter().zip(&shown) {
            if hides && name.contains("search") {
                continue;
            }
            if got != want && !(got.code != 0 && names_table(&got.text, named)) {
                failures.push(format!(
                    "{repro}: `{name}` differs (exit {}): {}",
                    got.code,
                    got.text.chars().take(400).collect::<String>()
                ));
            }
        }
        if on_index && !text.contains("search index") {
            failures.push(format!(
                "{repro} (on LEDGER.search): verify does not name the index: {text}"
            ));
        }
        if !operational {
            let d = db.to_str().unwrap();
            let mut sink = Vec::new();
            let (mut rc, mut err) =
                newsledger::cli::run_in_process(&["--db", d, "rebuild"], &mut sink).await;
            // A position beyond the head looks like a truncation: `rebuild`
            // keeps it as evidence unless told.
            if err.contains("--force") {
                (rc, err) =
                    newsledger::cli::run_in_process(&["--db", d, "rebuild", "--force"], &mut sink)
                        .await;
            }
            let (code, text) = verify(&db).await;
            if rc != 0 || code != 0 {
                failures.push(format!(
                    "{repro}: after `rebuild` (exit {rc}: {err}) verify exited {code}: {text}"
                ));
            }
        }
        if failures.len() > 20 {
            break;
        }
    }
    (tried, failures)
}

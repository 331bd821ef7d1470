//! Command-line contracts: bad configuration and bad arguments give one
//! clear line and exit 2; the example config validates; the demo works.

mod common;

use common::{run, stderr, stdout};

fn write(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("newsledger.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str = "[ledger]\npath = \"l.db\"\n\n[[source]]\nname = \"a\"\nschedule = \"*/15 * * * *\"\nurls = [\"https://example.org/a\"]\n";

#[tokio::test]
async fn bad_configurations_give_one_line_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            GOOD.replace("name = \"a\"", "name = \"a\"\ncolour = \"red\""),
            ":6: colour:",
        ),
        (
            GOOD.replace("*/15 * * * *", "*/15 * *"),
            ":6: source.a.schedule:",
        ),
        (
            GOOD.replace("[ledger]", "[fetch]\ntimeout = \"soon\"\n[ledger]"),
            ":2: fetch.timeout:",
        ),
        (
            GOOD.replace("[ledger]", "[fetch]\ntimeout = \"0s\"\n[ledger]"),
            ":2: fetch.timeout: `0s` is zero",
        ),
        (
            GOOD.replace("*/15 * * * *", "0 0 30 2 *"),
            ":6: source.a.schedule: `0 0 30 2 *` never fires",
        ),
        (
            format!(
                "{GOOD}\n[[source]]\nname = \"a\"\nschedule = \"0 * * * *\"\nurls = [\"https://example.org/b\"]\n"
            ),
            ":10: source.name: duplicate source name `a`",
        ),
        (
            GOOD.replace("https://example.org/a", "example dot org"),
            ":7: source.a.urls:",
        ),
    ];
    for (text, want) in cases {
        let path = write(&dir, &text);
        let out = run(Some(&path), &["check-config"]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains(&format!("{}{want}", path.display())),
            "want {want:?} in {err}"
        );
        // `run` refuses to start on the same file, with the same line.
        let out = run(Some(&path), &["run"]).await;
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(stderr(&out).trim(), err.trim());
    }
}

#[tokio::test]
async fn bad_arguments_give_one_line_and_exit_2() {
    for args in [
        &["frobnicate"][..],
        &["history"][..],
        &["verify", "--checkpoint", "12"][..],
        &["once", "--bogus"][..],
    ] {
        let out = run(None, args).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    let out = run(None, &["status", "--db", missing.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

/// `run` and `once` on a configuration that watches nothing refuse, naming
/// the file, and create no ledger.
#[tokio::test]
async fn a_configuration_without_sources_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let path = dir.path().join("empty.toml");
    std::fs::write(&path, format!("[ledger]\npath = \"{}\"\n", db.display())).unwrap();
    for cmd in ["run", "once"] {
        let out = run(Some(&path), &[cmd]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{cmd}: {err}");
        assert!(
            err.contains(&path.display().to_string()) && err.contains("no [[source]]"),
            "{cmd}: {err}"
        );
        assert!(!db.exists(), "{cmd} created the ledger");
    }
}

#[tokio::test]
async fn the_example_config_validates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.toml");
    let out = run(Some(std::path::Path::new(path)), &["check-config"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("source nordic-monitor: schedule \"*/15 * * * *\" (Europe/Istanbul)"),
        "{text}"
    );
    assert!(text.contains("source hurriyet"), "{text}");
}

#[tokio::test]
async fn the_production_example_validates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/newsledger.toml");
    let out = run(Some(std::path::Path::new(path)), &["check-config"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .contains("source hurriyet-daily-news: schedule \"7 * * * *\" (Europe/Istanbul)")
    );
}

#[tokio::test]
async fn extract_prints_text_and_json() {
    let a = common::seed("nordic-monitor");
    let url = format!("https://nordicmonitor.example{}", a.path);
    let html = newsledger::demo::site::render(&a, &url, &newsledger::demo::site::Chrome::visit(3));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("page.html");
    std::fs::write(&file, html).unwrap();
    let out = run(None, &["extract", file.to_str().unwrap(), "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "title",
        "byline",
        "published",
        "modified",
        "language",
        "canonical_url",
        "site_name",
        "description",
        "text",
        "extractor_version",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["title"], a.title);
    assert_eq!(v["canonical_url"], url);
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .starts_with("Abdullah Bozkurt/Stockholm\n\nTurkey and Azerbaijan")
    );
    let out = run(None, &["extract", file.to_str().unwrap()]).await;
    assert!(stdout(&out).contains("byline:      Abdullah Bozkurt"));
}

#[tokio::test]
async fn the_demo_flags_the_edit_and_the_removal_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = run(None, &["demo", "--db", db.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let flagged: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  CHANGED") || l.starts_with("  GONE"))
        .collect();
    assert_eq!(flagged.len(), 2, "{text}");
    assert!(
        flagged
            .iter()
            .any(|l| l.contains("CHANGED") && l.contains("turkey-may-send-its-police")),
        "{text}"
    );
    assert!(
        flagged
            .iter()
            .any(|l| l.contains("GONE") && l.contains("azerbaijani-parliament")),
        "{text}"
    );
    assert!(
        text.contains("{+The Turkish Riot Police are a notorious branch"),
        "{text}"
    );
    assert!(
        text.contains("(nothing for ") && text.contains("only its chrome changed"),
        "{text}"
    );
    assert!(text.contains("chain intact"), "{text}");
    assert!(
        text.contains(&format!("newsledger verify --db {}", db.display())),
        "{text}"
    );
    let verify = run(None, &["verify", "--db", db.to_str().unwrap()]).await;
    assert!(verify.status.success());
}

/// `cargo run --release -- demo` on a fresh machine: no `--db`, and the
/// default ledger's directory under the temporary directory does not exist
/// yet (it did on every machine that had run the demo before, which hid
/// that the demo failed without it).
#[tokio::test]
async fn the_demo_runs_as_the_readme_says_on_a_fresh_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(common::bin())
        .arg("demo")
        .env("TMPDIR", tmp.path())
        .env_remove("NEWSLEDGER_CONFIG")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // A directory of its own, with an unpredictable name, never a fixed one.
    let dirs: Vec<std::path::PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("newsledger-demo-"))
        })
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dirs[0]).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
    let db = dirs[0].join("ledger.db");
    assert!(db.exists(), "no ledger at {}", db.display());
    assert!(
        stdout(&out).contains(&format!("newsledger verify --db {}", db.display())),
        "{}",
        stdout(&out)
    );
    // A --db whose directory cannot be made gets one clear error.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let bad = file.join("ledger.db");
    let out = run(None, &["demo", "--db", bad.to_str().unwrap()]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot create {}", file.display())) && err.contains("--db"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_text_cannot_drive_the_terminal() {
    let s = common::Setup::new().await;
    let title = "Harbour \u{1b}[2J\u{1b}]0;pwned\u{7} plan \u{202e}evil";
    let html = format!(
        "<html><head><title>{title}</title></head><body><article><h1>{title}</h1>\
         <p>{}</p></article></body></html>",
        "The council approved the harbour plan after a long debate on Tuesday evening. \u{1b}[31mRed\u{1b}[0m text. ".repeat(8)
    );
    s.server.set("/a", common::server::Page::html(html));
    s.write_config("0 0 * * *", &["/a"]);
    assert!(s.cli(&["once"]).await.status.success());
    let url = s.server.url("/a");
    for args in [vec!["history", url.as_str()], vec!["show", url.as_str()]] {
        let o = s.cli(&args).await;
        let out = common::stdout(&o);
        assert!(o.status.success());
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\u{202e}'),
            "{args:?}: {out:?}"
        );
        assert!(out.contains("\\u{1b}[2J"), "shown escaped: {out}");
    }
    // --json keeps the page's text verbatim.
    let j = s.json(&["show", &url, "--json"]).await;
    assert!(j["article"]["title"].as_str().unwrap().contains('\u{1b}'));
}

#[tokio::test]
async fn check_config_warns_when_a_source_lives_on_a_private_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        &GOOD.replace("https://example.org/a", "http://127.0.0.1:8080/a"),
    );
    let out = run(Some(&path), &["check-config"]).await;
    assert!(out.status.success());
    let text = common::stdout(&out);
    assert!(
        text.contains("warning: http://127.0.0.1:8080/a is on a private address"),
        "{text}"
    );
    let allowed = write(
        &dir,
        &GOOD
            .replace("https://example.org/a", "http://127.0.0.1:8080/a")
            .replace(
                "[ledger]",
                "[fetch]\nallow_private_networks = true\n[ledger]",
            ),
    );
    let out = run(Some(&allowed), &["check-config"]).await;
    assert!(
        !common::stdout(&out).contains("warning"),
        "{}",
        common::stdout(&out)
    );
}

/// A command missing a required argument names it, on one line, exit 2.
#[tokio::test]
async fn a_missing_argument_is_named() {
    for (args, named) in [
        (&["verify-bundle", "x.wacz"][..], "--key <VKEY>"),
        (&["prove"][..], "<URL>"),
        (&["key", "generate"][..], "--name <NAME>"),
        (&["diff"][..], "<URL>"),
    ] {
        let out = run(None, args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("required arguments were not provided") && err.contains(named),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

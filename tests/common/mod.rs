//! Shared helpers for the integration tests: the real binary, a real HTTP
//! server on 127.0.0.1, a real SQLite file in a temp dir.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

#[path = "../support/server.rs"]
pub mod server;

use newsledger::demo::site::{self, Chrome, SeedArticle};
use server::{Page, Server};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_newsledger")
}

/// A test site, a temp dir, and a config file pointing at both.
pub struct Setup {
    pub server: Server,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
}

impl Setup {
    /// A new checkpoint key (`key generate --name NAME`) configured as
    /// `[checkpoint] key`; returns its verifier key. Call after
    /// `write_config`.
    pub async fn checkpoint_key(&self, name: &str) -> String {
        let key = self.dir.path().join("checkpoint.key");
        let out = run(
            None,
            &[
                "key",
                "generate",
                "--name",
                name,
                "-o",
                key.to_str().unwrap(),
            ],
        )
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
        let mut text = std::fs::read_to_string(&self.config).expect("config written");
        text.push_str(&format!("\n[checkpoint]\nkey = \"{}\"\n", key.display()));
        std::fs::write(&self.config, text).expect("write config");
        stdout(&out).trim().to_string()
    }

    pub async fn new() -> Setup {
        let server = Server::start().await.expect("bind 127.0.0.1");
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("ledger.db");
        let config = dir.path().join("newsledger.toml");
        Setup {
            server,
            dir,
            config,
            db,
        }
    }

    /// Writes a config with one source over `paths` on the test server.
    pub fn write_config(&self, schedule: &str, paths: &[&str]) {
        let urls: Vec<String> = paths
            .iter()
            .map(|p| format!("\"{}\"", self.server.url(p)))
            .collect();
        let text = format!(
            "[ledger]\npath = \"{}\"\n\n[fetch]\nper_host_interval = \"0s\"\ntimeout = \"20s\"\n\n[[source]]\nname = \"test-news\"\nschedule = \"{schedule}\"\nurls = [{}]\n",
            self.db.display(),
            urls.join(", ")
        );
        std::fs::write(&self.config, text).expect("write config");
    }

    pub fn publish(&self, a: &SeedArticle, visit: u64) {
        let url = self.server.url(&a.path);
        self.server.set(
            &a.path,
            Page::html(site::render(a, &url, &Chrome::visit(visit))),
        );
    }

    /// Runs the binary with `--config` and waits for it.
    pub async fn cli(&self, args: &[&str]) -> Output {
        run(Some(&self.config), args).await
    }

    pub async fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli(args).await;
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

pub async fn run(config: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(bin());
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.args(args)
        .env("RUST_LOG", "info")
        .env_remove("NEWSLEDGER_CONFIG");
    cmd.output().await.expect("run newsledger")
}

pub fn seed(key: &str) -> SeedArticle {
    site::seeds()
        .into_iter()
        .find(|a| a.key == key)
        .expect("seed exists")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Starts `newsledger run` with stderr captured (read it with [`stderr_of`]).
pub fn spawn_run(config: &Path) -> tokio::process::Child {
    spawn_run_under(&[], config)
}

/// [`spawn_run`] under a wrapper command (`prlimit --nofile=48 --`).
pub fn spawn_run_under(wrapper: &[&str], config: &Path) -> tokio::process::Child {
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = tokio::process::Command::new(first);
            c.args(rest).arg(bin());
            c
        }
        None => tokio::process::Command::new(bin()),
    };
    cmd.arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn newsledger run")
}

/// Everything a finished child wrote to stderr.
pub async fn stderr_of(child: &mut tokio::process::Child) -> String {
    use tokio::io::AsyncReadExt;
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).await.expect("read stderr");
    }
    err
}

/// Two seed articles (Nordic Monitor, YCPress) on the test site, fetched
/// twice by `once`: two revisions, then unchanged/not-modified fetches.
pub async fn two_articles_fetched_twice() -> Setup {
    let s = Setup::new().await;
    let a = seed("nordic-monitor");
    let b = seed("ycpress");
    s.publish(&a, 0);
    s.publish(&b, 0);
    s.write_config("0 0 * * *", &[&a.path, &b.path]);
    assert!(s.cli(&["once"]).await.status.success());
    assert!(s.cli(&["once"]).await.status.success());
    s
}

/// Publishes the Nordic Monitor article with the paragraph it quietly gained.
pub fn publish_quiet_edit(s: &Setup) {
    let mut edited = seed("nordic-monitor");
    edited.blocks.push(newsledger::demo::site::Block::Paragraph(
        newsledger::demo::site::NORDIC_ADDED_PARAGRAPH.into(),
    ));
    s.publish(&edited, 0);
}

/// Every `.html` / `.html.gz` under `dir` whose sorted position is a
/// multiple of `every` (benchmark pages, fixture pages).
pub fn html_files(dir: &Path, every: usize) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        let n = p.to_string_lossy();
        n.ends_with(".html") || n.ends_with(".html.gz")
    });
    files.sort();
    files.into_iter().step_by(every.max(1)).collect()
}

/// A page's bytes, gunzipped when its name ends in `.gz`.
pub fn read_page(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let bytes = std::fs::read(path).unwrap();
    if path.to_string_lossy().ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        bytes
    }
}

/// Cases per property test: `default` in `cargo test`, more (or fewer)
/// with `PROPTEST_CASES`.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A Python with warcio (and the CI venv's other packages): `NEWSLEDGER_PYTHON`,
/// else `python3`. Without one the Python checks are skipped with a note,
/// unless NEWSLEDGER_REQUIRE_BROWSER or CI is set (CI's run sets the
/// first): then it is a failure.
pub fn python_with_warcio() -> Option<String> {
    let python = std::env::var("NEWSLEDGER_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import warcio"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("NEWSLEDGER_REQUIRE_BROWSER").is_none()
            && std::env::var_os("CI").is_none(),
        "CI must provide warcio (NEWSLEDGER_PYTHON={python})"
    );
    eprintln!(
        "skipping the Python checks: no Python with warcio (pip install warcio, or set NEWSLEDGER_PYTHON)"
    );
    None
}

/// The Python that drives Chromium through Selenium, when every part is
/// there (Chromium, its driver, Selenium); `None` with a printed note
/// otherwise, unless NEWSLEDGER_REQUIRE_BROWSER is set (CI sets it): then a
/// missing part fails the test, naming it.
pub fn browser_python() -> Option<String> {
    let python = std::env::var("NEWSLEDGER_PYTHON").unwrap_or_else(|_| "python3".into());
    let selenium = std::process::Command::new(&python)
        .args(["-c", "import selenium"])
        .output()
        .is_ok_and(|o| o.status.success());
    let missing: Vec<&str> = [
        (Path::new("/usr/bin/chromium").exists(), "/usr/bin/chromium"),
        (
            Path::new("/usr/bin/chromedriver").exists(),
            "/usr/bin/chromedriver",
        ),
        (
            selenium,
            "Selenium for NEWSLEDGER_PYTHON (pip install selenium)",
        ),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, what)| what)
    .collect();
    if missing.is_empty() {
        return Some(python);
    }
    assert!(
        std::env::var_os("NEWSLEDGER_REQUIRE_BROWSER").is_none(),
        "NEWSLEDGER_REQUIRE_BROWSER is set, and these are missing: {}",
        missing.join(", ")
    );
    eprintln!(
        "SKIPPED the browser checks: missing {} (CI installs them)",
        missing.join(", ")
    );
    None
}

/// A response as a model's server sends it: the capture is the message
/// it writes, byte for byte.
pub fn response(status: u16, body: &str) -> newsledger::fetch::Response {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    newsledger::fetch::Response {
        status,
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body: body.as_bytes().to_vec().into(),
        wire: None,
        capture: newsledger::exchange::Captured {
            sent: "GET / HTTP/1.1\r\nhost: coast.example\r\n\r\n".into(),
            received: [head.as_bytes(), body.as_bytes()].concat().into(),
            interim: Default::default(),
            peer: "127.0.0.1:80".parse().unwrap(),
            tls: None,
        },
    }
}

//! A real PostgreSQL for the tests: Debian's server binaries, a new cluster
//! in a temporary directory (`initdb`, `pg_ctl`), listening on 127.0.0.1 on
//! a free port, run as an unprivileged user (the `postgres` account when
//! the tests run as root: the server refuses root). Stopped, and its files
//! removed, when dropped.
//!
//! Without the binaries the tests that need it are skipped with a line on
//! stderr, unless `NEWSLEDGER_REQUIRE_POSTGRES=1` (CI sets it), which makes
//! a missing server a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// `runuser -u postgres --` when running as root.
    as_user: Option<String>,
}

/// Debian's server binaries (`/usr/lib/postgresql/N/bin`), newest first.
fn binaries() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        == Some("0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// A new cluster, started; `None` (the test is skipped) when the
    /// binaries are missing and CI did not ask for them.
    pub fn start() -> Option<Postgres> {
        let Some(bin) = binaries() else {
            assert!(
                std::env::var("NEWSLEDGER_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "NEWSLEDGER_REQUIRE_POSTGRES=1 but no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)"
            );
            eprintln!(
                "SKIPPED the PostgreSQL checks: no server under /usr/lib/postgresql (CI installs it)"
            );
            return None;
        };
        let as_user = is_root().then(|| "postgres".to_string());
        let dir = tempfile::tempdir().unwrap();
        if let Some(user) = &as_user {
            let ok = Command::new("chown")
                .args(["-R", user, dir.path().to_str().unwrap()])
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown the cluster's directory to {user}");
        }
        let pg = Postgres {
            dir,
            bin,
            port: free_port(),
            as_user,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "newsledger",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        pg.start_server();
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server (again, after [`Postgres::kill`]) and waits for it.
    pub fn start_server(&self) {
        let data = self.data();
        let log = self.dir.path().join("server.log").display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
        );
    }

    /// SIGKILL to the server's postmaster: a crash, not a shutdown.
    pub fn kill(&self) {
        let pid = std::fs::read_to_string(Path::new(&self.data()).join("postmaster.pid"))
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        assert!(!pid.is_empty(), "no postmaster.pid");
        // The postmaster and every process it started, at once: the server
        // is gone as in a power cut (its children would otherwise hold its
        // shared memory, and a new postmaster refuses to start beside them).
        let mut pids = vec![pid.clone()];
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ...
            let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
            if after.split_whitespace().nth(1) == Some(pid.as_str()) {
                pids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Command::new("kill")
            .arg("-KILL")
            .args(&pids)
            .status()
            .unwrap();
        for _ in 0..100 {
            let alive = pids.iter().any(|p| Path::new("/proc").join(p).exists());
            if !alive {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// A new, empty database; its URL.
    pub fn database(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "ledger_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut client = postgres::Client::connect(&self.url("postgres"), postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        self.url(&name)
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://newsledger@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = match &self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let _ = cmd.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

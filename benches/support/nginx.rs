//! nginx (the distribution's package) as the benchmarks' web server: one
//! worker (the other core is newsledger's), started in the foreground on
//! loopback hosts, stopped gracefully.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// nginx on PATH or in the usual places (Debian: nginx-light).
pub fn binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A running nginx; stopped when dropped.
pub struct Nginx(Child);

impl Nginx {
    /// Starts nginx with `servers` (its `server { … }` blocks) under
    /// `dir`, and waits until `ready` (an address one of them listens on)
    /// answers.
    pub fn start(nginx: &Path, dir: &Path, servers: &str, ready: &str) -> Nginx {
        let conf = format!(
            "worker_processes 1;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n{user}events {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n  sendfile on;\n  keepalive_requests 100000;\n  default_type text/html;\n  types {{ text/html html; application/xml xml; }}\n  client_body_temp_path {dir}/tmp;\n  proxy_temp_path {dir}/tmp;\n  fastcgi_temp_path {dir}/tmp;\n  uwsgi_temp_path {dir}/tmp;\n  scgi_temp_path {dir}/tmp;\n{servers}}}\n",
            dir = dir.display(),
            user = if is_root() { "user root;\n" } else { "" },
        );
        std::fs::create_dir_all(dir.join("tmp")).expect("tmp");
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("conf");
        let child = Command::new(nginx)
            .args([
                "-p",
                dir.to_str().expect("path"),
                "-c",
                conf_path.to_str().expect("path"),
            ])
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let mut server = Nginx(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(ready).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server.stop();
        panic!("nginx did not start; see {}/error.log", dir.display());
    }

    /// SIGQUIT: nginx's graceful stop, which also ends its worker (SIGKILL
    /// to the master would leave the worker running, holding our stdout).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-QUIT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        == Some("0")
}

/// A port free on loopback now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

/// Makes a tree readable by nginx's worker, which may run as another user.
pub fn readable(dir: &Path) {
    let _ = Command::new("chmod")
        .args(["-R", "a+rX", dir.to_str().expect("path")])
        .status();
}

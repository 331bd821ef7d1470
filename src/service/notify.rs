//! systemd's notification protocol (sd_notify): datagrams of `KEY=VALUE`
//! lines to the socket named by `$NOTIFY_SOCKET`. READY=1 once the ledger
//! is open and schedules are armed, STATUS= after each cycle, WATCHDOG=1
//! at half of `$WATCHDOG_USEC`, STOPPING=1 on shutdown. Without the
//! variable (not under systemd) every call does nothing.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// The notification socket, if systemd gave one.
#[derive(Debug, Clone)]
pub struct Notifier {
    target: Option<String>,
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket).
    pub fn from_env() -> Notifier {
        Notifier {
            target: std::env::var("NOTIFY_SOCKET")
                .ok()
                .filter(|s| !s.is_empty()),
        }
    }

    /// Sends one notification; errors are logged, never fatal.
    pub fn send(&self, state: &str) {
        let Some(target) = &self.target else { return };
        let result = (|| -> std::io::Result<()> {
            let sock = UnixDatagram::unbound()?;
            let addr = match target.strip_prefix('@') {
                Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
                None => SocketAddr::from_pathname(target)?,
            };
            sock.send_to_addr(state.as_bytes(), &addr)?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::debug!(error = %e, socket = %target, "sd_notify failed");
        }
    }

    pub fn ready(&self) {
        self.send("READY=1");
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    pub fn status(&self, text: &str) {
        // One line: systemctl status shows it as is.
        self.send(&format!("STATUS={}", text.replace('\n', " ")));
    }

    /// How often to send WATCHDOG=1: half the interval systemd asked for.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.target.as_ref()?;
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        if let Some(pid) = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            && pid != std::process::id()
        {
            return None;
        }
        (usec > 0).then(|| Duration::from_micros(usec / 2))
    }
}

//! systemd's notification protocol (sd_notify): datagrams of `KEY=VALUE`
//! lines to the socket named by `$NOTIFY_SOCKET`. READY=1 once the ledger
//! is open and schedules are armed, STATUS= after each cycle, WATCHDOG=1
//! at half of `$WATCHDOG_USEC`, STOPPING=1 on shutdown. While start-up is
//! still busy (a migration or a rebuild of a large ledger can take minutes),
//! EXTEND_TIMEOUT_USEC every few seconds, so that systemd's start timeout
//! does not kill a daemon that is working. Without the variable (not under
//! systemd) every call does nothing.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

    /// Until the returned guard is dropped, tells systemd every `every`
    /// that start-up is still under way: EXTEND_TIMEOUT_USEC (three times
    /// `every` from now), WATCHDOG=1 and a STATUS line naming `what` and
    /// how long it has taken. A start-up that ends within `every` sends
    /// nothing.
    pub fn extend_while_busy(&self, every: Duration, what: &str) -> Busy {
        if self.target.is_none() {
            return Busy { stop: None };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let (notifier, what, began) = (self.clone(), what.to_string(), Instant::now());
        let thread = std::thread::Builder::new()
            .name("sd-notify-busy".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    notifier.send(&format!(
                        "EXTEND_TIMEOUT_USEC={}\nWATCHDOG=1\nSTATUS={what} ({} s so far)",
                        (every * 3).as_micros(),
                        began.elapsed().as_secs()
                    ));
                }
            });
        match thread {
            Ok(thread) => Busy {
                stop: Some((stop, thread)),
            },
            Err(e) => {
                tracing::debug!(error = %e, "could not start the start-up notifier thread");
                Busy { stop: None }
            }
        }
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

/// Start-up still under way (`Notifier::extend_while_busy`); dropping it
/// stops the notifications and waits for their thread.
pub struct Busy {
    stop: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.stop.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(sock: &UnixDatagram) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = sock.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    /// A real datagram socket stands for systemd's: a busy start-up extends
    /// the start timeout while it lasts and stops when it ends; a quick one
    /// sends nothing.
    #[test]
    fn a_busy_start_up_extends_the_timeout_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_nonblocking(true).unwrap();
        let notifier = Notifier {
            target: Some(path.to_string_lossy().into_owned()),
        };

        drop(notifier.extend_while_busy(Duration::from_secs(5), "quick"));
        assert!(received(&sock).is_empty());

        let busy = notifier.extend_while_busy(Duration::from_millis(50), "opening the ledger");
        std::thread::sleep(Duration::from_millis(400));
        drop(busy);
        let got = received(&sock);
        assert!(got.len() >= 3, "{got:?}");
        for m in &got {
            assert!(m.starts_with("EXTEND_TIMEOUT_USEC=150000\n"), "{m}");
            assert!(m.contains("\nWATCHDOG=1\n"), "{m}");
            assert!(m.contains("STATUS=opening the ledger ("), "{m}");
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            received(&sock).is_empty(),
            "notifications after the guard was dropped"
        );
    }

    #[test]
    fn outside_systemd_nothing_is_started() {
        let notifier = Notifier { target: None };
        let busy = notifier.extend_while_busy(Duration::from_millis(1), "x");
        assert!(busy.stop.is_none());
    }
}

//! Open files: the process raises its soft `RLIMIT_NOFILE` to the hard one
//! at start, and every listener and pool sizes its cap from what it got, so
//! that connections to `serve` or the metrics port can never take the
//! descriptors the fetcher and the ledger need (under `prlimit --nofile=64`
//! idle metrics connections once made every fetch fail).

use std::sync::OnceLock;

static OPEN_FILES: OnceLock<u64> = OnceLock::new();

/// The soft limit on open files after raising it to the hard limit (once;
/// 1,024 where it cannot be read).
pub fn open_files() -> u64 {
    *OPEN_FILES.get_or_init(raise)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn raise() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn raise() -> u64 {
    1024
}

/// A listener's or pool's share of the open files: `1/divisor` of the
/// limit, at most `most`, at least 4.
pub fn share(divisor: u64, most: usize) -> usize {
    ((open_files() / divisor) as usize).clamp(4, most)
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_stay_within_their_bounds() {
        assert!(super::open_files() >= 4);
        let s = super::share(8, 128);
        assert!((4..=128).contains(&s));
        assert_eq!(super::share(u64::MAX, 128), 4);
    }
}

//! The blobs: every blob an entry names is present and hashes to its name.

use rusqlite::Connection;

use super::{Break, Options, Report};
use crate::ledger::{LedgerError, blobs};

/// Checks blobs on every core: each worker reads on its own connection
/// (blobs are never changed once written, so any snapshot at or after ours
/// holds them). Returns the first failure in entry order, if any.
pub(super) fn check_blobs(
    conn: &Connection,
    refs: &[(i64, String)],
    report: &mut Report,
    options: &Options<'_>,
) -> Result<Option<Break>, LedgerError> {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let workers = std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .min(refs.len().max(1));
    let path = conn.path().map(std::path::PathBuf::from);
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let total = refs.len() as u64;
    let t0 = std::time::Instant::now();
    let work = |c: &Connection| -> Option<Break> {
        let mut first: Option<Break> = None;
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((seq, hash)) = refs.get(i) else {
                return first;
            };
            if first.as_ref().is_some_and(|b| b.seq < *seq) {
                continue;
            }
            match blobs::get(c, hash) {
                Ok(b) => {
                    bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                }
                Err(err) => {
                    first = Some(Break {
                        seq: *seq,
                        reason: err.to_string(),
                    });
                }
            }
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(p) = options.progress
                && d.is_multiple_of(256)
            {
                p("blobs", d, total);
            }
        }
    };
    let found: Vec<Option<Break>> = match path.filter(|p| !p.as_os_str().is_empty()) {
        Some(path) if workers > 1 => std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let path = path.clone();
                    let work = &work;
                    scope.spawn(move || match crate::ledger::open_read_only(&path) {
                        Ok(c) => work(&c),
                        Err(e) => Some(Break {
                            seq: 0,
                            reason: e.to_string(),
                        }),
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().ok().flatten())
                .collect()
        }),
        _ => vec![work(conn)],
    };
    report.blobs_checked = done.load(Ordering::Relaxed);
    report.blob_bytes = bytes.load(Ordering::Relaxed);
    report.blob_seconds = t0.elapsed().as_secs_f64();
    Ok(found.into_iter().flatten().min_by_key(|b| b.seq))
}

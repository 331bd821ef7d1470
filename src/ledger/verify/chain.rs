//! The chain: every entry's hash and its link to the entry before it, on
//! every core for a long ledger.

use rusqlite::{Connection, OptionalExtension};

use super::{Break, Options, Report};
use crate::ledger::LedgerError;
use crate::ledger::entry::{Checkpoint, Entry, ZERO_HASH};

/// One row, borrowed from SQLite's buffers.
pub(super) struct EntryRef<'a> {
    pub(super) seq: i64,
    pub(super) recorded_at: &'a str,
    pub(super) kind: &'a str,
    pub(super) url: Option<&'a str>,
    /// The JSON text ("" for a compact entry).
    pub(super) payload: &'a str,
    /// A compact entry's full entry and stored bytes.
    pub(super) compact: Option<(i64, &'a [u8])>,
    /// `ref_seq` on a full entry (not covered by its hash).
    pub(super) stray_ref_seq: Option<i64>,
    pub(super) prev_hash: &'a [u8],
    pub(super) entry_hash: &'a [u8],
}

/// Reads one row selected with [`Entry::COLUMNS`], borrowing its columns
/// (no allocation per entry on the hot path).
pub(super) fn entry_ref<'r>(row: &'r rusqlite::Row<'_>) -> rusqlite::Result<EntryRef<'r>> {
    use rusqlite::types::{Type, ValueRef};
    let text = |i: usize| -> rusqlite::Result<&'r str> {
        row.get_ref(i)?
            .as_str()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
    };
    let blob = |i: usize| -> rusqlite::Result<&'r [u8]> {
        row.get_ref(i)?
            .as_blob()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Blob, Box::new(e)))
    };
    let url = match row.get_ref(3)? {
        ValueRef::Null => None,
        _ => Some(text(3)?),
    };
    let ref_seq: Option<i64> = row.get(7)?;
    let (payload, compact) = match row.get_ref(4)? {
        ValueRef::Blob(b) => ("", Some((ref_seq.unwrap_or(0), b))),
        _ => (text(4)?, None),
    };
    Ok(EntryRef {
        seq: row.get(0)?,
        recorded_at: text(1)?,
        kind: text(2)?,
        url,
        payload,
        compact,
        stray_ref_seq: ref_seq.filter(|_| compact.is_none()),
        prev_hash: blob(5)?,
        entry_hash: blob(6)?,
    })
}

/// An entry whose columns do not have the types newsledger writes (text
/// that is not UTF-8, a number where text belongs): altered.
pub(super) fn unreadable(row: &rusqlite::Row<'_>, expected: i64, err: &rusqlite::Error) -> Break {
    Break {
        seq: row.get(0).unwrap_or(expected),
        reason: format!(
            "a column cannot be read as newsledger writes it ({err}): the entry was altered"
        ),
    }
}

/// Checks one entry against the seq and `entry_hash` the entry before it
/// implies; returns its recomputed hash.
pub(super) fn check_entry(
    e: &EntryRef<'_>,
    expected_seq: i64,
    prev: &[u8],
) -> Result<[u8; 32], Break> {
    let fail = |seq: i64, reason: String| Err(Break { seq, reason });
    if e.seq != expected_seq {
        return fail(
            expected_seq,
            format!("entry {expected_seq} is missing (next entry is {})", e.seq),
        );
    }
    if e.prev_hash != prev {
        return fail(
            e.seq,
            "prev_hash does not match the entry_hash of the entry before it".into(),
        );
    }
    let computed = match e.compact {
        Some((ref_seq, bytes)) => crate::ledger::entry::entry_hash_v2(
            e.seq,
            e.recorded_at,
            e.kind,
            ref_seq,
            bytes,
            e.prev_hash,
        ),
        None => crate::ledger::entry::entry_hash(
            e.seq,
            e.recorded_at,
            e.kind,
            e.url,
            e.payload,
            e.prev_hash,
        ),
    };
    if computed.as_slice() != e.entry_hash {
        return fail(
            e.seq,
            "entry_hash does not match the entry's contents (the entry was altered)".into(),
        );
    }
    if e.compact.is_some() && e.url.is_some() {
        return fail(
            e.seq,
            "a compact entry carries a URL, which its hash does not cover (the entry was altered)"
                .into(),
        );
    }
    if e.stray_ref_seq.is_some() {
        return fail(
            e.seq,
            "a full entry carries a ref_seq, which its hash does not cover (the entry was altered)"
                .into(),
        );
    }
    if e.seq == 1 && e.kind != "genesis" {
        return fail(1, "the first entry is not the genesis entry".into());
    }
    Ok(computed)
}

/// The smallest part of the chain one thread of `verify --chain-only`
/// walks: below twice this, one thread does it all.
pub(super) const MIN_PART: i64 = 200_000;

/// One part of a chain-only walk: entries `lo..=hi` on their own connection.
pub(super) struct Part {
    pub(super) entries: u64,
    /// The `prev_hash` of entry `lo` and the `entry_hash` of the last entry.
    pub(super) first_prev: Vec<u8>,
    pub(super) last: Option<(i64, Vec<u8>)>,
    pub(super) first_break: Option<Break>,
}

pub(super) fn walk_part(path: &std::path::Path, lo: i64, hi: i64, progress: &dyn Fn(u64)) -> Part {
    let mut part = Part {
        entries: 0,
        first_prev: vec![],
        last: None,
        first_break: None,
    };
    let result = (|| -> Result<(), LedgerError> {
        let conn = crate::ledger::open_read_only(path)?;
        let sqlite = |source| LedgerError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {} FROM ledger WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
                Entry::columns(&conn)
            ))
            .map_err(sqlite)?;
        let mut rows = stmt.query([lo, hi]).map_err(sqlite)?;
        let mut prev: Option<Vec<u8>> = None;
        let mut expected = lo;
        while let Some(row) = rows.next().map_err(sqlite)? {
            let e = match entry_ref(row) {
                Ok(e) => e,
                Err(err) => {
                    part.entries += 1;
                    part.first_break = Some(unreadable(row, expected, &err));
                    return Ok(());
                }
            };
            // The first entry's link is checked against the part before.
            let p = prev.get_or_insert_with(|| e.prev_hash.to_vec());
            if part.entries == 0 {
                part.first_prev = p.clone();
            }
            part.entries += 1;
            if let Err(b) = check_entry(&e, expected, p) {
                part.first_break = Some(b);
                return Ok(());
            }
            p.clear();
            p.extend_from_slice(e.entry_hash);
            expected += 1;
            if part.entries.is_multiple_of(65_536) {
                progress(65_536);
            }
        }
        if expected <= hi {
            part.first_break = Some(Break {
                seq: expected,
                reason: format!("entry {expected} is missing (the ledger ends before it)"),
            });
        }
        part.last = prev.map(|p| (expected - 1, p));
        Ok(())
    })();
    if let Err(e) = result {
        part.first_break = Some(Break {
            seq: lo,
            reason: e.to_string(),
        });
    }
    part
}

/// `verify --chain-only` over a large ledger: the chain is cut into one
/// part per core, each walked on its own read-only connection (entries up to
/// the head of our snapshot never change), then the parts' links are joined.
/// `None` when the ledger is too small to be worth it or has no file.
pub(super) fn chain_only_parallel(
    conn: &Connection,
    checkpoint: Option<&Checkpoint>,
    options: &Options<'_>,
    min_part: i64,
) -> Result<Option<Report>, LedgerError> {
    let sqlite = |source| LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    };
    let head: i64 = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM ledger", [], |r| r.get(0))
        .map_err(sqlite)?;
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(usize::try_from(head / min_part).unwrap_or(0));
    let Some(path) = conn
        .path()
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
    else {
        return Ok(None);
    };
    if workers < 2 {
        return Ok(None);
    }
    let size = head / workers as i64 + 1;
    let done = std::sync::atomic::AtomicU64::new(0);
    let tick = |n: u64| {
        let d = done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        if let Some(p) = options.progress {
            p("entries", d, head as u64);
        }
    };
    let parts: Vec<Part> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers as i64)
            .map(|w| {
                let (lo, hi) = (w * size + 1, ((w + 1) * size).min(head));
                let (path, tick) = (&path, &tick);
                scope.spawn(move || walk_part(path, lo, hi, tick))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or(Part {
                    entries: 0,
                    first_prev: vec![],
                    last: None,
                    first_break: Some(Break {
                        seq: 0,
                        reason: "a verify thread failed".into(),
                    }),
                })
            })
            .collect()
    });
    let mut report = Report::default();
    let mut prev = ZERO_HASH.to_vec();
    for part in parts {
        if part.entries > 0 && part.first_prev != prev {
            let seq = report.head.as_ref().map_or(1, |h| h.seq + 1);
            report.entries += 1;
            report.first_break = Some(Break {
                seq,
                reason: "prev_hash does not match the entry_hash of the entry before it".into(),
            });
            return Ok(Some(report));
        }
        report.entries += part.entries;
        if let Some(b) = part.first_break {
            report.first_break = Some(b);
            return Ok(Some(report));
        }
        if let Some((seq, hash)) = part.last {
            report.head = Some(Checkpoint {
                seq,
                hash: hash.as_slice().try_into().unwrap_or([0; 32]),
            });
            prev = hash;
        }
    }
    if let Some(cp) = checkpoint {
        // The checkpoint's entry, read in our snapshot (its hash was checked
        // by the walk).
        let at: Option<Vec<u8>> = conn
            .query_row(
                "SELECT entry_hash FROM ledger WHERE seq = ?1",
                [cp.seq],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlite)?;
        match at {
            None => {
                report.first_break = Some(Break {
                    seq: head + 1,
                    reason: format!(
                        "the ledger ends at entry {head} and does not reach the checkpoint {cp}: it was truncated"
                    ),
                });
            }
            Some(h) if h != cp.hash => {
                report.first_break = Some(Break {
                    seq: cp.seq,
                    reason: format!(
                        "entry {} does not match the checkpoint {cp}: the history up to it was rewritten",
                        cp.seq
                    ),
                });
            }
            Some(_) => {}
        }
    }
    Ok(Some(report))
}

//! `verify`: recompute every entry hash and link, check every referenced
//! blob, and optionally that the ledger still extends a checkpoint.

use rusqlite::{Connection, OptionalExtension};

use super::entry::{Checkpoint, Entry, ZERO_HASH};
use super::{LedgerError, blobs};

/// One row, borrowed from SQLite's buffers.
struct EntryRef<'a> {
    seq: i64,
    recorded_at: &'a str,
    kind: &'a str,
    url: Option<&'a str>,
    /// The JSON text ("" for a compact entry).
    payload: &'a str,
    /// A compact entry's full entry and stored bytes.
    compact: Option<(i64, &'a [u8])>,
    /// `ref_seq` on a full entry (not covered by its hash).
    stray_ref_seq: Option<i64>,
    prev_hash: &'a [u8],
    entry_hash: &'a [u8],
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub seq: i64,
    pub reason: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub entries: u64,
    pub blobs_checked: u64,
    /// Full bytes of the blobs checked, and the time the check took.
    pub blob_bytes: u64,
    pub blob_seconds: f64,
    /// Blobs removed by retention (named by `pruned` entries).
    pub blobs_pruned: u64,
    pub head: Option<Checkpoint>,
    pub first_break: Option<Break>,
    /// Entries that hash correctly but contradict earlier ones (a revision
    /// number used twice, a reversion to a revision never recorded).
    pub anomalies: Vec<Break>,
    /// Derived rows that disagree with the fold of the chain.
    pub derived: Vec<super::derive::check::Mismatch>,
    /// Whether the derived tables were compared (only for an intact chain).
    pub derived_checked: bool,
    /// The Merkle tree root over the entries walked (RFC 9162).
    pub tree_root: Option<super::merkle::Hash>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.first_break.is_none() && self.anomalies.is_empty() && self.derived.is_empty()
    }
}

/// A progress callback: (what, done, total).
pub type ProgressFn<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// What `verify` checks beyond the chain, and how it reports progress.
#[derive(Default)]
pub struct Options<'a> {
    /// Only the chain: hashes, links, the checkpoint; no blobs, no derived
    /// tables or tree nodes.
    pub chain_only: bool,
    /// Called now and then with (what, done, total): "entries", "blobs",
    /// "derived".
    pub progress: Option<ProgressFn<'a>>,
}

/// Verifies the whole chain, then the derived tables against it, in one
/// read transaction (one snapshot, while the daemon keeps writing). Stops at
/// the first break of the chain.
pub fn verify(conn: &Connection, checkpoint: Option<&Checkpoint>) -> Result<Report, LedgerError> {
    verify_with(conn, checkpoint, &Options::default())
}

/// [`verify`] with options.
pub fn verify_with(
    conn: &Connection,
    checkpoint: Option<&Checkpoint>,
    options: &Options<'_>,
) -> Result<Report, LedgerError> {
    let sqlite = |source| LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    };
    let snapshot = conn.unchecked_transaction().map_err(sqlite)?;
    let report = verify_in(&snapshot, checkpoint, options);
    drop(snapshot);
    report
}

/// Checks blobs on every core: each worker reads on its own connection
/// (blobs are never changed once written, so any snapshot at or after ours
/// holds them). Returns the first failure in entry order, if any.
fn check_blobs(
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
                    scope.spawn(move || match super::open_read_only(&path) {
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

/// Reads one row selected with [`Entry::COLUMNS`], borrowing its columns
/// (no allocation per entry on the hot path).
fn entry_ref<'r>(row: &'r rusqlite::Row<'_>) -> rusqlite::Result<EntryRef<'r>> {
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
fn unreadable(row: &rusqlite::Row<'_>, expected: i64, err: &rusqlite::Error) -> Break {
    Break {
        seq: row.get(0).unwrap_or(expected),
        reason: format!(
            "a column cannot be read as newsledger writes it ({err}): the entry was altered"
        ),
    }
}

/// Checks one entry against the seq and `entry_hash` the entry before it
/// implies; returns its recomputed hash.
fn check_entry(e: &EntryRef<'_>, expected_seq: i64, prev: &[u8]) -> Result<[u8; 32], Break> {
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
        Some((ref_seq, bytes)) => {
            super::entry::entry_hash_v2(e.seq, e.recorded_at, e.kind, ref_seq, bytes, e.prev_hash)
        }
        None => {
            super::entry::entry_hash(e.seq, e.recorded_at, e.kind, e.url, e.payload, e.prev_hash)
        }
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
const MIN_PART: i64 = 200_000;

/// One part of a chain-only walk: entries `lo..=hi` on their own connection.
struct Part {
    entries: u64,
    /// The `prev_hash` of entry `lo` and the `entry_hash` of the last entry.
    first_prev: Vec<u8>,
    last: Option<(i64, Vec<u8>)>,
    first_break: Option<Break>,
}

fn walk_part(path: &std::path::Path, lo: i64, hi: i64, progress: &dyn Fn(u64)) -> Part {
    let mut part = Part {
        entries: 0,
        first_prev: vec![],
        last: None,
        first_break: None,
    };
    let result = (|| -> Result<(), LedgerError> {
        let conn = super::open_read_only(path)?;
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
fn chain_only_parallel(
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

fn verify_in(
    conn: &Connection,
    checkpoint: Option<&Checkpoint>,
    options: &Options<'_>,
) -> Result<Report, LedgerError> {
    let sqlite = |source| LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    };
    if options.chain_only
        && let Some(report) = chain_only_parallel(conn, checkpoint, options, MIN_PART)?
    {
        return Ok(report);
    }
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {} FROM ledger ORDER BY seq",
            Entry::columns(conn)
        ))
        .map_err(sqlite)?;
    let total = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM ledger", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(sqlite)? as u64;
    let mut rows = stmt.query([]).map_err(sqlite)?;
    let mut blob_refs: Vec<(i64, String)> = Vec::new();
    // Blobs removed by retention, with the last `pruned` entry naming each.
    let mut pruned: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let mut report = Report {
        entries: 0,
        blobs_checked: 0,
        blob_bytes: 0,
        blob_seconds: 0.0,
        blobs_pruned: 0,
        head: None,
        first_break: None,
        anomalies: vec![],
        derived: vec![],
        derived_checked: false,
        tree_root: None,
    };
    let mut tree = super::merkle::store::Expected::default();
    let mut expected_seq = 1i64;
    let mut prev: Vec<u8> = ZERO_HASH.to_vec();
    let mut checkpoint_seen = false;
    let fail = |report: &mut Report, seq: i64, reason: String| {
        report.first_break = Some(Break { seq, reason });
    };
    while let Some(row) = rows.next().map_err(sqlite)? {
        let e = match entry_ref(row) {
            Ok(e) => e,
            Err(err) => {
                report.entries += 1;
                report.first_break = Some(unreadable(row, expected_seq, &err));
                return Ok(report);
            }
        };
        report.entries += 1;
        let computed = match check_entry(&e, expected_seq, &prev) {
            Ok(h) => h,
            Err(b) => {
                report.first_break = Some(b);
                return Ok(report);
            }
        };
        if !options.chain_only {
            blob_refs.extend(
                super::blobs::referenced_blobs(e.payload)
                    .into_iter()
                    .map(|h| (e.seq, h)),
            );
            if e.kind == "pruned" {
                // The last entry that names a blob is when it went: every
                // reference before it is excused (the same bytes may have
                // been stored again, referenced and pruned again).
                for h in super::prune::pruned_blobs(e.payload) {
                    pruned.insert(h, e.seq);
                }
            }
        }
        if let Some(p) = options.progress
            && report.entries.is_multiple_of(65_536)
        {
            p("entries", report.entries, total);
        }
        if let Some(cp) = checkpoint
            && cp.seq == e.seq
        {
            checkpoint_seen = true;
            if cp.hash.as_slice() != e.entry_hash {
                fail(
                    &mut report,
                    e.seq,
                    format!(
                        "entry {} does not match the checkpoint {cp}: the history up to it was rewritten",
                        e.seq
                    ),
                );
                return Ok(report);
            }
        }
        tree.push(computed);
        prev.clear();
        prev.extend_from_slice(e.entry_hash);
        report.head = Some(Checkpoint {
            seq: e.seq,
            hash: e.entry_hash.try_into().unwrap_or([0; 32]),
        });
        expected_seq += 1;
    }
    if report.entries == 0 {
        fail(
            &mut report,
            1,
            "the ledger has no entries, not even its genesis entry: nothing to verify".into(),
        );
        return Ok(report);
    }
    if let Some(cp) = checkpoint
        && !checkpoint_seen
    {
        fail(
            &mut report,
            expected_seq,
            format!(
                "the ledger ends at entry {} and does not reach the checkpoint {cp}: it was truncated",
                expected_seq - 1
            ),
        );
        return Ok(report);
    }
    report.tree_root = Some(tree.root());
    if options.chain_only {
        return Ok(report);
    }
    // A reference made before a `pruned` entry named the blob is excused:
    // the capture was removed on purpose. A later reference is checked.
    blob_refs.retain(|(seq, h)| pruned.get(h).is_none_or(|p| seq > p));
    report.blobs_pruned = pruned.len() as u64;
    if let Some(b) = check_blobs(conn, &blob_refs, &mut report, options)? {
        report.first_break = Some(b);
        return Ok(report);
    }
    if let Some(p) = options.progress {
        p("derived", 0, 0);
    }
    check_derived(conn, &mut report, expected_seq - 1)?;
    check_tree(conn, &mut report, &tree)?;
    Ok(report)
}

/// Folds the whole chain and compares the result with the stored derived
/// tables: every row a read command could show must agree with the chain.
/// A derived table that is missing or altered is a finding, never a reason
/// to check less.
fn check_derived(conn: &Connection, report: &mut Report, head_seq: i64) -> Result<(), LedgerError> {
    use super::derive::check::Mismatch;
    let sqlite = |source| LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    };
    let chain = super::derive::store::replay_all(conn, false).map_err(sqlite)?;
    report.anomalies = chain
        .anomalies
        .iter()
        .map(|(seq, reason)| Break {
            seq: *seq,
            reason: reason.clone(),
        })
        .collect();
    report
        .derived
        .extend(check_ledger_indexes(conn).map_err(sqlite)?);
    let structure = structural_version(conn).map_err(sqlite)?;
    report
        .derived
        .extend(check_schema_version(conn, structure).map_err(sqlite)?);
    if structure < 4 {
        // A ledger from before the derived tables (schema 1-3), read before
        // the daemon migrated it: nothing derived to compare.
        return Ok(());
    }
    let damaged = super::derive::store::damaged_tables(conn).map_err(sqlite)?;
    report
        .derived
        .extend(damaged.iter().map(|(table, what)| Mismatch {
            table,
            key: "*".into(),
            detail: format!("{what}: run `newsledger rebuild`"),
        }));
    let texts: Vec<super::search::Indexed> = chain
        .revisions
        .values()
        .map(|r| super::search::Indexed {
            url: r.url.clone(),
            revision: r.revision,
            seq: r.seq,
            text_blob: r.text_blob.clone(),
        })
        .collect();
    let skip: Vec<&str> = damaged.iter().map(|(t, _)| *t).collect();
    report.derived.extend(
        super::derive::check::compare_with_tables(conn, chain, head_seq, &skip).map_err(sqlite)?,
    );
    report.derived_checked = true;
    if let Some(path) = conn.path().filter(|p| !p.is_empty()) {
        report.derived.extend(super::search::check_index(
            conn,
            std::path::Path::new(path),
            &texts,
        )?);
    }
    Ok(())
}

/// The ledger table and every index on it, as SQLite's own check sees
/// them (`PRAGMA integrity_check(ledger)`: each row in each index, in the
/// index's order, under its current definition). Reads find an article's
/// entries through these indexes: one built under another definition, or
/// with its order reversed, would hide entries from every read while the
/// chain verifies. `rebuild` reindexes.
fn check_ledger_indexes(
    conn: &Connection,
) -> rusqlite::Result<Vec<super::derive::check::Mismatch>> {
    use super::derive::check::Mismatch;
    let problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check(ledger)")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if problems.iter().all(|p| p == "ok") {
        return Ok(vec![]);
    }
    let shown: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
    Ok(vec![Mismatch {
        table: "ledger (index)",
        key: "integrity_check".into(),
        detail: format!(
            "SQLite finds {} problems ({}): reads could miss entries; run `newsledger rebuild` (it reindexes)",
            problems.len(),
            shown.join("; ")
        ),
    }])
}

/// The schema the ledger's own structure shows it has at least: what
/// migrations left behind that no later one removes (the derived tables of
/// 4, the tree nodes of 6, `ledger.ref_seq` of 9, the partial URL index of
/// 10, the revision index of 11, the event indexes of 12). `schema_version` cannot claim less, and a
/// ledger of 4 or more must have every derived table.
pub(crate) fn structural_version(conn: &Connection) -> rusqlite::Result<i64> {
    // What each migration leaves that no later one removes.
    const MARKS: &[(i64, &str)] = &[
        (
            12,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'ledger_events'",
        ),
        (
            11,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'ledger_revisions'",
        ),
        (
            10,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'ledger_url' AND sql LIKE '%WHERE url IS NOT NULL%'",
        ),
        (
            9,
            "SELECT COUNT(*) FROM pragma_table_info('ledger') WHERE name = 'ref_seq'",
        ),
        (
            8,
            "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('retention_state', 'ledger_pruned')",
        ),
        (
            7,
            "SELECT COUNT(*) FROM pragma_table_info('blobs') WHERE name = 'base'",
        ),
        (
            6,
            "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('merkle_nodes', 'ledger_checkpoints')",
        ),
        (
            5,
            "SELECT COUNT(*) FROM pragma_table_info('watchlist') WHERE name = 'retired_at'",
        ),
        (
            4,
            "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('derived_state', 'ledger_url')",
        ),
        (
            3,
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'watchlist'",
        ),
        (
            2,
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'notifications'",
        ),
        (
            1,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'ledger'",
        ),
    ];
    for (version, sql) in MARKS {
        let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
        if n > 0 {
            return Ok(*version);
        }
    }
    Ok(0)
}

/// `schema_version` must list every migration from 1 up to the one applied
/// last, no fewer than the structure shows and no more than this newsledger
/// knows: a version removed or lowered would make the next start apply
/// migrations again, and a ledger claiming less than it is would be checked
/// as an older one.
pub(crate) fn check_schema_version(
    conn: &Connection,
    structure: i64,
) -> rusqlite::Result<Vec<super::derive::check::Mismatch>> {
    use super::derive::check::Mismatch;
    let wrong = |detail: String| {
        vec![Mismatch {
            table: "schema_version",
            key: "version".into(),
            detail,
        }]
    };
    if !super::derive::store::table_exists(conn, "schema_version")? {
        return Ok(wrong(format!(
            "the table is missing, but the ledger's structure is that of schema {structure}: `newsledger rebuild` records it again"
        )));
    }
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM schema_version ORDER BY version")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()
        .unwrap_or_default();
    let last = versions.last().copied().unwrap_or(0);
    if !versions.iter().copied().eq(1..=last) {
        return Ok(wrong(format!(
            "it lists versions {versions:?}, not every migration from 1 to {last}: `newsledger rebuild` records it again from the ledger's structure (schema {structure})"
        )));
    }
    if last < structure || last > super::schema_known() {
        return Ok(wrong(format!(
            "it says schema {last}, but the ledger's structure is that of schema {structure} (this newsledger knows up to {}): `newsledger rebuild` records it again from the structure",
            super::schema_known()
        )));
    }
    Ok(vec![])
}

/// Compares the stored tree nodes with the ones the chain implies.
fn check_tree(
    conn: &Connection,
    report: &mut Report,
    tree: &super::merkle::store::Expected,
) -> Result<(), LedgerError> {
    let sqlite = |source| LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    };
    // A missing or altered node table is reported by `check_derived`.
    let damaged = super::derive::store::damaged_tables(conn).map_err(sqlite)?;
    if damaged.iter().any(|(t, _)| *t == "merkle_nodes") {
        return Ok(());
    }
    use super::derive::check::{MAX_LISTED, Mismatch};
    let (bad, count) = tree.compare(conn, MAX_LISTED).map_err(sqlite)?;
    let listed = bad.len();
    report
        .derived
        .extend(bad.into_iter().map(|(key, detail)| Mismatch {
            table: "merkle_nodes",
            key,
            detail,
        }));
    if count > listed {
        report.derived.push(Mismatch {
            table: "merkle_nodes",
            key: "*".into(),
            detail: format!("and {} more nodes disagree", count - listed),
        });
    }
    Ok(())
}

/// Checks the last `n` entries: each one's hash and its link to the entry
/// before it. What the writer checks before it appends.
pub fn verify_tail(conn: &Connection, n: i64) -> rusqlite::Result<Option<Break>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM ledger WHERE seq >= (SELECT COALESCE(MAX(seq), 0) FROM ledger) - ?1 ORDER BY seq",
        Entry::columns(conn)
    ))?;
    let entries = stmt
        .query_map([n], Entry::from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // The first entry of the tail is checked against the entry before it
    // too (looked up), the others against their predecessor in the tail.
    let mut prev: Option<Vec<u8>> = None;
    for e in &entries {
        let fault = match &prev {
            None => e.fault_in(conn)?,
            Some(p) => e.fault(Some(p)),
        };
        if let Some(reason) = fault {
            return Ok(Some(Break {
                seq: e.seq,
                reason: reason.into(),
            }));
        }
        prev = Some(e.entry_hash.clone());
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Kind, append, open_writable};

    /// The parallel chain-only walk finds what the sequential walk finds:
    /// the same first bad seq for an altered entry, a broken link at a part
    /// boundary, a missing entry, and the same head when intact.
    #[test]
    fn parts_walked_in_parallel_agree_with_one_walk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let mut conn = open_writable(&path).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 0..999 {
            let p = serde_json::json!({"i": i, "outcome": "unchanged"});
            append(
                &tx,
                Kind::Fetch,
                Some("http://127.0.0.1/a"),
                &p,
                chrono::Utc::now(),
            )
            .unwrap();
        }
        tx.commit().unwrap();
        let both = |conn: &Connection| {
            let options = Options {
                chain_only: true,
                progress: None,
            };
            let one = verify_in(conn, None, &Options::default()).unwrap();
            let two = chain_only_parallel(conn, None, &options, 300)
                .unwrap()
                .unwrap();
            (
                one.first_break.map(|b| b.seq),
                two.first_break.map(|b| b.seq),
                one.head,
                two.head,
            )
        };
        let (a, b, ha, hb) = both(&conn);
        assert_eq!((a, b), (None, None));
        assert_eq!(ha, hb);
        conn.execute_batch("DROP TRIGGER ledger_no_update; DROP TRIGGER ledger_no_delete;")
            .unwrap();
        // On two cores: parts 1..=501 and 502..=1000 (seq 502 is the first
        // entry of the second part, so its link is checked at the join).
        for (sql, seq) in [
            ("UPDATE ledger SET recorded_at = 'x' WHERE seq = 700", 700),
            (
                "UPDATE ledger SET prev_hash = zeroblob(32) WHERE seq = 502",
                502,
            ),
            ("DELETE FROM ledger WHERE seq = 300", 300),
        ] {
            conn.execute_batch(sql).unwrap();
            let (a, b, _, _) = both(&conn);
            assert_eq!((a, b), (Some(seq), Some(seq)), "{sql}");
        }
    }
}

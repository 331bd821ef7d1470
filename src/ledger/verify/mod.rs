//! `verify`: recompute every entry hash and link, check every referenced
//! blob, and optionally that the ledger still extends a checkpoint.

use rusqlite::Connection;

use super::LedgerError;
use super::entry::{Checkpoint, Entry, ZERO_HASH};

mod blob_check;
mod chain;
mod derived;

use blob_check::check_blobs;
use chain::*;
use derived::{check_derived, check_tree};
pub(crate) use derived::{check_schema_version, structural_version};

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

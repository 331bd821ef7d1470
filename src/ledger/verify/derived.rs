//! The derived tables, the ledger's own indexes, the schema record and the
//! stored tree nodes, each against what the chain gives.

use rusqlite::Connection;

use super::{Break, Report};
use crate::ledger::LedgerError;

/// Folds the whole chain and compares the result with the stored derived
/// tables: every row a read command could show must agree with the chain.
/// A derived table that is missing or altered is a finding, never a reason
/// to check less.
pub(super) fn check_derived(
    conn: &Connection,
    report: &mut Report,
    head_seq: i64,
) -> Result<(), LedgerError> {
    use crate::ledger::derive::check::Mismatch;
    let sqlite = |source| LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    };
    let chain = crate::ledger::derive::store::replay_all(conn, false).map_err(sqlite)?;
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
    let damaged = crate::ledger::derive::schema::damaged_tables(conn).map_err(sqlite)?;
    report
        .derived
        .extend(damaged.iter().map(|(table, what)| Mismatch {
            table,
            key: "*".into(),
            detail: format!("{what}: run `newsledger rebuild`"),
        }));
    let texts: Vec<crate::ledger::search::Indexed> = chain
        .revisions
        .values()
        .map(|r| crate::ledger::search::Indexed {
            url: r.url.clone(),
            revision: r.revision,
            seq: r.seq,
            text_blob: r.text_blob.clone(),
        })
        .collect();
    let skip: Vec<&str> = damaged.iter().map(|(t, _)| *t).collect();
    report.derived.extend(
        crate::ledger::derive::check::compare_with_tables(conn, chain, head_seq, &skip)
            .map_err(sqlite)?,
    );
    report.derived_checked = true;
    if let Some(path) = conn.path().filter(|p| !p.is_empty()) {
        report.derived.extend(crate::ledger::search::check_index(
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
pub(super) fn check_ledger_indexes(
    conn: &Connection,
) -> rusqlite::Result<Vec<crate::ledger::derive::check::Mismatch>> {
    use crate::ledger::derive::check::Mismatch;
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
) -> rusqlite::Result<Vec<crate::ledger::derive::check::Mismatch>> {
    use crate::ledger::derive::check::Mismatch;
    let wrong = |detail: String| {
        vec![Mismatch {
            table: "schema_version",
            key: "version".into(),
            detail,
        }]
    };
    if !crate::ledger::derive::schema::table_exists(conn, "schema_version")? {
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
    if last < structure || last > crate::ledger::schema_known() {
        return Ok(wrong(format!(
            "it says schema {last}, but the ledger's structure is that of schema {structure} (this newsledger knows up to {}): `newsledger rebuild` records it again from the structure",
            crate::ledger::schema_known()
        )));
    }
    Ok(vec![])
}

/// Compares the stored tree nodes with the ones the chain implies.
pub(super) fn check_tree(
    conn: &Connection,
    report: &mut Report,
    tree: &crate::ledger::merkle::store::Expected,
) -> Result<(), LedgerError> {
    let sqlite = |source| LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    };
    // A missing or altered node table is reported by `check_derived`.
    let damaged = crate::ledger::derive::schema::damaged_tables(conn).map_err(sqlite)?;
    if damaged.iter().any(|(t, _)| *t == "merkle_nodes") {
        return Ok(());
    }
    use crate::ledger::derive::check::{MAX_LISTED, Mismatch};
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

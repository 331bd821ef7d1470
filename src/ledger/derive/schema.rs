//! The derived tables' schema: which tables are derived, their
//! statements as the migrations leave them (read from the migrations
//! themselves), the check that names a missing or altered one, and their
//! re-creation before a rebuild.

use std::sync::OnceLock;

use rusqlite::Connection;

/// Whether the ledger has a table of this name.
pub fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )
}

/// The derived tables: a fold of the chain (`articles`, `revisions`,
/// `changes`, `fetch_state`, `derived_state`) and the stored tree nodes.
pub const DERIVED_TABLES: [&str; 6] = [
    "articles",
    "revisions",
    "changes",
    "fetch_state",
    "derived_state",
    "merkle_nodes",
];

/// Each derived table's statements as the migrations leave it, read from
/// the migrations themselves (its last `CREATE TABLE`, and the indexes and
/// rows made for it after that): what `rebuild` runs again when one is
/// missing or altered, and the model `damaged_tables` compares with.
pub fn derived_schema() -> &'static [(&'static str, String)] {
    static SCHEMA: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let statements: Vec<String> = crate::ledger::MIGRATIONS
            .iter()
            .flat_map(|(_, sql)| {
                let code: String = sql
                    .lines()
                    .map(|l| l.split("--").next().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n");
                code.split(';')
                    .map(|st| st.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|st| !st.is_empty())
                    .collect::<Vec<_>>()
            })
            .collect();
        DERIVED_TABLES
            .iter()
            .map(|t| {
                let creates = |st: &str| {
                    st.strip_prefix("CREATE TABLE ")
                        .is_some_and(|r| r.starts_with(&format!("{t} (")))
                };
                let made_for = |st: &str| {
                    (st.starts_with("CREATE INDEX ") && st.contains(&format!(" ON {t} ")))
                        || st.starts_with(&format!("INSERT INTO {t} "))
                };
                let last = statements.iter().rposition(|st| creates(st)).unwrap_or(0);
                let sql = statements
                    .iter()
                    .skip(last)
                    .enumerate()
                    .filter(|(i, st)| *i == 0 || made_for(st))
                    .map(|(_, st)| format!("{st};"))
                    .collect::<Vec<_>>()
                    .join("\n");
                (*t, sql)
            })
            .collect()
    })
}

/// A table's columns as SQLite describes them: (name, type, not null,
/// default, primary key position).
type ColumnInfo = Vec<(String, String, bool, Option<String>, i64)>;

fn columns_of(conn: &Connection, table: &str) -> rusqlite::Result<ColumnInfo> {
    let mut stmt = conn.prepare(
        "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
    )?;
    stmt.query_map([table], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?
    .collect()
}

/// Derived tables that are missing or whose columns are not the ones
/// the migrations make, each with what is wrong. Empty for an intact
/// ledger of the current schema.
pub fn damaged_tables(conn: &Connection) -> rusqlite::Result<Vec<(&'static str, String)>> {
    let model = Connection::open_in_memory()?;
    let mut out = Vec::new();
    for (name, sql) in derived_schema() {
        model.execute_batch(sql)?;
        if !table_exists(conn, name)? {
            out.push((*name, "the table is missing".to_string()));
            continue;
        }
        let (want, got) = (columns_of(&model, name)?, columns_of(conn, name)?);
        if want != got {
            let names = |c: &ColumnInfo| {
                c.iter()
                    .map(|c| c.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push((
                *name,
                format!(
                    "its columns are ({}), not ({}) as newsledger made them",
                    names(&got),
                    names(&want)
                ),
            ));
        }
    }
    Ok(out)
}

/// Drops every derived table and creates it again, empty, as
/// the migrations say (a missing or altered one included); the caller
/// then refills them from the chain.
pub fn recreate_tables(tx: &Connection) -> rusqlite::Result<()> {
    for (name, sql) in derived_schema() {
        tx.execute_batch(&format!("DROP TABLE IF EXISTS {name};"))?;
        tx.execute_batch(sql)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model read from the migrations is the migrated schema, column by
    /// column, for every derived table; an altered or missing table is named,
    /// and `recreate_tables` makes it again.
    #[test]
    fn the_derived_schema_is_the_migrated_one_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::ledger::open_writable(&dir.path().join("l.db")).unwrap();
        assert_eq!(derived_schema().len(), DERIVED_TABLES.len());
        for (table, sql) in derived_schema() {
            assert!(sql.starts_with(&format!("CREATE TABLE {table} (")), "{sql}");
        }
        assert!(
            derived_schema()
                .iter()
                .any(|(t, sql)| *t == "changes" && sql.contains("CREATE INDEX changes_detected_at"))
        );
        assert_eq!(damaged_tables(&conn).unwrap(), vec![]);
        conn.execute_batch("DROP TABLE merkle_nodes; ALTER TABLE articles DROP COLUMN gone_at;")
            .unwrap();
        let damaged: Vec<&str> = damaged_tables(&conn)
            .unwrap()
            .into_iter()
            .map(|d| d.0)
            .collect();
        assert_eq!(damaged, ["articles", "merkle_nodes"]);
        recreate_tables(&conn).unwrap();
        assert_eq!(damaged_tables(&conn).unwrap(), vec![]);
    }
}

//! Comparing the stored derived rows with the fold of the chain.

use std::collections::BTreeMap;
use std::fmt::Debug;

use rusqlite::Connection;

use super::{ArticleRow, ChangeRow, FetchStateRow, Replay, RevisionRow};

/// One derived row that disagrees with the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub table: &'static str,
    pub key: String,
    pub detail: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "table {} row {}: {}", self.table, self.key, self.detail)
    }
}

/// A row as (column, value) pairs, for naming the column that differs.
trait Columns {
    fn columns(&self) -> Vec<(&'static str, String)>;
}

fn show<T: Debug>(v: &T) -> String {
    format!("{v:?}")
}

impl Columns for ArticleRow {
    fn columns(&self) -> Vec<(&'static str, String)> {
        vec![
            ("source", show(&self.source)),
            ("fetch_url", show(&self.fetch_url)),
            ("revision", show(&self.revision)),
            ("max_revision", show(&self.max_revision)),
            ("content_hash", show(&self.content_hash)),
            ("field_hashes", show(&self.field_hashes)),
            ("text_blob", show(&self.text_blob)),
            ("raw_blob", show(&self.raw_blob)),
            ("extractor", show(&self.extractor)),
            ("first_seen", show(&self.first_seen)),
            ("last_seen", show(&self.last_seen)),
            ("gone_at", show(&self.gone_at)),
        ]
    }
}

impl Columns for RevisionRow {
    fn columns(&self) -> Vec<(&'static str, String)> {
        vec![
            ("change", show(&self.change)),
            ("content_hash", show(&self.content_hash)),
            ("title", show(&self.title)),
            ("first_seen", show(&self.first_seen)),
            ("last_seen", show(&self.last_seen)),
            ("words_added", show(&self.words_added)),
            ("words_removed", show(&self.words_removed)),
            ("text_blob", show(&self.text_blob)),
            ("raw_blob", show(&self.raw_blob)),
            ("extractor", show(&self.extractor)),
            ("seq", show(&self.seq)),
        ]
    }
}

impl Columns for ChangeRow {
    fn columns(&self) -> Vec<(&'static str, String)> {
        vec![
            ("url", show(&self.url)),
            ("from_revision", show(&self.from_revision)),
            ("to_revision", show(&self.to_revision)),
            ("detected_at", show(&self.detected_at)),
            ("fields_json", show(&self.fields_json)),
            ("declared", show(&self.declared)),
        ]
    }
}

impl Columns for FetchStateRow {
    fn columns(&self) -> Vec<(&'static str, String)> {
        vec![
            ("source", show(&self.source)),
            ("article_url", show(&self.article_url)),
            ("etag", show(&self.etag)),
            ("last_modified", show(&self.last_modified)),
            ("last_fetch_at", show(&self.last_fetch_at)),
            ("last_outcome", show(&self.last_outcome)),
            ("last_status", show(&self.last_status)),
            ("last_seq", show(&self.last_seq)),
        ]
    }
}

/// At most this many disagreeing rows are listed; the rest are counted.
pub const MAX_LISTED: usize = 1000;

struct Out {
    list: Vec<Mismatch>,
    more: usize,
}

impl Out {
    fn push(&mut self, m: Mismatch) {
        if self.list.len() < MAX_LISTED {
            self.list.push(m);
        } else {
            self.more += 1;
        }
    }
}

/// Streams one stored table against the fold's rows for it, removing each
/// matched row from `chain`: what is left had no stored row. Memory stays
/// that of the fold alone, whatever the size of the table.
fn compare_table<K: Ord + Debug, R: Columns + PartialEq>(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    mut chain: BTreeMap<K, R>,
    row: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<R>,
    key: impl Fn(&R) -> K,
    out: &mut Out,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let got = match row(r) {
            Ok(got) => got,
            Err(e) => {
                out.push(Mismatch {
                    table,
                    key: "?".into(),
                    detail: format!("a row cannot be read as newsledger wrote it ({e})"),
                });
                continue;
            }
        };
        let k = key(&got);
        match chain.remove(&k) {
            // Equal rows (nearly all of them) cost one comparison; only a
            // row that differs is taken apart column by column.
            Some(want) if want == got => {}
            Some(want) => {
                for ((col, w), (_, g)) in want.columns().into_iter().zip(got.columns()) {
                    if w != g {
                        out.push(Mismatch {
                            table,
                            key: format!("{k:?}"),
                            detail: format!("{col} is {g} in the table, {w} from the chain"),
                        });
                    }
                }
            }
            None => out.push(Mismatch {
                table,
                key: format!("{k:?}"),
                detail: "no chained entry supports this row".into(),
            }),
        }
    }
    for k in chain.keys() {
        out.push(Mismatch {
            table,
            key: format!("{k:?}"),
            detail: "missing: the chain has it, the table does not".into(),
        });
    }
    Ok(())
}

/// Every disagreement between the stored derived tables and the fold of the
/// chain (at most [`MAX_LISTED`] listed, then one line counting the rest).
pub fn compare_with_tables(
    conn: &Connection,
    chain: Replay,
    head_seq: i64,
    skip: &[&str],
) -> rusqlite::Result<Vec<Mismatch>> {
    use super::store::{self, ARTICLES, CHANGES, FETCH_STATE, REVISIONS};
    let mut out = Out {
        list: vec![],
        more: 0,
    };
    if !skip.contains(&"derived_state") {
        let stored: Vec<rusqlite::types::Value> = conn
            .prepare("SELECT through_seq FROM derived_state")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let through = match stored.as_slice() {
            [rusqlite::types::Value::Integer(t)] => Ok(Some(*t)),
            [] => Ok(None),
            other => Err(other.len()),
        };
        let detail = match through {
            Err(n) => Some(format!(
                "it holds {n} rows or a value that is not a position: run `newsledger rebuild`"
            )),
            Ok(None) => Some("the row is missing: run `newsledger rebuild`".to_string()),
            Ok(Some(t)) if t > head_seq => Some(format!(
                "the derived tables include entries up to seq {t} but the ledger ends at {head_seq}: entries were removed"
            )),
            Ok(Some(t)) if t < head_seq => Some(format!(
                "the derived tables include entries up to seq {t} but the ledger ends at {head_seq}: run `newsledger rebuild`"
            )),
            Ok(Some(_)) => None,
        };
        if let Some(detail) = detail {
            out.push(Mismatch {
                table: "derived_state",
                key: "through_seq".into(),
                detail,
            });
        }
    }
    if let Some((table, seq)) = store::cited_beyond(conn, head_seq)? {
        out.push(Mismatch {
            table,
            key: "seq".into(),
            detail: format!(
                "it cites entry {seq} but the ledger ends at {head_seq}: entries were removed from its end (`rebuild` keeps this evidence unless --force)"
            ),
        });
    }
    let compare = |table: &'static str| !skip.contains(&table);
    if compare("articles") {
        compare_table(
            conn,
            "articles",
            ARTICLES.select(),
            chain.articles,
            store::article_row,
            |r| r.url.clone(),
            &mut out,
        )?;
    }
    if compare("revisions") {
        compare_table(
            conn,
            "revisions",
            REVISIONS.select(),
            chain.revisions,
            store::revision_row,
            |r| (r.url.clone(), r.revision),
            &mut out,
        )?;
    }
    if compare("changes") {
        compare_table(
            conn,
            "changes",
            CHANGES.select(),
            chain.changes,
            store::change_row,
            |r| (r.seq, r.kind.clone()),
            &mut out,
        )?;
    }
    if compare("fetch_state") {
        compare_table(
            conn,
            "fetch_state",
            FETCH_STATE.select(),
            chain.fetch_state,
            store::fetch_state_row,
            |r| r.url.clone(),
            &mut out,
        )?;
    }
    if out.more > 0 {
        out.list.push(Mismatch {
            table: "*",
            key: String::new(),
            detail: format!("and {} more rows disagree", out.more),
        });
    }
    Ok(out.list)
}

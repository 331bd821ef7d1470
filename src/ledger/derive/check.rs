//! Comparing the stored derived rows with the fold of the chain.

use std::collections::BTreeMap;
use std::fmt::Debug;

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

fn compare_map<K: Ord + Debug, R: Columns + PartialEq>(
    table: &'static str,
    chain: &BTreeMap<K, R>,
    stored: &BTreeMap<K, R>,
    out: &mut Vec<Mismatch>,
) {
    for (k, want) in chain {
        match stored.get(k) {
            None => out.push(Mismatch {
                table,
                key: format!("{k:?}"),
                detail: "missing: the chain has it, the table does not".into(),
            }),
            // Equal rows (nearly all of them) cost one comparison; only a
            // row that differs is taken apart column by column.
            Some(got) if got == want => {}
            Some(got) => {
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
        }
    }
    for k in stored.keys().filter(|k| !chain.contains_key(k)) {
        out.push(Mismatch {
            table,
            key: format!("{k:?}"),
            detail: "no chained entry supports this row".into(),
        });
    }
}

/// Every disagreement between the stored rows and the fold of the chain.
pub fn compare(chain: &Replay, stored: &Replay, head_seq: i64) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if stored.through_seq > head_seq {
        out.push(Mismatch {
            table: "derived_state",
            key: "through_seq".into(),
            detail: format!(
                "the derived tables include entries up to seq {} but the ledger ends at {head_seq}: entries were removed",
                stored.through_seq
            ),
        });
    }
    compare_map("articles", &chain.articles, &stored.articles, &mut out);
    compare_map("revisions", &chain.revisions, &stored.revisions, &mut out);
    compare_map("changes", &chain.changes, &stored.changes, &mut out);
    compare_map(
        "fetch_state",
        &chain.fetch_state,
        &stored.fetch_state,
        &mut out,
    );
    out
}

//! Full-text search over every revision's text: an SQLite FTS5 index in its
//! own file beside the ledger (`LEDGER.search`), derived from the chain,
//! brought up to date by `search` itself and safe to delete at any time
//! (it is rebuilt; where the directory is read-only it is built in memory).
//! The index only proposes articles: every hit is confirmed against the
//! revision texts replayed from the chain before it is shown, and only the
//! hits a page shows are confirmed.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use super::{LedgerError, blobs, read};

fn sqlite(source: rusqlite::Error) -> LedgerError {
    LedgerError::Sqlite {
        path: "search index".into(),
        source,
    }
}

/// Where a phrase appeared in one article's history.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub url: String,
    pub title: Option<String>,
    /// The first revision whose text contains the phrase.
    pub first_revision: i64,
    /// When the page was first seen showing it.
    pub first_seen: String,
    /// When the page was last seen showing it.
    pub last_seen: String,
    /// The revision that removed it (after its last appearance), if any.
    pub removed_in: Option<i64>,
    /// How that revision came to be shown: `changed` (an edit), `reverted`
    /// (the page went back to an earlier text), `restored`, `metadata`.
    pub removed_by: Option<String>,
    pub removed_at: Option<String>,
    /// Whether the page shows it now.
    pub present: bool,
    /// Every revision whose text contains it.
    pub revisions: Vec<i64>,
}

/// The version of the index's text: 2 folds letters ([`fold`]). An index
/// of another version is made again.
const INDEX_FORMAT: &str = "2";

/// A word as the index and the search compare it: lower case, accents and
/// other marks taken off (`Türkiye` → `turkiye`, `Erdoğan` → `erdogan`),
/// and the letters that have no mark to take off written as readers type
/// them on a keyboard without them: Turkish and Azerbaijani dotless `ı`
/// and dotted `İ` as `i`, Azerbaijani `ə` as `e`, `ł` `ø` `đ` `ß` `æ` `œ`
/// as `l` `o` `d` `ss` `ae` `oe`.
pub fn fold(word: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(word.len());
    for c in word.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        match c {
            'ı' | 'İ' => out.push('i'),
            'ə' | 'Ə' => out.push('e'),
            'ł' | 'Ł' => out.push('l'),
            'ø' | 'Ø' => out.push('o'),
            'đ' | 'Đ' => out.push('d'),
            'ß' | 'ẞ' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'œ' | 'Œ' => out.push_str("oe"),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Folded word tokens (letters and digits, with their combining marks;
/// [`fold`]).
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric() && !unicode_normalization::char::is_combining_mark(c))
        .filter(|w| !w.is_empty())
        .map(fold)
        .collect()
}

fn contains_phrase(text: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && text.windows(phrase.len()).any(|w| w == phrase)
}

fn index_path(ledger: &Path) -> PathBuf {
    PathBuf::from(format!("{}.search", ledger.display()))
}

/// Deletes the index beside `ledger` (and its WAL files), if any: `rebuild`
/// recomputes every derived thing, and the next `search` makes it again.
pub fn remove_index(ledger: &Path) {
    let index = index_path(ledger);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", index.display()));
    }
}

/// Opens the index (creating it, or in memory when it cannot be created)
/// and indexes the revisions appended since it was last brought up to date.
fn open_index(conn: &Connection, ledger: &Path) -> Result<Connection, LedgerError> {
    let file = Connection::open(index_path(ledger)).and_then(|c| {
        // `serve` may bring the index up to date from two requests at once.
        c.busy_timeout(std::time::Duration::from_secs(10))?;
        c.execute_batch("PRAGMA journal_mode = WAL;")?;
        Ok(c)
    });
    match file
        .map_err(sqlite)
        .and_then(|idx| bring_up_to_date(conn, idx))
    {
        Ok(idx) => Ok(idx),
        // A file that cannot be an index (unwritable, damaged, not SQLite)
        // is not trusted or repaired here: this search uses one made in
        // memory from the chain (`verify` names the file).
        Err(LedgerError::Untrusted { seq, reason }) => Err(LedgerError::Untrusted { seq, reason }),
        Err(_) => bring_up_to_date(conn, Connection::open_in_memory().map_err(sqlite)?),
    }
}

/// Creates what is missing in `idx` and indexes the revisions it lacks.
fn bring_up_to_date(conn: &Connection, idx: Connection) -> Result<Connection, LedgerError> {
    idx.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS texts USING fts5(url UNINDEXED, revision UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2');
         CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )
    .map_err(sqlite)?;
    // A different ledger at the same path (or a rewritten one) starts over.
    let genesis: Option<Vec<u8>> = conn
        .query_row("SELECT entry_hash FROM ledger WHERE seq = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sqlite)?;
    let genesis = hex::encode(genesis.unwrap_or_default());
    let meta = |k: &str| -> Result<Option<String>, LedgerError> {
        idx.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .optional()
            .map_err(sqlite)
    };
    if meta("genesis")?.as_deref() != Some(genesis.as_str())
        || meta("format")?.as_deref() != Some(INDEX_FORMAT)
    {
        idx.execute_batch("DELETE FROM texts; DELETE FROM meta;")
            .map_err(sqlite)?;
    }
    let through: i64 = meta("through_seq")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let head: i64 = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM ledger", [], |r| r.get(0))
        .map_err(sqlite)?;
    if head < through {
        idx.execute_batch("DELETE FROM texts;").map_err(sqlite)?;
    }
    let from = if head < through { 0 } else { through };
    index_from(conn, &idx, from, head, &genesis)?;
    // Misses are only reported from a complete index: one row per revision
    // entry. One that is not (rows deleted, a revision left out) is made
    // again from the chain.
    if indexed_rows(&idx)? != revision_entries(conn, head)? {
        idx.execute_batch("DELETE FROM texts; DELETE FROM meta;")
            .map_err(sqlite)?;
        index_from(conn, &idx, 0, head, &genesis)?;
    }
    Ok(idx)
}

fn indexed_rows(idx: &Connection) -> Result<i64, LedgerError> {
    idx.query_row("SELECT COUNT(*) FROM texts", [], |r| r.get(0))
        .map_err(sqlite)
}

fn revision_entries(conn: &Connection, head: i64) -> Result<i64, LedgerError> {
    conn.query_row(
        "SELECT COUNT(*) FROM ledger WHERE kind = 'revision' AND seq <= ?1",
        [head],
        |r| r.get(0),
    )
    .map_err(sqlite)
}

/// The text the index holds for a revision: its title's words, a newline,
/// its text's words, folded ([`fold`]).
fn indexed_body(conn: &Connection, blob: &str) -> Result<String, LedgerError> {
    indexed_body_of(conn, blob, INDEX_FORMAT)
}

/// [`indexed_body`] as an index of `format` holds it: format 1 (before
/// folding; its meta has no `format` key) held the title and the text as
/// written. `verify` checks an index of either format against the chain.
fn indexed_body_of(conn: &Connection, blob: &str, format: &str) -> Result<String, LedgerError> {
    let bytes = blobs::get(conn, blob)?;
    let article: Value = serde_json::from_slice(&bytes).map_err(|e| LedgerError::CorruptBlob {
        hash: blob.to_string(),
        reason: e.to_string(),
    })?;
    let s = |k: &str| article.get(k).and_then(Value::as_str).unwrap_or_default();
    if format == "1" {
        return Ok(format!("{}\n{}", s("title"), s("text")));
    }
    Ok(format!(
        "{}\n{}",
        words(s("title")).join(" "),
        words(s("text")).join(" ")
    ))
}

/// Indexes the revision entries after `from` up to `head`. A revision whose
/// text cannot be read fails the search (the index would miss it), naming
/// the entry.
fn index_from(
    conn: &Connection,
    idx: &Connection,
    from: i64,
    head: i64,
    genesis: &str,
) -> Result<(), LedgerError> {
    let tx = idx.unchecked_transaction().map_err(sqlite)?;
    let mut stmt = conn
        .prepare(
            "SELECT seq, url, payload FROM ledger WHERE seq > ?1 AND seq <= ?2 AND kind = 'revision' ORDER BY seq",
        )
        .map_err(sqlite)?;
    let mut rows = stmt.query([from, head]).map_err(sqlite)?;
    while let Some(r) = rows.next().map_err(sqlite)? {
        let seq: i64 = r.get(0).map_err(sqlite)?;
        let url: String = r.get(1).map_err(sqlite)?;
        let payload: String = r.get(2).map_err(sqlite)?;
        let p: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
        let untrusted = |reason: String| LedgerError::Untrusted { seq, reason };
        let (Some(rev), Some(blob)) = (
            p.get("revision").and_then(Value::as_i64),
            p.get("text_blob").and_then(Value::as_str),
        ) else {
            return Err(untrusted(
                "the revision entry names no revision number or text blob, so the search index cannot hold its text".into(),
            ));
        };
        let body = indexed_body(conn, blob).map_err(|e| {
            untrusted(format!(
                "the text of revision {rev} of {url} cannot be read for the search index: {e}"
            ))
        })?;
        tx.execute(
            "INSERT INTO texts (url, revision, body) VALUES (?1, ?2, ?3)",
            params![url, rev, body],
        )
        .map_err(sqlite)?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('through_seq', ?1), ('genesis', ?2), ('format', ?3)",
        params![head.to_string(), genesis, INDEX_FORMAT],
    )
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)
}

/// A revision as the chain records it, for checking the index.
pub struct Indexed {
    pub url: String,
    pub revision: i64,
    pub seq: i64,
    pub text_blob: String,
}

/// `verify`'s check of the search index beside the ledger, when there is
/// one that claims to belong to this ledger: every revision up to the
/// position it records is indexed exactly once, with the text its blob
/// holds, and nothing else is. (An index of another ledger, or one ahead of
/// this ledger's head, is discarded by `search` before use.)
pub fn check_index(
    conn: &Connection,
    ledger: &Path,
    revisions: &[Indexed],
) -> Result<Vec<crate::ledger::derive::check::Mismatch>, LedgerError> {
    use crate::ledger::derive::check::Mismatch;
    use sha2::Digest;
    let path = index_path(ledger);
    if !path.exists() {
        return Ok(vec![]);
    }
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let idx = Connection::open_with_flags(&path, flags).map_err(sqlite)?;
    let mismatch = |key: String, detail: String| Mismatch {
        table: "search index",
        key,
        detail: format!(
            "{detail} (delete {} and it is made again from the chain)",
            path.display()
        ),
    };
    let meta = |k: &str| -> Option<String> {
        idx.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .ok()
    };
    let genesis: Option<Vec<u8>> = conn
        .query_row("SELECT entry_hash FROM ledger WHERE seq = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sqlite)?;
    let head: i64 = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM ledger", [], |r| r.get(0))
        .map_err(sqlite)?;
    let through: Option<i64> = meta("through_seq").and_then(|v| v.parse().ok());
    let Some(through) = through else {
        return Ok(vec![mismatch(
            "meta".into(),
            "it records no position in the ledger".into(),
        )]);
    };
    if meta("genesis").as_deref() != Some(hex::encode(genesis.unwrap_or_default()).as_str()) {
        return Ok(vec![mismatch(
            "meta".into(),
            "it belongs to another ledger (its genesis hash is not this ledger's)".into(),
        )]);
    }
    // An index of the format before folding (no `format` key) is checked
    // as that format holds its texts; `search` makes it again before use.
    let format = meta("format").unwrap_or_else(|| "1".to_string());
    if format != "1" && format != INDEX_FORMAT {
        return Ok(vec![mismatch(
            "meta".into(),
            format!("its format {format:?} is none newsledger writes"),
        )]);
    }
    if through > head {
        return Ok(vec![mismatch(
            "meta".into(),
            format!("it says it holds entries up to {through}, but the ledger ends at {head}"),
        )]);
    }
    let others: i64 = idx
        .query_row(
            "SELECT COUNT(*) FROM meta WHERE key NOT IN ('through_seq', 'genesis', 'format')",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    if others > 0 {
        return Ok(vec![mismatch(
            "meta".into(),
            format!("it holds {others} keys newsledger does not write"),
        )]);
    }
    let mut found: std::collections::HashMap<(String, i64), Vec<[u8; 32]>> = Default::default();
    let rows = idx
        .prepare("SELECT url, revision, body FROM texts")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                let body: String = r.get(2)?;
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, i64>(1)?),
                    <[u8; 32]>::from(sha2::Sha256::digest(body.as_bytes())),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        });
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            return Ok(vec![mismatch(
                "*".into(),
                format!("it cannot be read: {e}"),
            )]);
        }
    };
    for (key, hash) in rows {
        found.entry(key).or_default().push(hash);
    }
    let mut out = Vec::new();
    // FTS5's own check that its inverted index matches the texts it holds
    // (a MATCH answers from the former): it runs as an INSERT, so on a
    // connection that may write; where none can be had it is not run.
    if let Ok(rw) = Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) && let Err(e) = rw.execute(
        "INSERT INTO texts (texts, rank) VALUES ('integrity-check', 1)",
        [],
    ) && !matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::ReadOnly))
    {
        out.push(mismatch(
            "texts".into(),
            format!("its full-text index does not match the texts it holds ({e})"),
        ));
    }
    for r in revisions.iter().filter(|r| r.seq <= through) {
        let key = format!("({:?}, {})", r.url, r.revision);
        let body = indexed_body_of(conn, &r.text_blob, &format)?;
        let want = <[u8; 32]>::from(sha2::Sha256::digest(body.as_bytes()));
        match found.remove(&(r.url.clone(), r.revision)).as_deref() {
            None | Some([]) => out.push(mismatch(
                key,
                "missing: the chain has this revision, the index does not".into(),
            )),
            Some([h]) if *h == want => {}
            Some([_]) => out.push(mismatch(key, "its text is not the revision's text".into())),
            Some(_) => out.push(mismatch(key, "indexed more than once".into())),
        }
    }
    for (url, revision) in found.into_keys() {
        out.push(mismatch(
            format!("({url:?}, {revision})"),
            "no revision entry supports this row".into(),
        ));
    }
    Ok(out)
}

/// One page of a search: the hits shown, and whether more were proposed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    /// Articles the index proposes beyond this page (not yet confirmed).
    pub more: bool,
}

/// Articles whose text contained `phrase` at some time, with where it
/// appeared and where it was removed, confirmed against the chain, a page
/// at a time: the index proposes articles, most recently
/// revised first, and they are confirmed against the chain in that order
/// until `offset + limit` are confirmed; only those are read. Within the
/// page, the hits are ordered by when the page first showed the phrase,
/// newest first.
pub fn search_page(
    conn: &Connection,
    ledger: &Path,
    phrase: &str,
    offset: usize,
    limit: usize,
) -> Result<SearchPage, LedgerError> {
    let wanted = words(phrase);
    if wanted.is_empty() {
        return Ok(SearchPage::default());
    }
    let idx = open_index(conn, ledger)?;
    let query = format!("\"{}\"", wanted.join(" "));
    // Rows are inserted in chain order: walking the matches by rowid from
    // the newest, an article's first row is its latest indexed revision.
    // Only as many matches are read as the page needs.
    let mut stmt = idx
        .prepare("SELECT url FROM texts WHERE texts MATCH ?1 ORDER BY rowid DESC")
        .map_err(sqlite)?;
    let mut matches = stmt.query([&query]).map_err(sqlite)?;
    let mut proposed_urls: std::collections::HashSet<String> = Default::default();
    let mut next_proposed = || -> Result<Option<String>, LedgerError> {
        while let Some(r) = matches.next().map_err(sqlite)? {
            let url: String = r.get(0).map_err(sqlite)?;
            if proposed_urls.insert(url.clone()) {
                return Ok(Some(url));
            }
        }
        Ok(None)
    };
    let wanted_hits = offset.saturating_add(limit);
    let mut hits = Vec::new();
    while hits.len() < wanted_hits {
        let Some(url) = next_proposed()? else { break };
        let record = read::article(conn, &url)?;
        let mut texts: std::collections::HashMap<i64, (bool, Option<String>)> = Default::default();
        let history = record.history();
        for h in history.iter().filter(|h| h.kind != "gone") {
            if let std::collections::hash_map::Entry::Vacant(v) = texts.entry(h.revision)
                && let Some((_, a)) = record.revision(conn, Some(h.revision))?
            {
                let mut all = words(&a.title.clone().unwrap_or_default());
                all.extend(words(&a.text));
                v.insert((contains_phrase(&all, &wanted), a.title.clone()));
            }
        }
        let has = |rev: i64| texts.get(&rev).is_some_and(|t| t.0);
        let spans: Vec<_> = history.iter().filter(|h| h.kind != "gone").collect();
        let Some(first) = spans.iter().find(|h| has(h.revision)) else {
            continue; // the index proposed it; the chain does not confirm it
        };
        let last_i = spans.iter().rposition(|h| has(h.revision)).unwrap_or(0);
        let removed = spans.get(last_i + 1);
        let mut revisions: Vec<i64> = texts.iter().filter(|t| t.1.0).map(|t| *t.0).collect();
        revisions.sort_unstable();
        let current = record.current();
        hits.push(Hit {
            title: current
                .and_then(|c| texts.get(&c))
                .and_then(|t| t.1.clone()),
            url: url.clone(),
            first_revision: first.revision,
            first_seen: first.first_seen.clone(),
            last_seen: spans
                .get(last_i)
                .map(|h| h.last_seen.clone())
                .unwrap_or_default(),
            removed_in: removed.map(|h| h.revision),
            removed_by: removed.map(|h| h.kind.clone()),
            removed_at: removed.map(|h| h.first_seen.clone()),
            present: current.is_some_and(has) && history.last().is_some_and(|h| h.kind != "gone"),
            revisions,
        });
    }
    // Proposed, not confirmed: the next page confirms them (or finds none).
    let more = next_proposed()?.is_some();
    let mut hits: Vec<Hit> = hits.into_iter().skip(offset).take(limit).collect();
    hits.sort_by(|a, b| b.first_seen.cmp(&a.first_seen));
    Ok(SearchPage { hits, more })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_whole_words_in_order() {
        let t = words("The minister said: \"We will not resign.\"");
        assert!(contains_phrase(&t, &words("will not RESIGN")));
        assert!(!contains_phrase(&t, &words("not will")));
        assert!(!contains_phrase(&t, &words("resig")));
        assert!(!contains_phrase(&t, &words("")));
    }

    #[test]
    fn words_fold_marks_and_turkish_and_azerbaijani_letters() {
        // Names as the seeds and the region's outlets write them, and as a
        // reader types them.
        for (written, typed) in [
            ("Türkiye", "turkiye"),
            ("Erdoğan", "erdogan"),
            ("İstanbul", "istanbul"),
            ("ISTANBUL", "istanbul"),
            ("Diyarbakır", "diyarbakir"),
            ("Kılıçdaroğlu", "kilicdaroglu"),
            ("Şırnak", "sirnak"),
            ("Əliyev", "eliyev"),
            ("Bakı", "baki"),
            ("Gənclik", "genclik"),
            ("Łódź", "lodz"),
            ("Straße", "strasse"),
            ("Ministerpräsident", "ministerprasident"),
        ] {
            assert_eq!(words(written), vec![typed.to_string()], "{written}");
            assert!(contains_phrase(&words(written), &words(typed)), "{written}");
            assert!(contains_phrase(&words(typed), &words(written)), "{written}");
        }
        // A decomposed "ü" (u and a combining diaeresis) is the same word.
        assert_eq!(words("Tu\u{308}rkiye"), words("Türkiye"));
        // Folding never joins or splits words.
        assert_eq!(words("Recep Tayyip Erdoğan, Ankara").len(), 4);
    }
}

//! The work of one cycle, taken in bounded batches: the source's configured
//! URLs, then its watch list as the revisit ladder says (due now, or never
//! again: retired), each URL with what the ledger knows of it (the
//! validators for a conditional request, the article's current version as
//! a hint). A cycle holds one batch at a time, never the whole list, so its
//! memory does not grow with the number of watched articles: the watch list
//! is read in pages of its live index, after the last row taken.
//!
//! A resumed cycle (one a stop interrupted) takes only the URLs not fetched
//! since it started.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::config::Source;
use crate::fetch::Conditional;
use crate::ledger::writer::prepare::Hint;
use crate::ledger::{self, LedgerError};

/// One URL to fetch.
#[derive(Debug, Clone)]
pub struct Work {
    pub url: String,
    pub conditional: Conditional,
    pub hint: Option<Hint>,
    /// Discovered (from the watch list): guarded again when fetched.
    pub watched: bool,
}

/// One batch: the URLs to fetch, in turns of host, and the watched ones
/// the ladder retires.
#[derive(Debug, Default)]
pub struct Batch {
    pub work: Vec<Work>,
    pub retire: Vec<String>,
}

/// Where a cycle is in its source's work.
pub struct Frontier {
    path: PathBuf,
    source: Arc<Source>,
    now: DateTime<Utc>,
    /// A resumed cycle: only URLs not fetched since this time.
    since: Option<String>,
    /// URLs taken per batch.
    size: usize,
    /// Configured URLs taken so far.
    configured_taken: usize,
    /// The configured URLs, each with the index of its first listing: the
    /// watch list does not repeat them, nor does a second listing.
    configured: HashMap<String, usize>,
    /// Where the watch list is read: `None` before the first batch, then
    /// its stripes ([`Stripe`]); all of them ended once it is read whole.
    stripes: Option<Vec<Stripe>>,
    /// The ledger could not be read: the configured URLs are fetched
    /// without validators, the watch list waits for the next cycle.
    blind: bool,
    /// The reading connection, kept from batch to batch (no transaction
    /// is held open between them: the writer's WAL checkpoints go on).
    conn: Option<Connection>,
}

impl Frontier {
    pub fn new(
        path: PathBuf,
        source: Arc<Source>,
        now: DateTime<Utc>,
        since: Option<String>,
        size: usize,
    ) -> Frontier {
        let mut configured = HashMap::new();
        for (i, u) in source.urls.iter().enumerate() {
            configured.entry(u.to_string()).or_insert(i);
        }
        Frontier {
            path,
            source,
            now,
            since,
            size: size.max(1),
            configured_taken: 0,
            configured,
            stripes: None,
            blind: false,
            conn: None,
        }
    }

    /// Goes on without the ledger (after a failed read): the configured
    /// URLs left, without validators; not the watch list.
    pub fn go_blind(&mut self) {
        self.blind = true;
        self.stripes = Some(Vec::new());
    }

    /// True once every URL was taken.
    pub fn is_done(&self) -> bool {
        self.configured_taken >= self.source.urls.len()
            && self
                .stripes
                .as_ref()
                .is_some_and(|s| s.iter().all(Stripe::ended))
    }

    /// The next batch (empty when the frontier is done). Blocking: it
    /// reads the ledger. A batch that cannot be read is not taken: the
    /// frontier stays where it was, and nothing in the batch is lost.
    pub fn next_batch(&mut self) -> Result<Batch, LedgerError> {
        let (taken, stripes) = (self.configured_taken, self.stripes.clone());
        let batch = self.read_batch();
        if batch.is_err() {
            self.configured_taken = taken;
            self.stripes = stripes;
        }
        batch
    }

    fn read_batch(&mut self) -> Result<Batch, LedgerError> {
        let mut batch = Batch::default();
        if self.is_done() {
            return Ok(batch);
        }
        // One connection for the whole cycle: a new one per batch read the
        // same index and table pages again, and the 304 re-fetch of 100,000
        // watched articles took 1.9x as long.
        let conn = match self.conn.take() {
            _ if self.blind => None,
            Some(c) => Some(c),
            None => Some(open(&self.path)?),
        };
        let sqlite = |e| LedgerError::Sqlite {
            path: self.path.clone(),
            source: e,
        };
        while batch.work.len() < self.size
            && let Some(url) = self.source.urls.get(self.configured_taken)
        {
            let url = url.to_string();
            let known = match &conn {
                Some(c) => known(c, &url, &self.source.name).map_err(sqlite)?,
                None => Known::default(),
            };
            self.configured_taken += 1;
            // A URL the configuration lists twice is fetched once.
            let first = self.configured.get(&url) == Some(&(self.configured_taken - 1));
            if !first || self.fetched_since(known.last_fetch_at.as_deref()) {
                continue;
            }
            batch.work.push(Work {
                url,
                conditional: known.conditional,
                hint: known.hint,
                watched: false,
            });
        }
        if let (None, Some(c)) = (&self.stripes, &conn) {
            self.stripes = Some(stripes(c, &self.source.name, self.size).map_err(sqlite)?);
        }
        while batch.work.len() < self.size
            && let Some(conn) = &conn
        {
            // A few rows from each stripe still open: rows of one stripe
            // are neighbours in discovery order, often one host's; rows of
            // many stripes are many hosts, which fetch side by side.
            let Some(stripes) = self.stripes.take() else {
                break;
            };
            let open = stripes.iter().filter(|s| !s.ended()).count();
            if open == 0 {
                self.stripes = Some(stripes);
                break;
            }
            let per = ((self.size - batch.work.len()) / open).max(1);
            let mut page = Vec::new();
            let mut read = Vec::with_capacity(stripes.len());
            for mut st in stripes {
                let room = self.size - batch.work.len() - page.len();
                if !st.ended() && room > 0 {
                    let want = per.min(room);
                    let rows = self.watched_page(conn, &st, want).map_err(sqlite)?;
                    st.after = match rows.last() {
                        Some(r) if rows.len() == want => r.rowid,
                        _ => st.end,
                    };
                    page.extend(rows);
                }
                read.push(st);
            }
            self.stripes = Some(read);
            for row in page {
                let age = |t: Option<&str>| {
                    t.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| {
                            (self.now - t.with_timezone(&Utc))
                                .to_std()
                                .unwrap_or_default()
                        })
                };
                if self.configured.contains_key(&row.url) {
                    continue;
                }
                let discovered = age(Some(&row.discovered_at)).unwrap_or_default();
                let (fetched, changed) = (
                    age(row.known.last_fetch_at.as_deref()),
                    age(row.changed_at.as_deref()),
                );
                if self.source.ladder.due(discovered, fetched, changed) {
                    // Validators and the current version only from this
                    // source's own fetch state.
                    let own = if row.same_source {
                        row.known
                    } else {
                        Known::default()
                    };
                    if self.fetched_since(own.last_fetch_at.as_deref()) {
                        continue;
                    }
                    batch.work.push(Work {
                        url: row.url,
                        conditional: own.conditional,
                        hint: own.hint,
                        watched: true,
                    });
                } else if self.since.is_none()
                    && self.source.ladder.retired(discovered, fetched, changed)
                {
                    batch.retire.push(row.url);
                }
            }
        }
        batch.work = by_turns_of_host(batch.work, |w| &w.url);
        self.conn = conn;
        Ok(batch)
    }

    /// How many URLs this frontier holds, counted batch by batch (nothing
    /// kept): what a resumed cycle has left, for its log line.
    pub fn count(mut self) -> Result<usize, LedgerError> {
        let mut n = 0;
        while !self.is_done() {
            n += self.next_batch()?.work.len();
        }
        Ok(n)
    }

    /// A resumed cycle skips what was fetched after it started.
    fn fetched_since(&self, last_fetch_at: Option<&str>) -> bool {
        matches!((&self.since, last_fetch_at), (Some(s), Some(t)) if t >= s.as_str())
    }

    /// The live watch-list rows of a stripe after its last one taken, at
    /// most `room` of them.
    fn watched_page(
        &self,
        conn: &Connection,
        stripe: &Stripe,
        room: usize,
    ) -> rusqlite::Result<Vec<WatchedRow>> {
        let mut stmt = conn.prepare_cached(WATCHED_PAGE)?;
        let args = params![self.source.name, stripe.after, stripe.end, room as i64];
        let rows = stmt.query_map(args, |r| {
            Ok(WatchedRow {
                rowid: r.get(0)?,
                url: r.get(1)?,
                discovered_at: r.get(2)?,
                changed_at: r.get(4)?,
                same_source: r.get::<_, Option<bool>>(5)?.unwrap_or(false),
                known: Known {
                    conditional: Conditional {
                        etag: r.get(6)?,
                        last_modified: r.get(7)?,
                    },
                    last_fetch_at: r.get(3)?,
                    hint: hint(r, 8)?,
                },
            })
        })?;
        rows.collect()
    }
}

/// A page of a source's live watch list within a stripe (`?1` the source,
/// `?2` the last rowid taken, `?3` the stripe's last rowid, `?4` the page
/// size), with what the ledger knows of each URL: read by the index of
/// live rows, in the order of discovery.
pub const WATCHED_PAGE: &str = "SELECT w.rowid, w.url, w.discovered_at, f.last_fetch_at,
                    (SELECT MAX(r.first_seen) FROM revisions r WHERE r.url = f.article_url AND r.revision > 1),
                    f.source = w.source, f.etag, f.last_modified,
                    a.content_hash, a.field_hashes, a.text_blob, a.raw_blob
             FROM watchlist w
             LEFT JOIN fetch_state f ON f.url = w.url
             LEFT JOIN articles a ON a.url = f.article_url
             WHERE w.source = ?1 AND w.retired_at IS NULL AND w.rowid > ?2 AND w.rowid <= ?3
             ORDER BY w.rowid LIMIT ?4";

/// A range of the watch list's rows (by rowid, the order of discovery),
/// read from its start to its end a few rows a batch.
#[derive(Debug, Clone)]
struct Stripe {
    /// The last rowid taken (the start, less one, before any).
    after: i64,
    /// The stripe's last rowid.
    end: i64,
}

impl Stripe {
    fn ended(&self) -> bool {
        self.after >= self.end
    }
}

/// Stripes a batch reads from: as many as a batch has URLs, up to 64.
const STRIPES: i64 = 64;

/// The live watch list of `source` cut into equal stripes of rowids (rows
/// discovered later, during this cycle's fetches, wait for the next one).
fn stripes(conn: &Connection, source: &str, batch: usize) -> rusqlite::Result<Vec<Stripe>> {
    let (lo, hi): (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT MIN(rowid), MAX(rowid) FROM watchlist WHERE source = ?1 AND retired_at IS NULL",
        [source],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(Vec::new());
    };
    let n = STRIPES.min(batch as i64).max(1);
    let width = ((hi - lo + 1) + n - 1) / n;
    Ok((0..n)
        .map(|i| Stripe {
            after: lo - 1 + i * width,
            end: (lo - 1 + (i + 1) * width).min(hi),
        })
        .filter(|s| s.after < s.end)
        .collect())
}

/// A watch-list row and what the ledger knows of its URL.
struct WatchedRow {
    rowid: i64,
    url: String,
    discovered_at: String,
    /// When its article last changed (a revision after the first).
    changed_at: Option<String>,
    /// Its fetch state is this source's.
    same_source: bool,
    /// Its fetch state (its last fetch counts for the ladder whichever
    /// source made it).
    known: Known,
}

/// What the ledger knows of a URL a source fetches.
#[derive(Debug, Default)]
struct Known {
    conditional: Conditional,
    last_fetch_at: Option<String>,
    hint: Option<Hint>,
}

/// The ledger, read-only, for the cycle's batches: pages are read where
/// they lie, not mapped, and the cache is small (2 MiB), so that reading
/// the frontier adds a small, bounded cache to the cycle's memory, not the
/// ledger's pages. (An 8 MiB cache, which fills only on a large ledger,
/// was most of what the peak gained from 5,000 to 100,000 articles.)
fn open(path: &std::path::Path) -> Result<Connection, LedgerError> {
    let conn = ledger::open_read_only(path)?;
    conn.execute_batch("PRAGMA mmap_size = 0; PRAGMA cache_size = -2048;")
        .map_err(|e| LedgerError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        })?;
    Ok(conn)
}

/// A configured URL's state, when it is this source's.
fn known(conn: &Connection, url: &str, source: &str) -> rusqlite::Result<Known> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.etag, f.last_modified, f.last_fetch_at,
                a.content_hash, a.field_hashes, a.text_blob, a.raw_blob
         FROM fetch_state f LEFT JOIN articles a ON a.url = f.article_url
         WHERE f.url = ?1 AND f.source = ?2",
    )?;
    let found = stmt
        .query_row(params![url, source], |r| {
            Ok(Known {
                conditional: Conditional {
                    etag: r.get(0)?,
                    last_modified: r.get(1)?,
                },
                last_fetch_at: r.get(2)?,
                hint: hint(r, 3)?,
            })
        })
        .optional()?;
    Ok(found.unwrap_or_default())
}

/// The article's current version, from four columns starting at `at`:
/// content hash, field hashes, text blob, raw blob.
fn hint(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<Hint>> {
    let content_hash: Option<String> = r.get(at)?;
    let field_hashes: Option<String> = r.get(at + 1)?;
    let text_blob: Option<String> = r.get(at + 2)?;
    Ok(match (content_hash, field_hashes, text_blob) {
        (Some(content_hash), Some(f), Some(text_blob)) => Some(Hint {
            content_hash,
            field_hashes: serde_json::from_str(&f).unwrap_or_default(),
            text_blob,
            raw_blob: r.get(at + 3)?,
        }),
        _ => None,
    })
}

/// The URLs in turns of host: each host's first URL (hosts in the order
/// they first appear), then each one's second, and so on; each host keeps
/// its own order. A cycle runs its fetch tasks in this order, and a host
/// serves one request at a time (its politeness interval): in the listed
/// order, a source listing one host's URLs before another's filled the
/// window with tasks queued behind the first host while the others waited.
pub fn by_turns_of_host<T>(items: Vec<T>, url: impl Fn(&T) -> &str) -> Vec<T> {
    let mut hosts: Vec<Vec<T>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for item in items {
        let key = crate::fetch::host_key_of(url(&item));
        let i = *index.entry(key).or_insert_with(|| {
            hosts.push(Vec::new());
            hosts.len() - 1
        });
        if let Some(h) = hosts.get_mut(i) {
            h.push(item);
        }
    }
    let mut turns: Vec<std::vec::IntoIter<T>> = hosts.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        out.extend(turns.iter_mut().filter_map(Iterator::next));
        if out.len() == before {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Every URL once; each host's URLs in their own order; no host's
        /// (k+1)-th URL before every host's k-th; hosts in order of first
        /// appearance within a turn.
        #[test]
        fn urls_go_in_turns_of_host(picks in proptest::collection::vec((0usize..5, 0usize..4), 0..40)) {
            let hosts = ["http://a.test", "http://b.test", "https://a.test", "http://a.test:8080", "not a url"];
            let urls: Vec<String> = picks
                .iter()
                .enumerate()
                .map(|(i, (h, p))| format!("{}/{p}/{i}", hosts[*h]))
                .collect();
            let out = by_turns_of_host(urls.clone(), |u| u.as_str());
            let mut sorted_in = urls.clone();
            let mut sorted_out = out.clone();
            sorted_in.sort();
            sorted_out.sort();
            proptest::prop_assert_eq!(sorted_in, sorted_out);
            let host = |u: &str| crate::fetch::host_key_of(u);
            let first_seen: Vec<String> = urls.iter().fold(Vec::new(), |mut v, u| {
                if !v.contains(&host(u)) {
                    v.push(host(u));
                }
                v
            });
            // (turn, host position) increases along the output.
            let mut last = (0usize, 0usize);
            let mut turn_of: HashMap<String, usize> = HashMap::new();
            for u in &out {
                let turn = turn_of.entry(host(u)).or_insert(0);
                let at = (*turn, first_seen.iter().position(|h| *h == host(u)).unwrap_or(0));
                *turn += 1;
                proptest::prop_assert!(at > last || out.first() == Some(u), "{u} after {last:?}: {out:?}");
                last = at;
            }
            for h in &first_seen {
                let mine_in: Vec<&String> = urls.iter().filter(|u| host(u) == *h).collect();
                let mine_out: Vec<&String> = out.iter().filter(|u| host(u) == *h).collect();
                proptest::prop_assert_eq!(mine_in, mine_out);
            }
        }
    }

    #[test]
    fn one_host_listed_before_another_alternates() {
        let urls = [
            "http://a.test/1",
            "http://a.test/2",
            "http://a.test/3",
            "http://b.test/1",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            by_turns_of_host(urls, |u| u.as_str()),
            [
                "http://a.test/1",
                "http://b.test/1",
                "http://a.test/2",
                "http://a.test/3"
            ]
        );
    }
}

//! The tree's stored nodes: a cache beside the ledger, derived from the
//! entry hashes, rebuilt by `rebuild` and checked by `verify`.
//!
//! Only complete subtrees whose level is a multiple of [`TILE`] are stored
//! (level 0 is `ledger.entry_hash` itself): about n/15 rows for n entries.
//! Any other subtree is folded from at most 2^(TILE-1) stored children, so
//! a proof at any size reads O(log n) short index ranges. A node that is
//! missing (a ledger from before the table) is computed from the level
//! below: slower, never wrong.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Hash, Subtrees, node_hash};

/// Stored levels are multiples of this.
pub const TILE: u32 = 4;

/// Width of one stored node, in nodes of the stored level below it.
const FAN: u64 = 1 << TILE;

/// Subtree hashes read from a ledger connection.
pub struct Stored<'c> {
    conn: &'c Connection,
}

impl<'c> Stored<'c> {
    pub fn new(conn: &'c Connection) -> Self {
        Stored { conn }
    }

    /// Hashes of the nodes `from..to` at `level` (a multiple of TILE).
    fn level_range(&self, level: u32, from: u64, to: u64) -> rusqlite::Result<Vec<Hash>> {
        let mut out = Vec::with_capacity((to - from) as usize);
        if level == 0 {
            let mut stmt = self.conn.prepare_cached(
                "SELECT entry_hash FROM ledger WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
            )?;
            let mut rows = stmt.query(params![from as i64, to as i64])?;
            while let Some(r) = rows.next()? {
                out.push(to_hash(r.get_ref(0)?.as_blob()?)?);
            }
            if out.len() as u64 != to - from {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            return Ok(out);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT idx, hash FROM merkle_nodes WHERE level = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
        )?;
        let mut rows = stmt.query(params![level, from as i64, to as i64])?;
        let mut next = from;
        while let Some(r) = rows.next()? {
            let idx = r.get::<_, i64>(0)? as u64;
            while next < idx {
                out.push(self.compute(level, next)?);
                next += 1;
            }
            out.push(to_hash(r.get_ref(1)?.as_blob()?)?);
            next = idx + 1;
        }
        drop(rows);
        while next < to {
            out.push(self.compute(level, next)?);
            next += 1;
        }
        Ok(out)
    }

    /// A stored-level node folded from the stored level below it.
    fn compute(&self, level: u32, index: u64) -> rusqlite::Result<Hash> {
        let below = self.level_range(level - TILE, index * FAN, (index + 1) * FAN)?;
        Ok(fold(below))
    }
}

impl Subtrees for Stored<'_> {
    type Error = rusqlite::Error;

    fn subtree(&mut self, level: u32, index: u64) -> rusqlite::Result<Hash> {
        let base = level - level % TILE;
        if base == level && level > 0 {
            let stored: Option<Vec<u8>> = self
                .conn
                .prepare_cached("SELECT hash FROM merkle_nodes WHERE level = ?1 AND idx = ?2")?
                .query_row(params![level, index as i64], |r| r.get(0))
                .optional()?;
            return match stored {
                Some(h) => to_hash(&h),
                None => self.compute(level, index),
            };
        }
        let width = 1u64 << (level - base);
        Ok(fold(self.level_range(
            base,
            index * width,
            (index + 1) * width,
        )?))
    }
}

fn to_hash(b: &[u8]) -> rusqlite::Result<Hash> {
    b.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            "a tree hash is not 32 bytes".into(),
        )
    })
}

/// Folds 2^k sibling hashes, left to right, into their subtree's root.
fn fold(mut level: Vec<Hash>) -> Hash {
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| match p {
                [l, r] => node_hash(l, r),
                [one] => *one,
                _ => super::EMPTY_ROOT,
            })
            .collect();
    }
    level.pop().unwrap_or(super::EMPTY_ROOT)
}

/// After appending entry `seq` (inside the caller's transaction): stores
/// the stored-level subtrees it completes.
pub fn on_append(tx: &Connection, seq: i64) -> rusqlite::Result<()> {
    let n = seq as u64;
    let stored = Stored::new(tx);
    let mut level = TILE;
    while level < 64 && n.is_multiple_of(1u64 << level) {
        let index = n / (1u64 << level) - 1;
        let below = stored.level_range(level - TILE, index * FAN, (index + 1) * FAN)?;
        tx.prepare_cached(
            "INSERT OR IGNORE INTO merkle_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![level, index as i64, fold(below).to_vec()])?;
        level += TILE;
    }
    Ok(())
}

/// Incremental tree builder: push leaves in order; every completed subtree
/// is reported as (level, index, hash). Memory: one hash per level.
#[derive(Default)]
pub struct Builder {
    pending: Vec<Hash>,
    size: u64,
}

impl Builder {
    pub fn push(&mut self, leaf: Hash, mut done: impl FnMut(u32, u64, &Hash)) {
        let mut h = leaf;
        let mut level = 0u32;
        let n = self.size + 1;
        while (self.size >> level) & 1 == 1 {
            let Some(left) = self.pending.pop() else {
                break;
            };
            h = node_hash(&left, &h);
            level += 1;
            done(level, (n >> level) - 1, &h);
        }
        self.pending.push(h);
        self.size = n;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut it = self.pending.iter().rev();
        let Some(first) = it.next() else {
            return super::EMPTY_ROOT;
        };
        it.fold(*first, |acc, left| node_hash(left, &acc))
    }
}

/// Recomputes the stored nodes from the chain (inside the caller's
/// transaction). Returns the number of nodes written.
/// The leaves: every entry's `entry_hash` in seq order (up to `upto`
/// entries), never the stored nodes. What proofs are computed from when the
/// stored nodes are not trusted.
pub fn entry_hashes(conn: &Connection, upto: Option<u64>) -> rusqlite::Result<Vec<Hash>> {
    let mut stmt = conn.prepare("SELECT entry_hash FROM ledger WHERE seq <= ?1 ORDER BY seq")?;
    let upto = upto.map_or(i64::MAX, |u| i64::try_from(u).unwrap_or(i64::MAX));
    stmt.query_map([upto], |r| to_hash(r.get_ref(0)?.as_blob()?))?
        .collect()
}

pub fn rebuild(tx: &Connection) -> rusqlite::Result<u64> {
    tx.execute("DELETE FROM merkle_nodes", [])?;
    let mut insert =
        tx.prepare("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
    let mut stmt = tx.prepare("SELECT entry_hash FROM ledger ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut b = Builder::default();
    let mut nodes = Vec::new();
    let mut written = 0;
    while let Some(r) = rows.next()? {
        b.push(to_hash(r.get_ref(0)?.as_blob()?)?, |level, idx, h| {
            if level % TILE == 0 {
                nodes.push((level, idx, *h));
            }
        });
        for (level, idx, h) in nodes.drain(..) {
            insert.execute(params![level, idx as i64, h.to_vec()])?;
            written += 1;
        }
    }
    Ok(written)
}

/// The stored nodes the chain implies, per stored level, in index order:
/// collected while `verify` walks the chain, then compared with the table.
#[derive(Default)]
pub struct Expected {
    builder: Builder,
    levels: Vec<Vec<Hash>>,
}

impl Expected {
    pub fn push(&mut self, leaf: Hash) {
        let levels = &mut self.levels;
        self.builder.push(leaf, |level, _idx, h| {
            if level % TILE == 0 {
                let i = (level / TILE - 1) as usize;
                while levels.len() <= i {
                    levels.push(Vec::new());
                }
                if let Some(v) = levels.get_mut(i) {
                    v.push(*h);
                }
            }
        });
    }

    pub fn root(&self) -> Hash {
        self.builder.root()
    }

    /// Stored nodes that disagree with the chain, missing or extra ones
    /// (as ("level/index", what)), at most `limit`, and how many in all.
    pub fn compare(
        &self,
        conn: &Connection,
        limit: usize,
    ) -> rusqlite::Result<(Vec<(String, String)>, usize)> {
        let mut out = Vec::new();
        let mut count = 0usize;
        let mut note = |s: (String, String)| {
            count += 1;
            if out.len() < limit {
                out.push(s);
            }
        };
        let mut stmt =
            conn.prepare("SELECT level, idx, hash FROM merkle_nodes ORDER BY level, idx")?;
        let mut rows = stmt.query([])?;
        let mut seen: Vec<u64> = vec![0; self.levels.len()];
        while let Some(r) = rows.next()? {
            let level: u32 = r.get(0)?;
            let idx = r.get::<_, i64>(1)? as u64;
            let hash = r.get_ref(2)?.as_blob()?;
            let want = (level.is_multiple_of(TILE) && level > 0)
                .then(|| self.levels.get((level / TILE - 1) as usize))
                .flatten()
                .and_then(|v| v.get(idx as usize));
            let Some(w) = want else {
                note((
                    format!("{level}/{idx}"),
                    "a node the chain does not have".into(),
                ));
                continue;
            };
            if let Some(s) = seen.get_mut((level / TILE - 1) as usize) {
                *s += 1;
            }
            if w.as_slice() != hash {
                note((
                    format!("{level}/{idx}"),
                    "hash differs from the chain's".into(),
                ));
            }
        }
        for (i, v) in self.levels.iter().enumerate() {
            let have = seen.get(i).copied().unwrap_or(0);
            if have < v.len() as u64 {
                note((
                    format!("{}/*", (i as u32 + 1) * TILE),
                    format!(
                        "{} of the chain's {} nodes at this level are missing",
                        v.len() as u64 - have,
                        v.len()
                    ),
                ));
            }
        }
        Ok((out, count))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Leaves, consistency_proof, inclusion_proof, leaf_hash, naive_root, root};
    use super::*;

    fn ledger_with(n: u64) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE ledger (seq INTEGER PRIMARY KEY, entry_hash BLOB NOT NULL);
             CREATE TABLE merkle_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;",
        )
        .unwrap();
        for seq in 1..=n {
            conn.execute(
                "INSERT INTO ledger (seq, entry_hash) VALUES (?1, ?2)",
                params![seq as i64, leaf_hash(&seq.to_be_bytes()).to_vec()],
            )
            .unwrap();
            on_append(&conn, seq as i64).unwrap();
        }
        conn
    }

    #[test]
    fn stored_nodes_give_the_same_roots_and_proofs_as_the_leaves() {
        let n = 700u64;
        let conn = ledger_with(n);
        let leaves: Vec<Hash> = (1..=n).map(|s| leaf_hash(&s.to_be_bytes())).collect();
        let count: i64 = conn
            .query_row("SELECT COUNT(*) FROM merkle_nodes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count as u64, n / 16 + n / 256);
        let mut s = Stored::new(&conn);
        let mut mem = Leaves(&leaves);
        for size in [1, 2, 15, 16, 17, 255, 256, 257, 511, 512, 699, 700] {
            assert_eq!(
                root(&mut s, size).unwrap(),
                naive_root(&leaves[..size as usize])
            );
            for m in [0, size / 3, size - 1] {
                assert_eq!(
                    inclusion_proof(&mut s, m, size).unwrap(),
                    inclusion_proof(&mut mem, m, size).unwrap()
                );
            }
            assert_eq!(
                consistency_proof(&mut s, 1 + size / 2, size).unwrap(),
                consistency_proof(&mut mem, 1 + size / 2, size).unwrap()
            );
        }
        // Nodes missing (an older ledger) are computed, not trusted blank.
        conn.execute("DELETE FROM merkle_nodes WHERE level = 8", [])
            .unwrap();
        assert_eq!(root(&mut s, 699).unwrap(), naive_root(&leaves[..699]));
        // The builder and rebuild agree with the appends.
        let mut e = Expected::default();
        for l in &leaves {
            e.push(*l);
        }
        assert_eq!(e.root(), naive_root(&leaves));
        let (bad, count) = e.compare(&conn, 10).unwrap();
        assert_eq!(count, 1, "{bad:?}");
        assert_eq!(rebuild(&conn).unwrap() as u64, n / 16 + n / 256);
        assert_eq!(e.compare(&conn, 10).unwrap().1, 0);
        conn.execute(
            "UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 4 AND idx = 3",
            [],
        )
        .unwrap();
        let (bad, count) = e.compare(&conn, 10).unwrap();
        assert_eq!((count, bad[0].0.as_str()), (1, "4/3"));
    }
}

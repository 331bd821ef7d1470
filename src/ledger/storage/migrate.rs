//! `newsledger migrate --from A --to B`: a ledger copied between storages
//! (SQLite paths, PostgreSQL URLs) into an empty target only. The source's
//! head is fixed when the copy starts (the daemon may go on writing); each
//! page of entries goes with the blobs it names (and their delta bases),
//! the blobs first, so that the target never holds an entry whose blob is
//! missing, and every entry passes the target's checked append. The source
//! is read once: the head and Merkle root of what was copied are computed
//! from the pages as they go, and compared at the end with the target's,
//! read back from the target.
//!
//! A copy that stops half-way is never taken for a ledger: a SQLite target
//! is written under `PATH.partial` and renamed when complete; a PostgreSQL
//! target carries a marker until then, which the next `migrate` names.

use std::collections::HashSet;

use super::{Hash, PAGE, Payload, RawBlob, Result, Storage, StorageError, Summary, summarize_upto};
use crate::ledger::merkle::store::Builder;

/// What a migration copied, and what both ledgers hold after it.
#[derive(Debug, Clone)]
pub struct Migrated {
    pub entries: i64,
    pub blobs: u64,
    pub summary: Summary,
    /// What the source holds beside the record and was not copied.
    pub left_behind: Vec<(&'static str, i64)>,
}

/// Blob bytes gathered before they are written (captures are tens of KB,
/// a few are megabytes): the copy's memory does not grow with the ledger.
const BLOB_BYTES: usize = 32 << 20;

pub fn migrate(from: &mut dyn Storage, to: &mut dyn Storage) -> Result<Migrated> {
    let target = to.describe();
    if let Some(what) = to.interrupted_copy()? {
        return Err(StorageError::Partial { at: target, what });
    }
    if !to.is_empty()? {
        let head = to.head()?.map_or(0, |(s, _)| s);
        return Err(StorageError::NotEmpty { at: target, head });
    }
    let upto = from.head()?.map_or(0, |(s, _)| s);
    to.begin_copy(&from.describe())?;
    if let Some(id) = from.identity()? {
        to.take_identity(&id)?;
    }
    let mut tree = Builder::default();
    let mut head = None;
    let blobs = copy_range(from, to, 1, upto, &mut HashSet::new(), |e| {
        tree.push(e.entry_hash, |_, _, _| {});
        head = Some((e.seq, e.entry_hash));
    })?;
    to.finish()?;
    let before = Summary {
        head,
        entries: tree.size() as i64,
        root: tree.root(),
    };
    let after = summarize_upto(to, upto)?;
    if before != after || after.head.map_or(0, |(s, _)| s) != upto {
        let what = if before.head != after.head {
            format!(
                "head {:?} against {:?}",
                before.head.map(|(s, h)| (s, hex::encode(h))),
                after.head.map(|(s, h)| (s, hex::encode(h)))
            )
        } else {
            format!(
                "Merkle root {} against {}",
                hex::encode(before.root),
                hex::encode(after.root)
            )
        };
        return Err(StorageError::Differ {
            from: from.describe(),
            to: target,
            what,
        });
    }
    Ok(Migrated {
        entries: head.map_or(0, |(s, _)| s),
        blobs,
        summary: after,
        left_behind: from.left_behind()?,
    })
}

/// Copies entries `first..=upto` of `from` onto the end of `to`, a page at
/// a time, each page after the blobs it names (and their delta bases, so a
/// target never holds an entry whose blob is missing), through the target's
/// checked append. `copied` holds blobs already copied (the target ignores
/// one it holds anyway); `each` sees every entry copied. Returns the number
/// of blobs copied.
pub fn copy_range(
    from: &mut dyn Storage,
    to: &mut dyn Storage,
    first: i64,
    upto: i64,
    copied: &mut HashSet<Hash>,
    mut each: impl FnMut(&super::RawEntry),
) -> Result<u64> {
    let mut blobs = 0u64;
    let mut next = first;
    while next <= upto {
        let room = usize::try_from(upto - next + 1).unwrap_or(PAGE).min(PAGE);
        let page = from.entries(next, room)?;
        if page.is_empty() {
            break;
        }
        // The blobs this page names, then the page.
        let mut pending: Vec<RawBlob> = Vec::new();
        let mut bytes = 0usize;
        for e in &page {
            let Payload::Json(text) = &e.payload else {
                continue;
            };
            for name in crate::ledger::blobs::referenced_blobs(text) {
                let Some(mut hash) = parse_hash(&name) else {
                    continue;
                };
                // The blob, then the base its delta is made against, and so on.
                while copied.insert(hash) {
                    // A blob retention pruned is named but gone: the entry
                    // that pruned it says so, in the source as in the copy.
                    let Some(b) = from.blob(&hash)? else {
                        break;
                    };
                    let base = b.base;
                    blobs += 1;
                    bytes += b.data.len();
                    pending.push(b);
                    if bytes >= BLOB_BYTES {
                        to.put_blobs(&pending)?;
                        pending.clear();
                        bytes = 0;
                    }
                    match base {
                        Some(h) => hash = h,
                        None => break,
                    }
                }
            }
        }
        to.put_blobs(&pending)?;
        // The target's append checks the chain of these very bytes.
        to.append(&page)?;
        page.iter().for_each(&mut each);
        next += page.len() as i64;
    }
    Ok(blobs)
}

fn parse_hash(name: &str) -> Option<Hash> {
    hex::decode(name).ok()?.try_into().ok()
}

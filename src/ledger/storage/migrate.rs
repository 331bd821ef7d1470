//! `newsledger migrate --from A --to B`: a ledger copied between storages
//! (SQLite paths, PostgreSQL URLs), blobs first and then every entry in
//! order through the target's checked append, into an empty target only;
//! it ends by reading both back and comparing their heads and the Merkle
//! roots computed from their entries.

use super::{PAGE, Result, Storage, StorageError, Summary, summarize};

/// What a migration copied, and what both ledgers hold after it.
#[derive(Debug, Clone)]
pub struct Migrated {
    pub entries: i64,
    pub blobs: u64,
    pub summary: Summary,
}

/// Blobs copied per page (captures are tens of KB each).
const BLOB_PAGE: usize = 200;

pub fn migrate(from: &mut dyn Storage, to: &mut dyn Storage) -> Result<Migrated> {
    let target = to.describe();
    if let Some((head, _)) = to.head()? {
        return Err(StorageError::NotEmpty { at: target, head });
    }
    if !to.blobs_after(None, 1)?.is_empty() {
        return Err(StorageError::NotEmpty {
            at: target,
            head: 0,
        });
    }
    // Blobs first: at no moment does the target hold an entry that names a
    // blob it lacks.
    let mut blobs = 0u64;
    let mut after = None;
    loop {
        let page = from.blobs_after(after, BLOB_PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some(last.hash);
        to.put_blobs(&page)?;
        blobs += page.len() as u64;
    }
    let mut next = 1;
    loop {
        let page = from.entries(next, PAGE)?;
        if page.is_empty() {
            break;
        }
        to.append(&page)?;
        next += page.len() as i64;
    }
    to.finish()?;
    let before = summarize(from)?;
    let after = summarize(to)?;
    if before != after {
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
    let copied_blobs = count_blobs(to)?;
    if copied_blobs != blobs {
        return Err(StorageError::Differ {
            from: from.describe(),
            to: target,
            what: format!("{blobs} blobs copied, {copied_blobs} stored"),
        });
    }
    Ok(Migrated {
        entries: next - 1,
        blobs,
        summary: after,
    })
}

fn count_blobs(s: &mut dyn Storage) -> Result<u64> {
    let mut n = 0;
    let mut after = None;
    loop {
        let page = s.blobs_after(after, BLOB_PAGE)?;
        let Some(last) = page.last() else {
            return Ok(n);
        };
        after = Some(last.hash);
        n += page.len() as u64;
    }
}

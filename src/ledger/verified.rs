//! `LEDGER.verified`: the record of this machine's verifications, which
//! `verify` writes and every read checks the ledger against (a ledger that
//! holds fewer entries than were once found intact has lost some).

/// What this machine's last `verify` found: `LEDGER.verified`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub at: String,
    pub entries: i64,
}

/// `LEDGER.verified`, the record of this machine's verifications.
pub fn verified_path(ledger: &std::path::Path) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("{}.verified", ledger.display()))
}

/// The most entries this machine ever found intact, and when: the ledger
/// may grow past it, never fall below it.
pub fn last_verified(ledger: &std::path::Path) -> Option<Verified> {
    let text = std::fs::read_to_string(verified_path(ledger)).ok()?;
    text.lines()
        .filter_map(|line| {
            let (at, rest) = line.split_once(' ')?;
            let n = rest.strip_prefix("intact (")?.split(" entries").next()?;
            Some(Verified {
                at: at.to_string(),
                entries: n.parse().ok()?,
            })
        })
        .max_by_key(|v| v.entries)
}

/// Records a verification: its result on the first line (what `serve`'s
/// ledger page shows), and the most entries ever found intact on the next
/// when that is more, so that a truncated ledger cannot lower the record.
/// A directory nobody can write just keeps no record.
pub fn record_verified(
    ledger: &std::path::Path,
    at: &str,
    ok: bool,
    entries: i64,
    chain_only: bool,
) {
    let mut text = format!(
        "{at} {} ({entries} entries{})\n",
        if ok { "intact" } else { "FAILED" },
        if chain_only { "; the chain only" } else { "" }
    );
    if let Some(best) = last_verified(ledger).filter(|b| !ok || b.entries > entries) {
        text.push_str(&format!("{} intact ({} entries)\n", best.at, best.entries));
    }
    let _ = std::fs::write(verified_path(ledger), text);
}

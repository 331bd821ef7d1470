//! How read commands print: aligned text for people, `--json` for scripts.

use std::io::{self, Write};

use serde_json::json;

use crate::config::Config;
use crate::diff::words;
use crate::extract::Article;
use crate::ledger::Checkpoint;
use crate::ledger::read::{HistoryRow, Status};
use crate::ledger::verify::Report;
use crate::present::safe_line;
pub use crate::present::{counts, failing, overdue, safe, weak_extraction};

fn print_json(out: &mut dyn Write, v: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v)?;
    writeln!(out)
}

pub fn check_config(out: &mut dyn Write, cfg: &Config) -> io::Result<()> {
    writeln!(out, "{}: OK", cfg.file.display())?;
    match &cfg.ledger_url {
        Some(url) => writeln!(
            out,
            "ledger: PostgreSQL {} (replica {})",
            crate::ledger::storage::postgres::redact(url),
            cfg.ledger_path.display()
        )?,
        None => writeln!(out, "ledger: {}", cfg.ledger_path.display())?,
    }
    let now = chrono::Utc::now();
    for s in &cfg.sources {
        let next = s
            .schedule
            .next_after(now)
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "never".into());
        let tz = s.timezone.as_deref().unwrap_or("UTC");
        writeln!(
            out,
            "source {}: schedule \"{}\" ({tz}), next run {next}",
            s.name,
            s.schedule.expr()
        )?;
        for u in &s.urls {
            writeln!(out, "  url     {u}")?;
        }
        for (label, list) in [
            ("feed", &s.feeds),
            ("sitemap", &s.sitemaps),
            ("listing", &s.listings),
        ] {
            for u in list {
                writeln!(out, "  {label:<7} {u}")?;
            }
        }
        // The source's own URLs are fetched as written, but the links they
        // yield are guarded: on a private address, discovery finds nothing.
        if !cfg.fetch.allow_private_networks
            && let Some(u) = s
                .urls
                .iter()
                .chain(&s.feeds)
                .chain(&s.sitemaps)
                .chain(&s.listings)
                .find(|u| on_private_address(u))
        {
            writeln!(
                out,
                "  warning: {u} is on a private address and allow_private_networks is off: it is fetched (configured URLs are), but links discovered on its site will be refused"
            )?;
        }
    }
    Ok(())
}

/// A literal private address, or `localhost` (no name is looked up here).
fn on_private_address(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(a)) => crate::discover::is_private(a.into()),
        Some(url::Host::Ipv6(a)) => crate::discover::is_private(a.into()),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        None => false,
    }
}

pub fn article(out: &mut dyn Write, a: &Article, json: bool) -> io::Result<()> {
    if json {
        return print_json(out, a);
    }
    let field = |v: &Option<String>| v.as_deref().map_or_else(|| "-".into(), safe_line);
    writeln!(out, "title:       {}", field(&a.title))?;
    writeln!(out, "byline:      {}", field(&a.byline))?;
    writeln!(out, "published:   {}", field(&a.published))?;
    writeln!(out, "modified:    {}", field(&a.modified))?;
    writeln!(out, "language:    {}", field(&a.language))?;
    writeln!(out, "canonical:   {}", field(&a.canonical_url))?;
    writeln!(out, "site:        {}", field(&a.site_name))?;
    writeln!(out, "description: {}", field(&a.description))?;
    writeln!(out, "extractor:   {}", safe_line(&a.extractor_version))?;
    writeln!(out)?;
    writeln!(out, "{}", safe(&a.text))
}

pub fn history(out: &mut dyn Write, url: &str, rows: &[HistoryRow], json: bool) -> io::Result<()> {
    if json {
        return print_json(out, &rows);
    }
    writeln!(out, "{url}")?;
    writeln!(
        out,
        "{:>4}  {:<10}  {:<24}  {:<24}  {:<12}  {:>6}  {:>6}  {:>5}  {:>6}  title",
        "rev", "since", "first seen", "last seen", "content", "+words", "-words", "seen", "seq"
    )?;
    for r in rows {
        // A gone span shows the removal, not a revision's text.
        let (content, title) = if r.kind == "gone" {
            ("(removed)", "")
        } else {
            (
                r.content_hash.get(..12).unwrap_or(""),
                r.title.as_deref().unwrap_or(""),
            )
        };
        let title = safe_line(title);
        let kind = if r.restored && r.kind != "restored" {
            format!("restored+{}", r.kind)
        } else {
            r.kind.clone()
        };
        let seen = if r.failed > 0 {
            format!("{}/{}!", r.observations, r.observations + r.failed)
        } else {
            r.observations.to_string()
        };
        writeln!(
            out,
            "{:>4}  {:<10}  {:<24}  {:<24}  {:<12}  {:>6}  {:>6}  {:>5}  {:>6}  {}",
            r.revision,
            kind,
            r.first_seen,
            r.last_seen,
            content,
            r.words_added,
            r.words_removed,
            seen,
            r.seq,
            title
        )?;
    }
    if rows.iter().any(|r| r.failed > 0) {
        writeln!(
            out,
            "(seen N/M!: M fetches in the span, N of them answered; the rest failed: gaps)"
        )?;
    }
    Ok(())
}

pub fn show(
    out: &mut dyn Write,
    url: &str,
    row: &HistoryRow,
    a: &Article,
    json: bool,
) -> io::Result<()> {
    if json {
        return print_json(
            out,
            &json!({
                "url": url,
                "revision": row.revision,
                "first_seen": row.first_seen,
                "last_seen": row.last_seen,
                "content_hash": row.content_hash,
                "seq": row.seq,
                "article": a,
            }),
        );
    }
    writeln!(
        out,
        "{url} — revision {} (first seen {}, last seen {}, seq {})",
        row.revision, row.first_seen, row.last_seen, row.seq
    )?;
    writeln!(out, "content hash: {}", row.content_hash)?;
    article(out, a, false)
}

#[allow(clippy::too_many_arguments)]
pub fn diff(
    out: &mut dyn Write,
    url: &str,
    from: i64,
    to: i64,
    a: &Article,
    b: &Article,
    color: bool,
    full: bool,
    json: bool,
) -> io::Result<()> {
    let fields = crate::diff::metadata_changes(a, b);
    let d = words::diff_ordered(&a.text, &b.text, from <= to);
    if json {
        let segments: Vec<_> = d
            .segments
            .iter()
            .map(|s| match s {
                words::Segment::Same(t) => json!({"op": "same", "text": t}),
                words::Segment::Added(t) => json!({"op": "added", "text": t}),
                words::Segment::Removed(t) => json!({"op": "removed", "text": t}),
            })
            .collect();
        return print_json(
            out,
            &json!({
                "url": url, "from": from, "to": to,
                "fields": fields.iter().map(|(k, x, y)| json!({"field": k, "from": x, "to": y})).collect::<Vec<_>>(),
                "words_added": d.words_added, "words_removed": d.words_removed,
                "segments": segments,
                "hunks": words::excerpt(&d, CONTEXT_WORDS),
            }),
        );
    }
    writeln!(
        out,
        "{url}: revision {from} → {to}, +{} −{} words",
        d.words_added, d.words_removed
    )?;
    for (k, x, y) in &fields {
        writeln!(out, "{k}: \"{}\" → \"{}\"", safe_line(x), safe_line(y))?;
    }
    writeln!(out)?;
    // Page text is escaped before the colours are added.
    let mut shown = d.clone();
    for s in &mut shown.segments {
        let (words::Segment::Same(t) | words::Segment::Added(t) | words::Segment::Removed(t)) = s;
        *t = safe(t).into_owned();
    }
    if full {
        return writeln!(out, "{}", words::render(&shown, color));
    }
    let hunks = words::hunks(&shown, CONTEXT_WORDS);
    if hunks.is_empty() {
        return writeln!(out, "(the text is the same)");
    }
    for h in hunks {
        let text = words::render(
            &words::WordDiff {
                segments: h,
                ..Default::default()
            },
            color,
        );
        writeln!(out, "{}", text.trim())?;
        writeln!(out)?;
    }
    Ok(())
}

/// Words of context around each change in `diff` (`--full` shows all).
const CONTEXT_WORDS: usize = 12;

/// Where a page of a list starts, and how long the whole list is (when
/// known without reading it all).
pub struct Page {
    pub offset: usize,
    pub total: Option<usize>,
    /// Rows follow the page.
    pub more: bool,
}

/// `changes`: per change, a line with when, kind, label, significance,
/// revisions and words, then the headline and other metadata before →
/// after, then the first changed passage.
pub fn changes(
    out: &mut dyn Write,
    rows: &[crate::ledger::read::ChangeView],
    page: Page,
    json: bool,
) -> io::Result<()> {
    if json {
        return print_json(out, &rows);
    }
    if rows.is_empty() {
        return writeln!(out, "no changes flagged");
    }
    for v in rows {
        let r = &v.row;
        let revs = match (r.from_revision, r.to_revision) {
            (Some(a), Some(b)) => format!("{a} → {b}"),
            (Some(a), None) => format!("{a} → removed"),
            (None, Some(b)) => format!("{b}"),
            _ => String::new(),
        };
        let mut how = v.label.unwrap_or("").to_string();
        if v.correction_notice {
            how.push_str(" (correction notice)");
        }
        let level = v
            .significance
            .as_ref()
            .map_or(String::new(), |s| s.level.as_str().to_string());
        let words = if v.words_added + v.words_removed > 0 {
            format!("  +{} −{} words", v.words_added, v.words_removed)
        } else {
            String::new()
        };
        writeln!(
            out,
            "{}  {:<9} {how:<9} {level:<11} rev {revs:<8} {}{words}  (seq {})",
            r.detected_at,
            r.kind,
            safe_line(&r.url),
            r.seq
        )?;
        for m in &v.metadata {
            writeln!(
                out,
                "    {}: “{}” → “{}”",
                m.field,
                safe_line(&m.before),
                safe_line(&m.after)
            )?;
        }
        if let Some(s) = &v.significance
            && !s.reasons.is_empty()
        {
            writeln!(out, "    why: {}", safe_line(&s.reasons.join("; ")))?;
        }
        if let Some(e) = v.excerpt.first() {
            writeln!(out, "    {}", safe_line(e))?;
        }
    }
    page_footer(out, &page, rows.len())
}

/// Where a page of a list ends and how to ask for the next one, when there
/// is one (or when the list's length is not known).
pub fn page_footer(out: &mut dyn Write, page: &Page, rows: usize) -> io::Result<()> {
    let shown = page.offset + rows;
    match page.total {
        Some(total) if total > shown => writeln!(
            out,
            "{} to {shown} of {total}; the next page: --offset {shown}",
            page.offset + 1
        ),
        None if page.more => writeln!(
            out,
            "{} to {shown}; the next page: --offset {shown}",
            page.offset + 1
        ),
        _ => Ok(()),
    }
}

pub fn status(out: &mut dyn Write, s: &Status, json: bool) -> io::Result<()> {
    if json {
        return print_json(out, s);
    }
    for src in &s.sources {
        writeln!(out, "source {}: {} articles", src.name, src.articles)?;
        writeln!(
            out,
            "  last cycle: {}",
            src.last_cycle_at.as_deref().unwrap_or("never")
        )?;
        writeln!(
            out,
            "  next run:   {}",
            src.next_run_at.as_deref().unwrap_or("-")
        )?;
        if let Some(c) = src.counts.as_object() {
            let parts: Vec<String> = c
                .iter()
                .filter(|(_, v)| v.as_u64() != Some(0))
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(out, "  counts:     {}", parts.join(", "))?;
        }
        if let Some(problem) = weak_extraction(src) {
            writeln!(out, "  warning:    {}", safe_line(&problem))?;
        }
        if let Some(e) = &src.last_error {
            writeln!(out, "  last error: {e}")?;
        }
    }
    writeln!(
        out,
        "ledger {}: {} entries, {} bytes, head {}:{}",
        s.ledger.path, s.ledger.entries, s.ledger.bytes, s.ledger.head_seq, s.ledger.head_hash
    )
}

pub fn verify(
    out: &mut dyn Write,
    r: &Report,
    cp: Option<&Checkpoint>,
    json: bool,
) -> io::Result<()> {
    if json {
        return print_json(
            out,
            &json!({
                "ok": r.ok(),
                "entries": r.entries,
                "blobs_checked": r.blobs_checked,
                "blob_bytes": r.blob_bytes,
                "blob_seconds": r.blob_seconds,
                "head": r.head.as_ref().map(|h| h.to_string()),
                "checkpoint": cp.map(|c| c.to_string()),
                "first_bad_seq": r.first_break.as_ref().map(|b| b.seq),
                "reason": r.first_break.as_ref().map(|b| b.reason.clone()),
                "anomalies": r.anomalies.iter().map(|b| json!({"seq": b.seq, "reason": b.reason})).collect::<Vec<_>>(),
                "derived_checked": r.derived_checked,
                "derived_mismatches": r.derived.iter().map(|m| json!({"table": m.table, "key": m.key, "detail": m.detail})).collect::<Vec<_>>(),
            }),
        );
    }
    if let Some(b) = &r.first_break {
        return writeln!(out, "BROKEN at seq {}: {}", b.seq, b.reason);
    }
    for b in &r.anomalies {
        writeln!(out, "CONTRADICTION at seq {}: {}", b.seq, b.reason)?;
    }
    const SHOWN: usize = 20;
    for m in r.derived.iter().take(SHOWN) {
        writeln!(out, "DERIVED DATA DISAGREES WITH THE CHAIN: {m}")?;
    }
    if r.derived.len() > SHOWN {
        writeln!(out, "... and {} more derived rows", r.derived.len() - SHOWN)?;
    }
    if !r.ok() {
        return writeln!(
            out,
            "FAILED: the chain verifies ({} entries) but {} derived rows and {} entries disagree with it; `newsledger rebuild` recomputes the derived tables",
            r.entries,
            r.derived.len(),
            r.anomalies.len()
        );
    }
    let head = r.head.as_ref().map(|h| h.to_string()).unwrap_or_default();
    let extends = cp
        .map(|c| format!("; extends checkpoint {c}"))
        .unwrap_or_default();
    let derived = if r.derived_checked {
        "; derived tables agree with the chain"
    } else {
        ""
    };
    let blobs = if r.blob_seconds > 0.0 {
        format!(
            "{} blob references checked ({:.1} MB at {:.0} MB/s)",
            r.blobs_checked,
            r.blob_bytes as f64 / 1e6,
            r.blob_bytes as f64 / 1e6 / r.blob_seconds
        )
    } else if r.derived_checked || r.blobs_checked > 0 {
        format!("{} blob references checked", r.blobs_checked)
    } else {
        "chain only (blobs, derived tables and tree nodes not checked)".into()
    };
    writeln!(
        out,
        "OK: {} entries, {blobs}, head {head}{extends}{derived}",
        r.entries
    )
}

/// A progress line on standard error, only when it is a terminal and the
/// work has run for more than two seconds; rewritten at most every 200 ms.
pub struct Progress {
    terminal: bool,
    started: std::time::Instant,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Progress {
    pub fn on_terminal() -> Progress {
        use std::io::IsTerminal;
        Progress {
            terminal: std::io::stderr().is_terminal(),
            started: std::time::Instant::now(),
            last: std::sync::Mutex::new(None),
        }
    }

    pub fn show(&self, what: &str, done: u64, total: u64) {
        if !self.terminal || self.started.elapsed() < std::time::Duration::from_secs(2) {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_millis(200)) {
            return;
        }
        *last = Some(std::time::Instant::now());
        let line = if total > 0 {
            format!(
                "verify: {what} {done}/{total} ({:.0} %)",
                100.0 * done as f64 / total as f64
            )
        } else {
            format!("verify: comparing {what} tables with the chain")
        };
        eprint!("\r\x1b[2K{line}");
    }

    /// Erases the progress line, if one was shown.
    pub fn clear(&self) {
        if self.last.lock().is_ok_and(|l| l.is_some()) {
            eprint!("\r\x1b[2K");
        }
    }
}

pub fn health(out: &mut dyn Write, problems: &[String], json: bool) -> io::Result<()> {
    if json {
        return print_json(
            out,
            &json!({ "healthy": problems.is_empty(), "problems": problems }),
        );
    }
    if problems.is_empty() {
        return writeln!(out, "healthy: every source cycled on schedule");
    }
    writeln!(out, "unhealthy: {}", problems.join("; "))
}

/// `articles`: one line per article.
pub fn articles(
    out: &mut dyn Write,
    rows: &[crate::ledger::read::ArticleListRow],
    json: bool,
) -> io::Result<()> {
    if json {
        return print_json(out, &serde_json::to_value(rows).unwrap_or_default());
    }
    if rows.is_empty() {
        return writeln!(out, "no articles");
    }
    for r in rows {
        writeln!(
            out,
            "{:<9} {:>3} rev  {}  {}  [{}]{}",
            r.status,
            r.revisions,
            safe(&r.url),
            safe(r.title.as_deref().unwrap_or("(no title)")),
            safe(&r.source),
            r.last_change
                .as_deref()
                .map(|c| format!("  last change {c}"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

/// `search`: where a phrase appeared and when it went.
pub fn search(
    out: &mut dyn Write,
    phrase: &str,
    hits: &[crate::ledger::search::Hit],
    json: bool,
) -> io::Result<()> {
    if json {
        return print_json(out, &serde_json::to_value(hits).unwrap_or_default());
    }
    if hits.is_empty() {
        return writeln!(out, "no revision contains \"{}\"", safe(phrase));
    }
    for h in hits {
        writeln!(
            out,
            "{}  {}",
            safe(&h.url),
            safe(h.title.as_deref().unwrap_or(""))
        )?;
        let end = match (h.removed_in, &h.removed_at, h.present) {
            (_, _, true) => "still there".to_string(),
            (Some(r), Some(at), false) if h.removed_by.as_deref() == Some("reverted") => {
                format!("removed when the page went back to revision {r} (seen {at})")
            }
            (Some(r), Some(at), false) => format!("removed in revision {r} (seen {at})"),
            _ => "no longer shown".to_string(),
        };
        writeln!(
            out,
            "  first in revision {} (seen {}), last seen {}; {end}; revisions {:?}",
            h.first_revision, h.first_seen, h.last_seen, h.revisions
        )?;
    }
    Ok(())
}

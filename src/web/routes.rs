//! Routing: each page of the web view read from the ledger on a read-only
//! connection (every value from the chain, as `ledger::read` and
//! `ledger::lists` give it) and rendered by [`super::pages`].

use std::collections::HashMap;
use std::path::Path;

use hyper::StatusCode;

use std::time::Duration;

use super::pages::{CHANGES_PER_PAGE, ChangesFilter, SEARCH_PER_PAGE};
use super::{APP_CSP, RAW_CSP, Reply, html, pages, reply};
use crate::ledger::{self, LedgerError};

pub(super) fn route(
    path: &str,
    q: &HashMap<String, String>,
    ledger_path: &Path,
    base: &str,
) -> Reply {
    let conn = match ledger::open_for_reading(ledger_path) {
        Ok(c) => c,
        Err(e @ LedgerError::Tampered { .. }) => {
            return html(
                StatusCode::CONFLICT,
                pages::message("Cannot show this", &e.to_string()),
            );
        }
        Err(e) => {
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::message("Ledger unavailable", &e.to_string()),
            );
        }
    };
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let result = match path {
        "/" => changes_page(
            &conn,
            ChangesFilter {
                source: get("source"),
                kind: get("kind"),
                since: get("since"),
                significance: get("significance"),
                page: get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
            },
        ),
        "/articles" => {
            let page: usize = get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
            let q = ledger::lists::ArticleQuery {
                source: get("source"),
                status: get("status"),
            };
            let offset = (page - 1).saturating_mul(pages::ARTICLES_PER_PAGE);
            ledger::lists::articles_page(&conn, q, offset, pages::ARTICLES_PER_PAGE)
                .map(|listed| html(StatusCode::OK, pages::articles(&listed, q, page)))
        }
        "/article" => article_page(
            &conn,
            get("url"),
            get("from"),
            get("to"),
            get("view"),
            get("tpage").and_then(|p| p.parse().ok()).unwrap_or(1),
        ),
        "/revision" => revision_page(&conn, get("url"), get("rev")),
        "/raw" => raw_page(&conn, get("url"), get("rev")),
        "/search" => match get("q") {
            None => Ok(html(StatusCode::OK, pages::search("", None, 1))),
            Some(text) => {
                let page: usize = get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
                ledger::search::search_page(
                    &conn,
                    ledger_path,
                    text,
                    (page - 1).saturating_mul(SEARCH_PER_PAGE),
                    SEARCH_PER_PAGE,
                )
                .map(|found| html(StatusCode::OK, pages::search(text, Some(&found), page)))
            }
        },
        "/sources" => ledger::lists::status(&conn, ledger_path).map(|st| {
            let mut problems =
                crate::present::overdue(&st, chrono::Utc::now(), Duration::from_secs(900));
            problems.extend(crate::present::failing(&st, 3));
            html(StatusCode::OK, pages::sources(&st, &problems))
        }),
        "/status" => ledger_page(&conn, ledger_path),
        "/feed.atom" => feed(&conn, base),
        _ => Ok(html(
            StatusCode::NOT_FOUND,
            pages::message("Not found", "No such page."),
        )),
    };
    result.unwrap_or_else(|e| {
        let status = match e {
            LedgerError::Untrusted { .. } | LedgerError::Tampered { .. } => StatusCode::CONFLICT,
            LedgerError::Missing(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        html(status, pages::message("Cannot show this", &e.to_string()))
    })
}

fn not_found(what: &str) -> Result<Reply, LedgerError> {
    Ok(html(
        StatusCode::NOT_FOUND,
        pages::message("Not found", what),
    ))
}

fn changes_page(conn: &rusqlite::Connection, f: ChangesFilter<'_>) -> Result<Reply, LedgerError> {
    // The sources the filter offers: those the configuration entries name
    // (the chain's count per source would cost a pass over every article).
    let sources: Vec<String> = ledger::read::source_names(conn)?;
    let kinds: Vec<&str> = f.kind.into_iter().collect();
    let page = f.page.max(1);
    let listed = ledger::lists::changes_page(
        conn,
        ledger::lists::ChangeQuery {
            since: f.since,
            kinds: &kinds,
            source: f.source,
            significance: f
                .significance
                .and_then(crate::diff::significance::Level::parse),
        },
        (page - 1).saturating_mul(CHANGES_PER_PAGE),
        CHANGES_PER_PAGE,
    )?;
    let (more, total) = (listed.more, listed.total);
    let views = listed.rows;
    Ok(html(
        StatusCode::OK,
        pages::changes(&views, &f, &sources, pages::Paging { page, more, total }),
    ))
}

/// The article a `url` parameter names (in any normalized form), replayed
/// from the chain.
fn article_of(
    conn: &rusqlite::Connection,
    url: Option<&str>,
) -> Result<Option<(String, ledger::read::ArticleRecord)>, LedgerError> {
    let Some(found) = url
        .map(|u| ledger::read::resolve_article(conn, u))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    let record = ledger::read::article(conn, &found)?;
    Ok(Some((found, record)))
}

fn article_page(
    conn: &rusqlite::Connection,
    url: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    view: Option<&str>,
    timeline_page: usize,
) -> Result<Reply, LedgerError> {
    let Some((url, record)) = article_of(conn, url)? else {
        return not_found("No such article in the ledger.");
    };
    let history = record.history();
    let revisions = record.revision_numbers();
    let last = record.last().unwrap_or(1);
    let (dfrom, dto) = record
        .latest_content_change()
        .unwrap_or(((last - 1).max(1), last));
    let num = |v: Option<&str>, d: i64| v.and_then(|v| v.parse().ok()).unwrap_or(d);
    let (from, to) = (num(from, dfrom), num(to, dto));
    let title = record
        .revision(conn, record.current())?
        .and_then(|(_, a)| a.title);
    let diff = if from != to || revisions.len() > 1 {
        match (
            record.revision(conn, Some(from))?,
            record.revision(conn, Some(to))?,
        ) {
            (Some((_, a)), Some((_, b))) => {
                let d = crate::diff::words::diff_ordered(&a.text, &b.text, from <= to);
                Some((d, crate::diff::metadata_changes(&a, &b)))
            }
            _ => return not_found("No such revision."),
        }
    } else {
        None
    };
    let page = pages::ArticlePage {
        url: &url,
        title: title.as_deref(),
        history: &history,
        revisions: &revisions,
        from,
        to,
        side: view == Some("side"),
        diff: diff.as_ref().map(|(d, f)| (d, f.clone())),
        timeline_page,
    };
    Ok(html(StatusCode::OK, pages::article(&page)))
}

fn revision_page(
    conn: &rusqlite::Connection,
    url: Option<&str>,
    rev: Option<&str>,
) -> Result<Reply, LedgerError> {
    let Some((url, record)) = article_of(conn, url)? else {
        return not_found("No such article in the ledger.");
    };
    let rev = rev.and_then(|r| r.parse().ok());
    let Some((row, a)) = record.revision(conn, rev)? else {
        return not_found("No such revision.");
    };
    let has_raw = record
        .revision_row(row.revision)
        .is_some_and(|r| r.raw_blob.is_some());
    Ok(html(
        StatusCode::OK,
        pages::revision(&url, &row, &a, has_raw),
    ))
}

/// The capture of a revision, decoded, under a sandboxing CSP.
fn raw_page(
    conn: &rusqlite::Connection,
    url: Option<&str>,
    rev: Option<&str>,
) -> Result<Reply, LedgerError> {
    let Some((_, record)) = article_of(conn, url)? else {
        return not_found("No such article in the ledger.");
    };
    let Some(raw) = rev
        .and_then(|r| r.parse().ok())
        .and_then(|n| record.revision_row(n))
        .and_then(|r| r.raw_blob.clone())
    else {
        return not_found("No capture kept for this revision.");
    };
    let bytes = ledger::blobs::get(conn, &raw)?;
    let Some((body, _)) = crate::exchange::capture_body(&bytes, 64 * 1024 * 1024) else {
        return not_found("The capture cannot be decoded.");
    };
    // Served as HTML in a sandbox whatever the page said it was.
    Ok(reply(
        StatusCode::OK,
        "text/html; charset=utf-8",
        RAW_CSP,
        body,
    ))
}

fn ledger_page(conn: &rusqlite::Connection, path: &Path) -> Result<Reply, LedgerError> {
    let status = ledger::lists::status(conn, path)?;
    let sqlite = |source| LedgerError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let checkpoint = match crate::ledger::checkpoints::latest(conn).map_err(sqlite)? {
        None => None,
        Some(cp) => {
            let ts = crate::ledger::checkpoints::timestamp_of(conn, cp.seq)
                .map_err(sqlite)?
                .and_then(|t| t.time);
            Some((cp.seq, cp.body.size, cp.note, ts))
        }
    };
    let last_verify = std::fs::read_to_string(format!("{}.verified", path.display()))
        .ok()
        .map(|s| s.trim().to_string());
    Ok(html(
        StatusCode::OK,
        pages::ledger(&pages::LedgerPage {
            status: &status,
            checkpoint,
            last_verify,
        }),
    ))
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// Atom 1.0 feed of flagged changes (changed, gone, restored, reverted),
/// newest first, at most 100.
fn feed(conn: &rusqlite::Connection, base: &str) -> Result<Reply, LedgerError> {
    let flagged = ledger::lists::change_rows(
        conn,
        ledger::lists::ChangeQuery {
            kinds: &["changed", "gone", "restored", "reverted"],
            ..Default::default()
        },
        100,
    )?;
    let genesis: String = conn
        .query_row(
            "SELECT lower(hex(entry_hash)) FROM ledger WHERE seq = 1",
            [],
            |r| r.get(0),
        )
        .unwrap_or_default();
    let base = xml(base);
    let updated = flagged
        .first()
        .map_or("1970-01-01T00:00:00Z".to_string(), |(c, _)| {
            c.detected_at.clone()
        });
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>newsledger: flagged changes</title>\n<id>urn:newsledger:{genesis}</id>\n<updated>{}</updated>\n<link rel=\"self\" href=\"{base}/feed.atom\"/>\n<link href=\"{base}/\"/>\n<generator>newsledger</generator>\n",
        xml(&updated)
    );
    for (c, title) in &flagged {
        let title = title.as_deref().unwrap_or(c.url.as_str());
        let revs = format!(
            "{} → {}",
            c.from_revision.map_or("–".into(), |r| r.to_string()),
            c.to_revision.map_or("removed".into(), |r| r.to_string())
        );
        let link = match (c.from_revision, c.to_revision) {
            (Some(f), Some(t)) => format!(
                "{base}{}&amp;from={f}&amp;to={t}",
                xml(&pages::article_link(&c.url))
            ),
            _ => format!("{base}{}", xml(&pages::article_link(&c.url))),
        };
        out.push_str(&format!(
            "<entry>\n<id>urn:newsledger:{genesis}:{}:{}</id>\n<title>{}: {}</title>\n<updated>{}</updated>\n<link href=\"{link}\"/>\n<author><name>newsledger</name></author>\n<summary>{} of {} (revision {revs}, fields {}, entry {})</summary>\n</entry>\n",
            c.seq,
            xml(&c.kind),
            xml(&c.kind),
            xml(title),
            xml(&c.detected_at),
            xml(&c.kind),
            xml(&c.url),
            xml(&c.fields.to_string()),
            c.seq
        ));
    }
    out.push_str("</feed>\n");
    Ok(reply(
        StatusCode::OK,
        "application/atom+xml; charset=utf-8",
        APP_CSP,
        out.into_bytes(),
    ))
}

/// The self-contained HTML report of one article (`newsledger report`).
pub fn report_html(conn: &rusqlite::Connection, url: &str) -> Result<String, LedgerError> {
    let record = ledger::read::article(conn, url)?;
    let history = record.history();
    let sqlite = |source| LedgerError::Sqlite {
        path: "ledger".into(),
        source,
    };
    let mut changes = Vec::new();
    let mut previous: Option<i64> = None;
    for h in &history {
        let entry_hash: String = conn
            .query_row(
                "SELECT lower(hex(entry_hash)) FROM ledger WHERE seq = ?1",
                [h.seq],
                |r| r.get(0),
            )
            .map_err(sqlite)?;
        if h.kind != "new" {
            let pair = match (previous, h.kind.as_str()) {
                (Some(p), "changed" | "reverted" | "restored" | "metadata") if p != h.revision => {
                    match (
                        record.revision(conn, Some(p))?,
                        record.revision(conn, Some(h.revision))?,
                    ) {
                        (Some((_, a)), Some((_, b))) => Some((a, b)),
                        _ => None,
                    }
                }
                _ => None,
            };
            let mut change = pages::ReportChange {
                span: h.clone(),
                from: previous.filter(|_| h.kind != "gone"),
                diff: None,
                entry_hash,
                metadata: vec![],
                label: None,
                significance: None,
            };
            if let Some((a, b)) = pair {
                let d = crate::diff::words::diff_ordered(&a.text, &b.text, true);
                let (metadata, significance) = crate::diff::significance::between(&a, &b, &d);
                change.significance = Some(significance);
                if matches!(h.kind.as_str(), "changed" | "metadata") {
                    let declared = crate::diff::is_declared(
                        &crate::diff::fingerprint(&a),
                        &crate::diff::fingerprint(&b),
                    );
                    change.label = Some(if declared { "declared" } else { "stealth" });
                }
                change.metadata = metadata;
                change.diff = Some(d);
            }
            changes.push(change);
        }
        if h.kind != "gone" {
            previous = Some(h.revision);
        }
    }
    let last_seq = history.iter().map(|h| h.seq).max().unwrap_or(0);
    let checkpoint = crate::ledger::checkpoints::covering(conn, last_seq)
        .map_err(sqlite)?
        .map(|(cp, ts)| (cp.seq, cp.body.size, cp.note, ts.and_then(|t| t.time)));
    let head = ledger::head(conn)
        .map_err(sqlite)?
        .map(|(s, h)| format!("{s}:{}", hex::encode(h)))
        .unwrap_or_default();
    let title = record
        .revision(conn, record.current())?
        .and_then(|(_, a)| a.title);
    Ok(pages::report(&pages::Report {
        url,
        title: title.as_deref(),
        history: &history,
        changes: &changes,
        head,
        checkpoint,
        generated: ledger::timestamp(chrono::Utc::now()),
    })
    .into_string())
}

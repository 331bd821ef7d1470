//! The read commands: what the record says of articles and changes.

use super::*;

/// `newsledger extract`.
pub(super) async fn extract(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Extract { input, url, json } = &cli.command else {
        return Ok(0);
    };
    let article = extract_input(input, url.as_deref(), cli).await?;
    output::article(&mut out, &article, *json)?;
    Ok(0)
}

/// `newsledger history`.
pub(super) async fn history(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::History {
        url,
        limit,
        offset,
        json,
    } = &cli.command
    else {
        return Ok(0);
    };
    let (_, conn) = open_ro(cli)?;
    let url = resolve(&conn, url)?;
    let mut rows = ledger::read::article(&conn, &url)?.history();
    // A page of the newest spans, in the order they happened.
    let total = rows.len();
    let end = total.saturating_sub(*offset);
    rows.truncate(end);
    let limit = limit.unwrap_or(if *json { usize::MAX } else { 100 });
    let rows = rows.split_off(end.saturating_sub(limit));
    output::history(&mut out, &url, &rows, *json)?;
    if !*json {
        let page = output::Page {
            offset: *offset,
            total: Some(total),
            more: end > rows.len(),
        };
        output::page_footer(out, &page, rows.len())?;
    }
    Ok(0)
}

/// `newsledger show`.
pub(super) async fn show(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Show { url, rev, at, json } = &cli.command else {
        return Ok(0);
    };
    let (_, conn) = open_ro(cli)?;
    let url = resolve(&conn, url)?;
    let record = ledger::read::article(&conn, &url)?;
    let (rev, at) = match at {
        None => (*rev, None),
        Some(t) => {
            let t = parse_since(t).map_err(|f| Failure {
                message: f.message.replacen("--since", "--at", 1),
                ..f
            })?;
            let at = ledger::read::at_time(&conn, &record, &t)?
                .ok_or_else(|| Failure::usage(format!("the ledger first saw {url} after {t}")))?;
            (
                Some(
                    at.revision
                        .ok_or_else(|| Failure::usage(format!("{url}: {}", at.describe())))?,
                ),
                Some(at),
            )
        }
    };
    let (row, article) = record.revision(&conn, rev)?.ok_or_else(|| {
        Failure::usage(format!(
            "{url} has no revision {} (it has 1 to {})",
            rev.unwrap_or(0),
            record.last().unwrap_or(0)
        ))
    })?;
    if let Some(at) = &at {
        if *json {
            let mut v = serde_json::to_value(at).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("url".into(), serde_json::Value::String(url.clone()));
                o.insert(
                    "article".into(),
                    serde_json::to_value(&article).unwrap_or_default(),
                );
            }
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&v).unwrap_or_default()
            )?;
            return Ok(0);
        }
        writeln!(out, "{}", at.describe())?;
    }
    output::show(&mut out, &url, &row, &article, *json)?;
    Ok(0)
}

/// `newsledger articles`.
pub(super) async fn articles(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Articles {
        source,
        status,
        limit,
        offset,
        json,
    } = &cli.command
    else {
        return Ok(0);
    };
    let (_, conn) = open_ro(cli)?;
    let q = ledger::lists::ArticleQuery {
        source: source.as_deref(),
        status: status.as_deref(),
    };
    let listed = ledger::lists::articles_page(&conn, q, *offset, *limit)?;
    output::articles(&mut out, &listed.rows, *json)?;
    if !*json {
        let page = output::Page {
            offset: *offset,
            total: listed.total,
            more: listed.more,
        };
        output::page_footer(out, &page, listed.rows.len())?;
    }
    Ok(0)
}

/// `newsledger search`.
pub(super) async fn search(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Search {
        text,
        limit,
        offset,
        json,
    } = &cli.command
    else {
        return Ok(0);
    };
    let (path, conn) = open_ro(cli)?;
    let page = ledger::search::search_page(&conn, &path, text, *offset, *limit)?;
    output::search(&mut out, text, &page.hits, *json)?;
    if page.more && !*json {
        writeln!(
            out,
            "more articles may hold it: --offset {}",
            offset + page.hits.len()
        )?;
    }
    Ok(0)
}

/// `newsledger diff`.
pub(super) async fn diff(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Diff {
        url,
        from,
        to,
        color,
        full,
        json,
    } = &cli.command
    else {
        return Ok(0);
    };
    let (_, conn) = open_ro(cli)?;
    let url = resolve(&conn, url)?;
    let record = ledger::read::article(&conn, &url)?;
    let last = record.last().unwrap_or(1);
    // By default: the latest change of the text (not of metadata only).
    let (from, to) = match (from, to) {
        (None, None) => record
            .latest_content_change()
            .unwrap_or(((last - 1).max(1), last)),
        (f, t) => {
            let to = t.unwrap_or(last);
            (f.unwrap_or((to - 1).max(1)), to)
        }
    };
    let load = |n: i64| -> Result<crate::extract::Article, Failure> {
        record
            .revision(&conn, Some(n))?
            .map(|(_, a)| a)
            .ok_or_else(|| {
                Failure::usage(format!("{url} has no revision {n} (it has 1 to {last})"))
            })
    };
    let (a, b) = (load(from)?, load(to)?);
    let color = match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    output::diff(&mut out, &url, from, to, &a, &b, color, *full, *json)?;
    Ok(0)
}

/// `newsledger changes`.
pub(super) async fn changes(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Changes {
        since,
        kind,
        significance,
        limit,
        offset,
        json,
    } = &cli.command
    else {
        return Ok(0);
    };
    let (_, conn) = open_ro(cli)?;
    let since = since.as_deref().map(parse_since).transpose()?;
    let kinds: Vec<&str> = kind.iter().map(String::as_str).collect();
    let q = ledger::lists::ChangeQuery {
        since: since.as_deref(),
        kinds: &kinds,
        source: None,
        significance: significance
            .as_deref()
            .and_then(crate::diff::significance::Level::parse),
    };
    let listed = ledger::lists::changes_page(&conn, q, *offset, *limit)?;
    output::changes(
        &mut out,
        &listed.rows,
        output::Page {
            offset: *offset,
            total: listed.total,
            more: listed.more,
        },
        *json,
    )?;
    Ok(0)
}

/// `newsledger status`.
pub(super) async fn status(cli: &Cli, mut out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Status { json } = &cli.command else {
        return Ok(0);
    };
    let (path, conn) = open_ro(cli)?;
    let status = ledger::lists::status(&conn, &path)?;
    output::status(&mut out, &status, *json)?;
    Ok(0)
}

/// `newsledger report`.
pub(super) async fn report(cli: &Cli, _out: &mut dyn Write) -> Result<u8, Failure> {
    let Command::Report { url, output } = &cli.command else {
        return Ok(0);
    };
    let (_, conn) = open_ro(cli)?;
    let url = resolve(&conn, url)?;
    let page = crate::web::report_html(&conn, &url)?;
    std::fs::write(output, page)
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", output.display())))?;
    eprintln!("report written to {}", output.display());
    Ok(0)
}

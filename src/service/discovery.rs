//! Discovery: a source's feeds, sitemaps and listings fetched and their
//! guarded links added to the watch list (at most `max_new_links` per
//! document and cycle). The revisit ladder is applied to the watch list
//! where the cycle takes its work, in `frontier.rs`.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::params;
use tracing::{debug, info, warn};

use super::record::{Context, CycleSummary, note_document};
use crate::config::Source;
use crate::discover;
use crate::extract;
use crate::fetch::Conditional;
use crate::fetch::guard::Guard;
use crate::ledger::writer::FetchReport;
use crate::ledger::{self, LedgerError};

/// The guard for a source's discovered links: its own URLs' sites (host
/// and port) and `hosts`, and the configured address policy.
pub fn source_guard(ctx: &Context, source: &Source) -> Guard {
    Guard::new(
        source
            .urls
            .iter()
            .chain(&source.feeds)
            .chain(&source.sitemaps)
            .chain(&source.listings),
        &source.hosts,
        ctx.fetcher.address_policy(),
    )
}

/// Discovery documents followed per cycle, at most (sitemap indexes fan out).
const MAX_DISCOVERY_DOCS: usize = 50;

/// A discovered link: its URL, the document it came from, its published date.
type Candidate = (String, String, Option<String>);

/// Discovered links the guard refused in one cycle: how many, and one
/// reason to show.
#[derive(Default)]
struct Refusals {
    count: usize,
    example: Option<String>,
}

fn note_refusal(r: &mut Refusals, _url: &str, why: String) {
    r.count += 1;
    r.example.get_or_insert(why);
}

/// Fetches the source's feeds, sitemaps and listings, records each fetch,
/// and adds the links that pass the guards to the watch list.
pub(super) async fn run_discovery(
    ctx: &Context,
    source: &Source,
    guard: &Guard,
    summary: &mut CycleSummary,
) {
    let mut queue: std::collections::VecDeque<(String, &'static str)> = source
        .feeds
        .iter()
        .map(|u| (u.to_string(), "feed"))
        .chain(source.sitemaps.iter().map(|u| (u.to_string(), "sitemap")))
        .chain(source.listings.iter().map(|u| (u.to_string(), "listing")))
        .collect();
    if queue.is_empty() {
        return;
    }
    let mut docs = 0;
    let mut readable = 0;
    // Links are added to the watch list document by document: what a
    // cycle holds is one document's links, not every link of every
    // document (a source's sitemaps can list its whole archive).
    let mut sitemaps_seen = HashSet::new();
    let mut watching = Watching::default();
    let mut refusals = Refusals::default();
    while let Some((url, kind)) = queue.pop_front() {
        if docs >= MAX_DISCOVERY_DOCS {
            warn!(source = %source.name, "discovery stopped after {MAX_DISCOVERY_DOCS} documents this cycle");
            break;
        }
        docs += 1;
        // The source's own documents are fetched as written; child sitemaps
        // were discovered, and are guarded like any discovered link.
        let configured = docs <= source.feeds.len() + source.sitemaps.len() + source.listings.len();
        let result = if configured {
            ctx.fetcher.fetch(&url, &Conditional::default()).await
        } else {
            ctx.fetcher
                .fetch_guarded(&url, &Conditional::default(), guard)
                .await
        };
        let mut links = Vec::new();
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut seen = HashSet::new();
        if let Ok(resp) = &result.response
            && (200..300).contains(&resp.status)
        {
            readable += 1;
            let text = extract::decode(&resp.body, resp.header("content-type"));
            if kind == "listing" {
                links = discover::listing_links(
                    &text,
                    &result.final_url,
                    source.link_selector.as_deref(),
                )
                .into_iter()
                .map(|u| discover::Found::Article {
                    url: u,
                    published: None,
                })
                .collect();
            } else {
                links = discover::parse_xml(&text);
            }
        }
        let n = links.len();
        for f in links {
            match f {
                discover::Found::Sitemap(child) => {
                    if !sitemaps_seen.insert(child.clone()) {
                        continue;
                    }
                    match url::Url::parse(&child)
                        .map_err(|e| e.to_string())
                        .and_then(|u| guard.check(&u))
                    {
                        Ok(()) => queue.push_back((child, "sitemap")),
                        Err(why) => note_refusal(&mut refusals, &child, why),
                    }
                }
                discover::Found::Article {
                    url: link,
                    published,
                } => {
                    let Some(norm) = crate::identity::normalize(&link) else {
                        continue;
                    };
                    if !seen.insert(norm.clone()) {
                        continue;
                    }
                    match url::Url::parse(&norm)
                        .map_err(|e| e.to_string())
                        .and_then(|u| guard.check(&u))
                    {
                        Ok(()) => candidates.push((norm, url.clone(), published)),
                        Err(why) => {
                            debug!(source = %source.name, url = %norm, reason = %why, "discovered link refused");
                            note_refusal(&mut refusals, &norm, why);
                        }
                    }
                }
            }
        }
        // A document that answered was read for its links; a refused one
        // (robots.txt, the link guard) stays `skipped`.
        let answered = result.response.is_ok();
        let report = FetchReport {
            source: source.name.clone(),
            keep_raw: source.keep_raw,
            result,
            article: None,
            skipped: Some(format!("discovery {kind}: {n} links")),
            overrides: source.overrides.clone(),
            prepared: Default::default(),
            vantage: ctx.vantage.clone(),
        };
        let Some(report) = super::record::prepared(&ctx.ledger_path, report, None).await else {
            watching.add(ctx, source, &url, candidates).await;
            continue;
        };
        match ctx.writer.record(report).await {
            Ok(applied) => note_document(summary, &source.name, applied, answered),
            Err(e) => tracing::error!(source = %source.name, error = %e, "ledger unwritable"),
        }
        watching.add(ctx, source, &url, candidates).await;
    }
    let refused = refusals.count;
    if refused > 0 {
        // Say what was refused and why, where an operator looks.
        warn!(
            source = %source.name, refused,
            example = %refusals.example.as_deref().unwrap_or_default(),
            "discovered links refused by the link guard (not on the source's sites, or on private addresses)"
        );
    }
    if readable > 0 && watching.found == 0 {
        warn!(source = %source.name, documents = readable, refused, "source looks broken: its feeds, sitemaps and listings yielded no article link");
    }
    let (found, capped) = (watching.found, watching.capped);
    match watching.added {
        Ok(added) => {
            info!(source = %source.name, found, added, refused, capped, "discovery");
            if added == 0 {
                let quiet = tokio::task::spawn_blocking({
                    let (path, name) = (ctx.ledger_path.clone(), source.name.clone());
                    move || quiet_for_too_long(&path, &name, Utc::now())
                })
                .await
                .ok()
                .flatten();
                if let Some((since, usual)) = quiet {
                    warn!(
                        source = %source.name,
                        hours_since_last_new = since.as_secs() / 3600,
                        usual_gap_minutes = usual.as_secs() / 60,
                        "source looks broken: no new article for much longer than usual"
                    );
                }
            }
        }
        Err(e) => tracing::error!(source = %source.name, error = %e, "ledger unwritable"),
    }
}

/// What discovery added to the watch list this cycle.
struct Watching {
    /// Guarded article links found, per document.
    found: usize,
    /// New on the watch list (or the ledger's refusal).
    added: Result<usize, LedgerError>,
    /// Documents that reached `max_new_links`.
    capped: usize,
}

impl Default for Watching {
    fn default() -> Self {
        Watching {
            found: 0,
            added: Ok(0),
            capped: 0,
        }
    }
}

impl Watching {
    /// Adds one document's links: at most `max_new_links` new ones a cycle,
    /// so that a sitemap of a whole archive is taken in over several
    /// cycles, not in one.
    async fn add(&mut self, ctx: &Context, source: &Source, via: &str, links: Vec<Candidate>) {
        if links.is_empty() {
            return;
        }
        self.found += links.len();
        match ctx
            .writer
            .add_watch(&source.name, links, source.max_new_links)
            .await
        {
            Ok(n) => {
                if n >= source.max_new_links {
                    self.capped += 1;
                    info!(source = %source.name, document = %via, added = n, "discovery: the document's other new links wait for the next cycles (max_new_links)");
                }
                if let Ok(total) = &mut self.added {
                    *total += n;
                }
            }
            Err(e) => self.added = Err(e),
        }
    }
}

/// `Some((since last new article, usual gap))` when a source that used to
/// yield articles regularly (10 or more) has been quiet for more than five
/// usual gaps and at least six hours.
fn quiet_for_too_long(
    path: &std::path::Path,
    source: &str,
    now: DateTime<Utc>,
) -> Option<(Duration, Duration)> {
    let conn = ledger::open_read_only(path).ok()?;
    let (n, first, last): (i64, Option<String>, Option<String>) = conn
        .query_row(
            "SELECT COUNT(*), MIN(discovered_at), MAX(discovered_at) FROM watchlist WHERE source = ?1",
            params![source],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ok()?;
    let parse = |t: Option<String>| {
        t.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let (first, last) = (parse(first)?, parse(last)?);
    if n < 10 {
        return None;
    }
    let usual = ((last - first) / (n as i32 - 1)).to_std().ok()?;
    let since = (now - last).to_std().ok()?;
    (since > usual * 5 && since > Duration::from_secs(6 * 3600)).then_some((since, usual))
}

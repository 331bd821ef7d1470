//! Article metadata from JSON-LD (schema.org Article types, `@graph`
//! included), OpenGraph, `article:*`, Dublin Core and plain meta tags,
//! `<time>`, and the page itself. Each field takes the first source that
//! has it, in that order of trust.

use super::dom::{Dom, Edge, Node, NodeRef};
use serde_json::Value;
use std::sync::LazyLock;

mod byline;
mod dates;
mod header;
mod json_ld;
mod query;
mod titles;
mod written_dates;

use json_ld::*;
pub use query::Query;
use titles::*;
use written_dates::*;
pub use written_dates::{date_from_url, normalize_date};

/// Metadata fields as found on the page (normalized, not yet trusted).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Metadata {
    pub title: Option<String>,
    pub byline: Option<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
    pub language: Option<String>,
    pub canonical_url: Option<String>,
    pub site_name: Option<String>,
    pub description: Option<String>,
    /// The article's text as its structured data gives it (JSON-LD
    /// `articleBody`), one paragraph per line; see [`body_paragraphs`].
    pub body: Option<String>,
}

/// Collapses whitespace and decodes nothing more: scraper already decoded entities.
pub fn clean(s: &str) -> Option<String> {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    (!t.is_empty()).then_some(t)
}

/// Reads metadata from a parsed page.
pub fn read(doc: &Dom<'_>) -> Metadata {
    let scan = Scan::of(doc);
    let (ld, page_ld) = json_ld_article(&scan.ld_scripts);
    let metas = scan.metas;
    let mut m = Metadata::default();

    let ld_str = |k: &str| ld.as_ref().and_then(|a| a.get(k)).and_then(text_of);
    let site = metas
        .get(&["og:site_name", "application-name"])
        .or_else(|| {
            ld.as_ref()
                .and_then(|a| a.get("publisher"))
                .and_then(|p| p.get("name").and_then(text_of))
        });
    let structured = ld_str("headline")
        .or_else(|| {
            metas
                .get(&["og:title", "twitter:title", "dc.title", "dcterms.title"])
                .map(|t| decode_entities(&t))
        })
        .filter(|t| t.chars().count() <= MAX_TITLE_CHARS);
    let title_tag = first_text(doc, Query::Title);
    // One walk for the headline candidates and for whether there is any.
    let h1_elements = &scan.h1s;
    let h1s: Vec<String> = h1_elements
        .iter()
        .take(5)
        .filter_map(|e| clean(&rendered_text(*e)))
        .filter(|h| (3..=MAX_TITLE_CHARS).contains(&h.chars().count()))
        .collect();
    // The visible headline, when the page's own titles confirm it (a logo
    // or section name in an <h1> is not in them); else an <h1> that is not
    // the site's name; else the structured title without its site suffix.
    let site_like = |h: &str| {
        let h = folded(h);
        site.as_deref().is_some_and(|s| folded(s) == h)
            || [title_tag.as_deref(), structured.as_deref()]
                .iter()
                .flatten()
                .any(|t| {
                    let t = folded(t);
                    t != h
                        && [" | ", " - ", " – ", " — ", " :: ", " · ", " • "]
                            .iter()
                            .any(|sep| t.ends_with(&format!("{sep}{h}")))
                })
    };
    let confirmed = h1s.iter().find(|h| {
        let f = folded(h);
        !site_like(h)
            && [structured.as_deref(), title_tag.as_deref()]
                .iter()
                .flatten()
                .any(|t| folded(t).contains(&f))
    });
    let shown = h1s
        .iter()
        .find(|h| !site_like(h) && h.split_whitespace().count() >= 3);
    m.title = confirmed
        .or(shown)
        .cloned()
        .or_else(|| structured.map(|t| strip_known_site(&t, site.as_deref())))
        .or_else(|| h1s.first().cloned())
        .or_else(|| title_tag.map(|t| strip_site_suffix(&t)));
    // Without an <h1>, the text found by the title is the visible headline.
    let header = header_of(doc, m.title.as_deref());
    if h1_elements.is_empty()
        && let Some(shown) = header.iter().find(|l| l.headline)
    {
        m.title = Some(shown.text.to_string());
    }
    // Every line of the page, walked only when a last resort needs it.
    let all_lines = std::cell::OnceCell::new();
    let page_lines = || all_lines.get_or_init(|| header::page_lines(doc)).as_slice();
    let site_name = site.as_deref();
    let ld_author = ld
        .as_ref()
        .and_then(|a| a.get("author").or_else(|| a.get("creator")));
    // Scholarly pages list every author in its own `citation_author`.
    let citation: Vec<String> = metas.get_all(&["citation_author", "dc.contributor"]);
    let meta_author = (!citation.is_empty())
        .then(|| {
            // "Roy, Aniruddha" is "Aniruddha Roy".
            citation
                .iter()
                .map(|c| match c.split_once(", ") {
                    Some((last, first)) if !first.contains(',') => format!("{first} {last}"),
                    _ => c.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .or_else(|| {
            metas.get(&[
                "author",
                "dc.creator",
                "dcterms.creator",
                "sailthru.author",
                "parsely-author",
            ])
        })
        .or_else(|| {
            metas
                .get(&["article:author"])
                .filter(|a| !a.starts_with("http"))
        });
    // The share card's "Written by" (Yoast SEO writes it on WordPress
    // posts, `twitter:label1` naming what `twitter:data1` holds): a last
    // resort, since it is the account that posted ("admin" is no name).
    let card_author = || {
        [
            ("twitter:label1", "twitter:data1"),
            ("twitter:label2", "twitter:data2"),
        ]
        .iter()
        .find_map(|(label, data)| {
            metas
                .get(&[label])?
                .trim()
                .eq_ignore_ascii_case("written by")
                .then(|| metas.get(&[data]))
                .flatten()
                .and_then(|n| byline::name(&n))
                .filter(|n| byline::plausible(n, site_name))
        })
    };
    m.byline = ld_author
        .and_then(people_of)
        .filter(|n| byline::plausible(n, site_name))
        .or_else(|| {
            meta_author
                .clone()
                .filter(|n| byline::plausible(n, site_name))
        })
        .or_else(|| byline::shown(&header))
        .or_else(|| first_text(doc, Query::AuthorLink).and_then(|t| byline::name(&t)))
        .or_else(|| visible_author(doc))
        .or_else(|| byline::written_anywhere(page_lines()))
        .or_else(|| byline::boxed_anywhere(page_lines()))
        .or_else(card_author)
        .or_else(|| ld_author.and_then(names_of))
        .or(meta_author)
        .map(|b| byline::without_outlet(&strip_by(&b), site_name));
    m.modified = ld_str("dateModified")
        .and_then(|d| normalize_date(&d))
        .or_else(|| {
            metas
                .get_all(&[
                    "article:modified_time",
                    "og:updated_time",
                    "dateModified",
                    "dcterms.modified",
                    "last-modified",
                ])
                .iter()
                .find_map(|d| normalize_date(d))
        });
    let structured = ld_str("datePublished")
        .and_then(|d| normalize_date(&d))
        .or_else(|| {
            metas
                .get_all(&[
                    "article:published_time",
                    "og:published_time",
                    "datePublished",
                    "dc.date",
                    "dcterms.created",
                    "dc.date.issued",
                    "date",
                    "pubdate",
                    "publish-date",
                    "sailthru.date",
                    "parsely-pub-date",
                    "article.published",
                    "publication_date",
                    "publishdate",
                    "date_published",
                    "dc.date.created",
                    "published",
                    "published-date",
                    "publish-date",
                    "date-published",
                    "publication-date",
                    "w-published-date",
                    "citation_publication_date",
                    "citation_date",
                ])
                .iter()
                .find_map(|d| normalize_date(d).or_else(|| parse_visible_date(d)))
        })
        .or_else(|| microdata_date(doc))
        .or_else(|| {
            page_ld
                .as_ref()
                .and_then(|p| p.get("datePublished"))
                .and_then(text_of)
                .and_then(|d| normalize_date(&d))
        });
    m.published = dates::choose(&dates::shown(&header), structured, m.modified.as_deref())
        .or_else(|| time_element(doc))
        .or_else(|| visible_date(doc))
        .or_else(|| dates::labelled(page_lines()));
    m.language = ld_str("inLanguage")
        .or_else(|| scan.html_lang.as_deref().and_then(clean))
        .or_else(|| {
            metas
                .get(&["og:locale", "dc.language", "content-language", "language"])
                .map(|l| l.replace('_', "-"))
        });
    m.canonical_url = scan
        .canonical
        .as_deref()
        .and_then(clean)
        .or_else(|| metas.get(&["og:url"]))
        .or_else(|| ld_str("url"))
        .or_else(|| {
            ld.as_ref()
                .and_then(|a| a.get("mainEntityOfPage"))
                .and_then(|v| v.get("@id").and_then(text_of).or_else(|| text_of(v)))
        });
    m.site_name = metas
        .get(&["og:site_name", "application-name", "publisher"])
        .or_else(|| {
            ld.as_ref()
                .and_then(|a| a.get("publisher"))
                .and_then(|p| p.get("name").and_then(text_of).or_else(|| text_of(p)))
        });
    m.description = ld_str("description").or_else(|| {
        metas.get(&[
            "og:description",
            "description",
            "twitter:description",
            "dc.description",
        ])
    });
    m.body = ld
        .as_ref()
        .and_then(|a| a.get("articleBody"))
        .and_then(Value::as_str)
        .map(str::to_string);
    m
}

/// The paragraphs of a structured `articleBody`: lines (and the paragraph
/// ends of any markup the publisher left in it), entities decoded, tags
/// dropped, whitespace folded.
pub fn body_paragraphs(body: &str) -> Vec<String> {
    static BREAK: LazyLock<regex::Regex> = LazyLock::new(|| {
        #[allow(
            clippy::expect_used,
            reason = "static regex, checked by the unit tests"
        )]
        regex::Regex::new(r"(?i)<br\s*/?>|</(p|div|h[1-6]|li|blockquote)>").expect("valid regex")
    });
    static TAG: LazyLock<regex::Regex> = LazyLock::new(|| {
        #[allow(
            clippy::expect_used,
            reason = "static regex, checked by the unit tests"
        )]
        regex::Regex::new(r"<[^>]{0,2000}>").expect("valid regex")
    });
    let body = BREAK.replace_all(body, "\n");
    let body = TAG.replace_all(&body, "");
    body.lines()
        .filter_map(|l| clean(&decode_entities(l)))
        .collect()
}

fn first_text(doc: &Dom<'_>, q: Query) -> Option<String> {
    q.select(doc).find_map(|e| clean(&rendered_text(e)))
}

/// An element's text as a reader sees it on one line: a line break
/// (`<br>`) or a block inside it separates words ("News Product<br>Management"
/// is "News Product Management", not "News ProductManagement"). Inline
/// elements join without a space, as they render.
fn rendered_text(el: NodeRef<'_>) -> String {
    let block = |n: &Node<'_>| n.as_element().is_some_and(|e| e.is_block());
    let mut out = String::new();
    for edge in el.traverse() {
        let (Edge::Open(n) | Edge::Close(n)) = edge;
        match n.value() {
            Node::Text(t) if matches!(edge, Edge::Open(_)) => out.push_str(t),
            v if block(&v) => out.push(' '),
            _ => {}
        }
    }
    out
}

/// A byline written for readers ("By Jane Doe", "Written by Jane Doe |
/// March 3"), reduced to the name: the last resort for the author.
fn visible_author(doc: &Dom<'_>) -> Option<String> {
    Query::AuthorBox.select(doc).take(20).find_map(|e| {
        let text: String = e.text().collect::<Vec<_>>().join(" ");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut t = text.as_str();
        for p in ["written by ", "posted by ", "by ", "author: ", "author "] {
            if t.len() >= p.len() && t.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)) {
                t = t.get(p.len()..).unwrap_or_default();
            }
        }
        byline::name(t)
    })
}

/// What one walk over the document collects for metadata: JSON-LD
/// scripts, `<meta>` tags, the canonical link, `<html lang>` and the
/// [`Query::H1`] headlines (one traversal instead of a pass for each).
struct Scan<'a> {
    ld_scripts: Vec<NodeRef<'a>>,
    h1s: Vec<NodeRef<'a>>,
    metas: MetaTags,
    canonical: Option<String>,
    html_lang: Option<String>,
}

impl<'a> Scan<'a> {
    fn of(doc: &'a Dom<'a>) -> Scan<'a> {
        let mut scan = Scan {
            ld_scripts: Vec::new(),
            h1s: Vec::new(),
            metas: MetaTags(Vec::new()),
            canonical: None,
            html_lang: None,
        };
        for el in doc.root().descendants() {
            let Some(v) = el.element() else {
                continue;
            };
            if Query::H1.matches(el) {
                scan.h1s.push(el);
            }
            match v.name() {
                "script"
                    if v.attribute("type")
                        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json")) =>
                {
                    scan.ld_scripts.push(el)
                }
                "meta" => {
                    let Some(content) = v.attribute("content").and_then(clean) else {
                        continue;
                    };
                    for key in ["property", "name", "itemprop", "http-equiv"] {
                        if let Some(k) = v.attribute(key) {
                            scan.metas
                                .0
                                .push((k.trim().to_ascii_lowercase(), content.clone()));
                        }
                    }
                }
                "link"
                    if scan.canonical.is_none()
                        && v.attribute("rel").is_some_and(|r| {
                            r.split_ascii_whitespace()
                                .any(|t| t.eq_ignore_ascii_case("canonical"))
                        }) =>
                {
                    scan.canonical = v.attribute("href").map(str::to_string);
                }
                "html" if scan.html_lang.is_none() => {
                    scan.html_lang = v.attribute("lang").map(str::to_string)
                }
                _ => {}
            }
        }
        scan
    }
}

/// `<meta>` tags by lower-cased `property`, `name`, `itemprop` or `http-equiv`.
struct MetaTags(Vec<(String, String)>);

impl MetaTags {
    fn get(&self, keys: &[&str]) -> Option<String> {
        self.get_all(keys).into_iter().next()
    }

    /// Values for the keys, in the order of `keys` (then page order).
    fn get_all(&self, keys: &[&str]) -> Vec<String> {
        keys.iter()
            .flat_map(|k| {
                let k = k.to_ascii_lowercase();
                self.0
                    .iter()
                    .filter(move |(n, _)| *n == k)
                    .map(|(_, v)| v.clone())
            })
            .collect()
    }
}

/// The header's lines; a page without an `<h1>` finds its header by the
/// title, with or without its site suffix.
fn header_of<'d>(doc: &'d Dom<'_>, title: Option<&str>) -> Vec<header::Line<'d>> {
    let titles: Vec<String> = title
        .iter()
        .flat_map(|t| [t.to_string(), strip_site_suffix(t)])
        .collect();
    header::lines(doc, &titles.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The article header's lines as the metadata reader sees them, one per
/// line with its marks (`^` above the headline, `H` headline, `T` a
/// `<time>` with its `datetime`, `A` author link, `B` author box): what
/// `extract-eval --show` prints to explain a page's byline and date.
pub fn header_lines(html: &str) -> Vec<String> {
    let mut stripped = String::new();
    let doc = Dom::from_tree(super::page_tree(html, &mut stripped));
    header_of(&doc, read(&doc).title.as_deref())
        .iter()
        .map(|l| {
            let marks: String = [
                (!l.below, '^'),
                (l.headline, 'H'),
                (l.time.is_some(), 'T'),
                (l.author_link, 'A'),
                (l.author_box, 'B'),
            ]
            .iter()
            .filter_map(|(on, c)| on.then_some(*c))
            .collect();
            let time = l
                .time
                .clone()
                .flatten()
                .map(|t| format!(" [{t}]"))
                .unwrap_or_default();
            format!("{marks:>3} {}{time}", l.text)
        })
        .collect()
}

/// `t` lowercased with its whitespace collapsed: how titles and headlines
/// are compared.
pub fn folded(t: &str) -> String {
    t.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A text turned away by the year test never holds a date.
        #[test]
        fn texts_without_a_year_start_hold_no_date(
            text in concat!(
                // Loose pieces, or one date in each written form with a
                // year from 1800 to 2199.
                "(Jan|march|SEPT\\.|1|2|9|0|19|20|2024|31st| |,|-|/|\\.|T10:30|é|\u{a0}|٢|x){0,8}",
                "|(x|é| )?((Jan|march|SEPT\\.) ?(1|09|31st)[, ]{1,2}|(1|12|31st) (Jan|march)[, ]{1,2}",
                "|(1|12)[./](3|10)[./])?(18|19|20|21)[0-9]{2}([-./](0[1-9]|1[0-2])[-./](0[1-9]|2[0-8]))?",
                "(T10:30)?( |x|é)?",
            ),
        ) {
            if !may_hold_date(&text) {
                proptest::prop_assert!(VISIBLE_DATE.find(&text).is_none(), "{text:?}");
            }
        }
    }

    #[test]
    fn dates_keep_their_offset() {
        assert_eq!(
            normalize_date("2022-03-30T09:12:00+03:00").as_deref(),
            Some("2022-03-30T09:12:00+03:00")
        );
        assert_eq!(
            normalize_date("2022-03-30T09:12:00+0300").as_deref(),
            Some("2022-03-30T09:12:00+03:00")
        );
        assert_eq!(
            normalize_date("2022-03-30T06:12:00Z").as_deref(),
            Some("2022-03-30T06:12:00Z")
        );
        assert_eq!(
            normalize_date("Wed, 30 Mar 2022 09:12:00 +0300").as_deref(),
            Some("2022-03-30T09:12:00+03:00")
        );
        assert_eq!(normalize_date("2022-03-30").as_deref(), Some("2022-03-30"));
        assert_eq!(
            normalize_date("2022-03-30 09:12:00").as_deref(),
            Some("2022-03-30T09:12:00")
        );
    }

    #[test]
    fn year_first_dates_with_a_month_name_are_read() {
        // PubMed's `citation_publication_date`.
        assert_eq!(normalize_date("2023 Jan 7").as_deref(), Some("2023-01-07"));
        assert_eq!(
            normalize_date("2024 june 30").as_deref(),
            Some("2024-06-30")
        );
        // A month without its day is no day; nor is a day the month lacks.
        assert_eq!(normalize_date("2023 Jan"), None);
        assert_eq!(normalize_date("2023 Feb 30"), None);
        let doc = Dom::parse(
            r#"<head><meta name="citation_publication_date" content="2023 Jan 7"></head><h1>A case report</h1>"#,
        );
        assert_eq!(read(&doc).published.as_deref(), Some("2023-01-07"));
    }

    #[test]
    fn json_ld_entities_are_decoded() {
        assert_eq!(
            decode_entities("A &#8211; B &amp; C&#x2019;s &bogus; &"),
            "A \u{2013} B & C\u{2019}s &bogus; &"
        );
        let doc = Dom::parse(
            r#"<script type="application/ld+json">{"@type":"NewsArticle","headline":"Tools &#8211; a review","author":{"name":"Maria &amp; Katerina"}}</script>"#,
        );
        let m = read(&doc);
        assert_eq!(m.title.as_deref(), Some("Tools \u{2013} a review"));
        assert_eq!(m.byline.as_deref(), Some("Maria & Katerina"));
    }

    #[test]
    fn the_visible_headline_wins_when_the_titles_confirm_it() {
        let doc = Dom::parse(
            r#"<head><title>Budget passes after long night | City Paper</title>
               <meta property="og:title" content="Budget passes after long night | City Paper">
               <meta property="og:site_name" content="City Paper"></head>
               <body><h1>Budget passes after long night</h1></body>"#,
        );
        assert_eq!(
            read(&doc).title.as_deref(),
            Some("Budget passes after long night")
        );
        // A logo in the <h1> is not confirmed by the titles: the structured
        // title, without the site's name.
        let doc = Dom::parse(
            r#"<head><meta property="og:title" content="Harbour plan approved - City Paper">
               <meta property="og:site_name" content="City Paper"></head>
               <body><h1>Weather</h1></body>"#,
        );
        assert_eq!(read(&doc).title.as_deref(), Some("Harbour plan approved"));
        // The site's name in a first <h1> is skipped; the page's own
        // headline wins over a rewritten social title.
        let doc = Dom::parse(
            r#"<head><title>Harbour plan approved | City Paper</title>
               <meta property="og:title" content="Why the harbour plan matters"></head>
               <body><h1>City Paper</h1><h1>Council approves the harbour plan</h1></body>"#,
        );
        assert_eq!(
            read(&doc).title.as_deref(),
            Some("Council approves the harbour plan")
        );
    }

    #[test]
    fn microdata_and_visible_dates_and_bylines() {
        let doc = Dom::parse(
            r#"<article><span itemprop="datePublished" content="2025-09-04T10:00:00-05:00">Sep 4</span></article>"#,
        );
        assert_eq!(
            read(&doc).published.as_deref(),
            Some("2025-09-04T10:00:00-05:00")
        );
        let doc = Dom::parse(
            r#"<article><div class="post-date">Posted on December 17, 2025</div>
               <div class="byline">By Jane Doe | Staff Writer</div><p>x</p></article>"#,
        );
        let m = read(&doc);
        assert_eq!(m.published.as_deref(), Some("2025-12-17"));
        assert_eq!(m.byline.as_deref(), Some("Jane Doe"));
        assert_eq!(
            parse_visible_date("17th March 2024").as_deref(),
            Some("2024-03-17")
        );
        assert_eq!(parse_visible_date("2024-02-30"), None);
        assert_eq!(parse_visible_date("no date here"), None);
        // Year first is unambiguous with any separator ("Published: 2025.12.17").
        for written in ["2025.12.17", "2025/12/17"] {
            assert_eq!(
                parse_visible_date(written).as_deref(),
                Some("2025-12-17"),
                "{written}"
            );
        }
        // A byline box holding a sentence, not a name, is no author.
        let doc = Dom::parse(
            r#"<div class="author">Read more stories from our newsroom team here today</div>"#,
        );
        assert_eq!(read(&doc).byline, None);
    }

    /// Last resorts, found on WCXB pages with no byline read (4599, 4267;
    /// 4414): a bare "By" far below the headline whose next line links to
    /// an author page, and the share card's "Written by".
    #[test]
    fn a_linked_by_anywhere_and_the_share_cards_written_by_are_bylines() {
        let text = "<p>The article's text runs on well past the header.</p>".repeat(60);
        let below = |by: &str| {
            format!(
                r#"<h1>Headline</h1>{text}<div class="post-meta"><div>Posted On: January 14 2026</div><div class="post-user">{by}</div></div>"#
            )
        };
        let byline = |html: &str| read(&Dom::parse(html)).byline;
        assert_eq!(
            byline(&below(r#"By: <a href="/author/ray/">Ray Ansari</a>"#)).as_deref(),
            Some("Ray Ansari")
        );
        // Without the author link a bare "By" that far down says nothing.
        assert_eq!(
            byline(&below(r#"By: <a href="/shop/">Ray Ansari</a>"#)),
            None
        );
        assert_eq!(byline(&below("By: Ray Ansari")), None);
        let card = |label: &str, data: &str, body: &str| {
            format!(
                r#"<head><meta name="twitter:label1" content="{label}"><meta name="twitter:data1" content="{data}"></head><body><h1>Headline</h1>{body}</body>"#
            )
        };
        assert_eq!(
            byline(&card("Written by", "Nawaz Dhandala", "<p>Text.</p>")).as_deref(),
            Some("Nawaz Dhandala")
        );
        // The account that posted is no name; another label is no author;
        // a byline the page shows comes first.
        assert_eq!(byline(&card("Written by", "admin", "<p>Text.</p>")), None);
        assert_eq!(
            byline(&card("Est. reading time", "4 minutes", "<p>Text.</p>")),
            None
        );
        assert_eq!(
            byline(&card(
                "Written by",
                "Nawaz Dhandala",
                "<p>By Jane Doe</p><p>Text.</p>"
            ))
            .as_deref(),
            Some("Jane Doe")
        );
    }

    fn swapped_reading(text: &str) -> Option<String> {
        swapped_reading_of(&VISIBLE_DATE.captures(text)?)
    }

    #[test]
    fn a_numeric_date_has_another_reading_only_when_both_are_dates() {
        assert_eq!(swapped_reading("09.10.2024").as_deref(), Some("2024-09-10"));
        assert_eq!(swapped_reading("03/10/2023").as_deref(), Some("2023-10-03"));
        for one_way in [
            "13.10.2024",
            "10/13/2024",
            "10.10.2024",
            "2024-09-10",
            "Sep 10, 2024",
        ] {
            assert_eq!(swapped_reading(one_way), None, "{one_way}");
        }
    }

    #[test]
    fn absurd_dates_are_refused() {
        assert_eq!(normalize_date("0001-01-01T00:00:00Z"), None);
        assert_eq!(normalize_date("9999-12-31"), None);
        assert_eq!(normalize_date("yesterday"), None);
    }

    #[test]
    fn scholarly_authors_all_in_reading_order() {
        let doc = Dom::parse(
            r#"<head><meta name="citation_author" content="Roy, Aniruddha">
               <meta name="citation_author" content="Jyoti Patel"></head>"#,
        );
        assert_eq!(
            read(&doc).byline.as_deref(),
            Some("Aniruddha Roy, Jyoti Patel")
        );
    }

    #[test]
    fn json_ld_graph_and_author_list() {
        let html = r#"<html lang="en"><head><script type="application/ld+json">
        {"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"X"},
         {"@type":["NewsArticle"],"headline":"H","datePublished":"2022-03-30T09:12:00+03:00",
          "author":[{"@type":"Person","name":"A One"},"B Two"],"publisher":{"name":"Pub"}}]}
        </script></head><body></body></html>"#;
        let m = read(&Dom::parse(html));
        assert_eq!(m.title.as_deref(), Some("H"));
        assert_eq!(m.byline.as_deref(), Some("A One, B Two"));
        assert_eq!(m.site_name.as_deref(), Some("Pub"));
        assert_eq!(m.language.as_deref(), Some("en"));
    }

    #[test]
    fn broken_json_ld_falls_back_to_opengraph() {
        let html = r#"<head><script type="application/ld+json">{not json</script>
        <meta property="og:title" content="OG title"><meta property="article:published_time" content="2020-12-02T08:30:00+08:00">
        <meta property="og:locale" content="en_US"><title>T | Site</title></head>"#;
        let m = read(&Dom::parse(html));
        assert_eq!(m.title.as_deref(), Some("OG title"));
        assert_eq!(m.published.as_deref(), Some("2020-12-02T08:30:00+08:00"));
        assert_eq!(m.language.as_deref(), Some("en-US"));
    }

    #[test]
    fn dates_in_urls_are_a_last_resort() {
        assert_eq!(
            date_from_url("https://www.latimes.com/business/story/2019-11-19/gannett").as_deref(),
            Some("2019-11-19")
        );
        assert_eq!(
            date_from_url("https://bgr.com/2019/11/19/apple-black-friday/").as_deref(),
            Some("2019-11-19")
        );
        assert_eq!(date_from_url("https://example.org/2019/13/45/x"), None);
        assert_eq!(date_from_url("https://example.org/id/20191119999"), None);
    }

    #[test]
    fn a_line_break_or_block_in_a_headline_separates_its_words() {
        let doc = Dom::parse(
            "<html><head><title>Rebuilding the Legacy of American Made | Forge</title></head><body>\
             <h1>Rebuilding the Legacy<br>of Amer<span>ican</span> Made</h1>\
             <p>The plant reopened on Monday after two years.</p></body></html>",
        );
        assert_eq!(
            read(&doc).title.as_deref(),
            Some("Rebuilding the Legacy of American Made")
        );
        let doc = Dom::parse(
            "<html><body><h1><div>WEEKEND</div><div>CODING</div> AGENT</h1></body></html>",
        );
        assert_eq!(read(&doc).title.as_deref(), Some("WEEKEND CODING AGENT"));
    }

    #[test]
    fn title_tag_loses_its_site_suffix() {
        assert_eq!(
            strip_site_suffix("Turkey may send police | Nordic Monitor"),
            "Turkey may send police"
        );
    }

    #[test]
    fn a_page_without_h1_is_read_from_the_text_that_shows_its_title() {
        let doc = Dom::parse(
            "<html><head><title>Top 5 HR Software in 2026 | DianaHR</title></head><body>\
             <p class='framer-text'>Top 5 HR Software in 2026</p><p>Dana Roe</p><p>Feb 16, 2026</p>\
             <p>Global market data shows the category grew again this year.</p></body></html>",
        );
        let m = read(&doc);
        assert_eq!(m.title.as_deref(), Some("Top 5 HR Software in 2026"));
        assert_eq!(m.byline.as_deref(), Some("Dana Roe"));
        assert_eq!(m.published.as_deref(), Some("2026-02-16"));
    }
}

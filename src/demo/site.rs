//! Realistic news pages built from the seed articles: site navigation,
//! breadcrumbs, share buttons, sidebars, "recent news", tag clouds,
//! footers, JSON-LD and OpenGraph, in three different page layouts.

use serde_json::json;

/// One block of an article body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Paragraph(String),
    Heading(String),
    /// A photo caption: shown on the page, not part of the article text.
    Caption(String),
}

/// A seed article with its metadata.
#[derive(Debug, Clone)]
pub struct SeedArticle {
    pub key: &'static str,
    pub title: String,
    pub byline: Option<String>,
    pub published: String,
    pub modified: Option<String>,
    pub site: String,
    pub section: String,
    pub path: String,
    pub lang: String,
    pub description: String,
    pub blocks: Vec<Block>,
}

const SEEDS: &[(&str, &str)] = &[
    (
        "nordic-monitor",
        include_str!("articles/nordic-monitor.txt"),
    ),
    (
        "hurriyet-daily-news",
        include_str!("articles/hurriyet-daily-news.txt"),
    ),
    ("ycpress", include_str!("articles/ycpress.txt")),
    ("news-az", include_str!("articles/news-az.txt")),
];

#[allow(
    clippy::expect_used,
    reason = "the seed articles are embedded in the binary and have these fields"
)]
fn parse(key: &'static str, text: &str) -> SeedArticle {
    let (head, body) = text.split_once("\n---\n").expect("seed has a header");
    let get = |k: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}: ")).map(str::to_string))
    };
    let blocks = body
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if let Some(h) = p.strip_prefix("## ") {
                Block::Heading(h.to_string())
            } else if let Some(c) = p.strip_prefix("caption: ") {
                Block::Caption(c.to_string())
            } else {
                Block::Paragraph(p.to_string())
            }
        })
        .collect();
    SeedArticle {
        key,
        title: get("title").expect("seed title"),
        byline: get("byline"),
        published: get("published").expect("seed date"),
        modified: get("modified"),
        site: get("site").expect("seed site"),
        section: get("section").unwrap_or_default(),
        path: get("path").expect("seed path"),
        lang: get("lang").unwrap_or_else(|| "en".into()),
        description: get("description").unwrap_or_default(),
        blocks,
    }
}

/// The seed articles (Nordic Monitor, Hürriyet Daily News, YCPress, News.Az).
pub fn seeds() -> Vec<SeedArticle> {
    SEEDS.iter().map(|(k, t)| parse(k, t)).collect()
}

impl SeedArticle {
    /// The article text a good extractor returns: paragraphs and headings,
    /// without captions, separated by blank lines.
    pub fn expected_text(&self) -> String {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Paragraph(p) | Block::Heading(p) => Some(p.as_str()),
                Block::Caption(_) => None,
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// The parts of a page that change on every visit and are not the article.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Visit counter shown next to the article.
    pub views: u64,
    /// Headlines in the "Recent News" sidebar, with dates.
    pub recent: Vec<(String, String)>,
    /// Ad slot identifier (changes per visit on real sites).
    pub ad_slot: String,
    /// Today's date in the site header.
    pub today: String,
}

impl Chrome {
    /// A plausible chrome state; `visit` varies everything that varies.
    pub fn visit(visit: u64) -> Chrome {
        let headlines = [
            "New bill shows the EU has huge leverage over Turkey in trade",
            "Erdogan-led Turkey Wealth Fund reveals trillions in debt and widespread limits on independent audits",
            "Turkish envoy mobilized state power in attempt to free brother convicted of murder plot in US",
            "Erdogan’s expertise in navigating Iran trade grey areas faces new US tariff challenge",
            "Turkey’s juvenile crime crisis deepens as violence, drugs and easy weapon access drive a sharp rise",
            "Cameroonian abused by police at Istanbul Airport amid impunity in Erdogan’s Turkey",
            "Secret blacklist bars Erdogan’s critics from notary services at home and abroad",
            "Turkey’s intelligence agency expands as budget surges and power grows",
        ];
        let n = headlines.len() as u64;
        let recent = (0..5)
            .map(|i| {
                let h = headlines
                    .get(((visit * 3 + i) % n) as usize)
                    .map_or_else(String::new, |h| h.to_string());
                (h, format!("January {}, 2026", 19 - ((visit + i) % 18)))
            })
            .collect();
        Chrome {
            views: 1_204 + visit * 317,
            recent,
            ad_slot: format!("div-gpt-ad-{:x}", 0x5eed_u64.wrapping_mul(visit + 7)),
            today: format!("Monday, January {}, 2026", 12 + visit % 15),
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn json_ld(a: &SeedArticle, url: &str) -> String {
    let author = match &a.byline {
        Some(b) => json!([{"@type": "Person", "name": b}]),
        None => json!({"@type": "Organization", "name": a.site}),
    };
    let mut article = json!({
        "@type": "NewsArticle",
        "headline": a.title,
        "datePublished": a.published,
        "author": author,
        "inLanguage": a.lang,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "publisher": {"@type": "Organization", "name": a.site},
        "description": a.description,
        "articleSection": a.section,
    });
    if let (Some(m), Some(obj)) = (&a.modified, article.as_object_mut()) {
        obj.insert("dateModified".into(), json!(m));
    }
    let graph = json!({
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": a.site, "url": "/"},
            {"@type": "BreadcrumbList", "itemListElement": [{"@type": "ListItem", "position": 1, "name": "Home"}]},
            article,
        ]
    });
    // `</` inside a script would end it; JSON allows escaping the slash.
    graph.to_string().replace("</", "<\\/")
}

fn body_html(a: &SeedArticle, chrome: &Chrome) -> String {
    let mut out = String::new();
    for (i, b) in a.blocks.iter().enumerate() {
        match b {
            Block::Paragraph(p) if i == 0 && a.key == "nordic-monitor" => {
                out.push_str(&format!("<p><strong>{}</strong></p>\n", esc(p)));
            }
            Block::Paragraph(p) => out.push_str(&format!("<p>{}</p>\n", esc(p))),
            Block::Heading(h) => out.push_str(&format!("<h2>{}</h2>\n", esc(h))),
            Block::Caption(c) => out.push_str(&format!(
                "<figure class=\"wp-block-image\"><img src=\"/img/{i}.jpg\" alt=\"\"><figcaption>{}</figcaption></figure>\n",
                esc(c)
            )),
        }
        if i == 2 {
            out.push_str(&format!(
                "<div class=\"ad-inline\" id=\"{}\"><span>Advertisement</span></div>\n",
                chrome.ad_slot
            ));
        }
        if i == 5 {
            out.push_str("<div class=\"related-inline\"><strong>Related:</strong> <a href=\"/2022/03/turkey-and-azerbaijan-sign-new-declaration/\">Turkey and Azerbaijan sign new declaration reinforcing military cooperation against Armenia</a></div>\n");
        }
    }
    out
}

fn head(a: &SeedArticle, url: &str) -> String {
    format!(
        r##"<head>
<meta charset="utf-8">
<title>{title} | {site}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{desc}">
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:title" content="{title}">
<meta property="og:url" content="{url}">
<meta property="og:site_name" content="{site}">
<meta property="og:description" content="{desc}">
<meta property="article:published_time" content="{published}">
<meta property="article:section" content="{section}">
<script type="application/ld+json">{ld}</script>
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}</script>
<style>.share a {{ margin: 0 4px }}</style>
</head>"##,
        title = esc(&a.title),
        site = esc(&a.site),
        desc = esc(&a.description),
        url = esc(url),
        published = esc(&a.published),
        section = esc(&a.section),
        ld = json_ld(a, url),
    )
}

fn recent_list(chrome: &Chrome) -> String {
    chrome
        .recent
        .iter()
        .enumerate()
        .map(|(i, (h, d))| {
            format!(
                "<li><a href=\"/2026/01/story-{i}/\">{}</a><time>{}</time></li>",
                esc(h),
                esc(d)
            )
        })
        .collect()
}

fn nav() -> &'static str {
    r##"<ul class="menu"><li><a href="/">Home</a></li><li><a href="/extremism/">Extremism</a></li><li><a href="/military/">Military</a></li><li><a href="/terrorism-and-crime/">Terrorism and Crime</a></li><li><a href="/intelligence/">Intelligence</a></li><li><a href="/foreign-policy/">Foreign Policy</a></li><li><a href="/contact/">Contact Us</a><ul class="sub-menu"><li><a href="/tip/">Give us a tip!</a></li></ul></li><li><a href="/about/">About Us</a></li></ul>"##
}

fn share() -> &'static str {
    r##"<div class="share-buttons"><a href="https://www.facebook.com/sharer.php">Share on Facebook</a><a href="https://twitter.com/intent/tweet">Share on Twitter</a><a href="mailto:?subject=article">Email</a></div>"##
}

/// A WordPress news theme (Nordic Monitor, YCPress).
fn wordpress(a: &SeedArticle, url: &str, chrome: &Chrome) -> String {
    let byline = a.byline.as_deref().map(|b| format!("<span class=\"author vcard\">by <a rel=\"author\" href=\"/author/x/\">{}</a></span>", esc(b))).unwrap_or_default();
    format!(
        r##"<!DOCTYPE html>
<html lang="{lang}">
{head}
<body class="post-template-default single single-post">
<div class="top-bar"><span class="date">{today}</span><form class="search" action="/"><input type="text" name="s" placeholder="No Result"><button>View All Result</button></form></div>
<header id="masthead" class="site-header"><div class="logo"><a href="/">{site}</a></div><nav class="main-navigation">{nav}</nav></header>
<div class="mobile-menu"><nav>{nav}</nav></div>
<div id="content" class="site-content">
<div class="breadcrumbs"><a href="/">Home</a> » <a href="/{section_slug}/">{section}</a> » {title}</div>
<main id="main" class="site-main">
<article id="post-20931" class="post type-post status-publish format-standard hentry">
<header class="entry-header"><h1 class="entry-title">{title}</h1>
<div class="entry-meta"><time class="entry-date published" datetime="{published}">{published_human}</time> {byline} <span class="views">{views} views</span></div>
<div class="font-size">A A</div></header>
{share}
<div class="entry-content">
{body}
</div>
<footer class="entry-footer">{share}<div class="post-tags">Tags: <a href="/tag/azerbaijan/">Azerbaijan</a> <a href="/tag/turkey/">Turkey</a></div></footer>
<nav class="post-navigation"><div class="nav-previous"><a href="/prev/">Previous Post: Turkey fails to extract 2 military aircraft stranded in Kyiv despite hosting peace negotiations</a></div><div class="nav-next"><a href="/next/">Next Post: Turkish journalist in US faces arrest warrants over articles, tweets critical of Erdoğan government</a></div></nav>
<div class="author-box"><h4>{byline_plain}</h4><p><a href="mailto:editor@example.org">[email protected]</a></p></div>
</article>
</main>
<aside id="secondary" class="widget-area sidebar">
<section class="widget widget_recent_entries"><h2 class="widget-title">Recent News</h2><ul>{recent}</ul></section>
<section class="widget widget_tag_cloud"><h2 class="widget-title">Tags</h2><div class="tagcloud"><a href="/tag/al-qaeda/">al-Qaeda</a> <a href="/tag/china/">China</a> <a href="/tag/cyprus/">Cyprus</a> <a href="/tag/diyanet/">Diyanet</a> <a href="/tag/erdogan/">Erdogan</a> <a href="/tag/mit/">Milli İstihbarat Teşkilatı MIT</a> <a href="/tag/nato/">NATO</a></div></section>
<div class="{ad}">Advertisement</div>
</aside>
</div>
<footer id="colophon" class="site-footer"><div class="about"><h3>{site}</h3><p>{site} is a news web site and tracking site that is run by the Stockholm-based Nordic Research and Monitoring Network.</p></div><div class="recent-footer"><h3>Recent News</h3><ul>{recent}</ul></div><p class="copyright">Copyright © {site}. All rights reserved.</p>{nav}</footer>
<script src="/wp-includes/js/wp-embed.min.js"></script>
</body>
</html>
"##,
        lang = esc(&a.lang),
        head = head(a, url),
        today = chrome.today,
        site = esc(&a.site),
        nav = nav(),
        section = esc(&a.section),
        section_slug = a.section.to_lowercase().replace(' ', "-"),
        title = esc(&a.title),
        published = esc(&a.published),
        published_human = esc(&a.published[..10]),
        byline = byline,
        byline_plain = esc(a.byline.as_deref().unwrap_or("")),
        views = chrome.views,
        share = share(),
        body = body_html(a, chrome),
        recent = recent_list(chrome),
        ad = esc(&chrome.ad_slot),
    )
}

/// A big news portal layout (Hürriyet Daily News).
fn portal(a: &SeedArticle, url: &str, chrome: &Chrome) -> String {
    format!(
        r##"<!DOCTYPE html>
<html lang="{lang}">
{head}
<body>
<div class="cookie-consent" role="dialog"><p>We use cookies to improve your experience.</p><button>Accept</button></div>
<div class="header-top"><div class="container"><a class="logo" href="/">{site}</a><ul class="header-menu"><li><a href="/turkiye/">Türkiye</a></li><li><a href="/economy/">Economy</a></li><li><a href="/world/">World</a></li><li><a href="/sports/">Sports</a></li><li><a href="/opinion/">Opinion</a></li></ul></div></div>
<div class="container">
<div class="row">
<div class="col-md-8">
<div class="content-header"><h1>{title}</h1><h2 class="spot">{title}</h2>
<div class="content-info"><span class="location">ANKARA</span> <span class="date">{published_human}</span> <span class="hit">{views} reads</span></div></div>
<div class="social-share"><a href="#">Facebook</a><a href="#">Twitter</a><a href="#">WhatsApp</a></div>
<div class="content">
{body}
</div>
<div class="news-tags"><a href="/tag/turkey">Turkey</a> <a href="/tag/azerbaijan">Azerbaijan</a></div>
<div class="related-news"><h3>Related News</h3><ul>{recent}</ul></div>
</div>
<div class="col-md-4 sidebar"><div class="most-read"><h3>Most Read</h3><ol>{recent}</ol></div><div class="{ad}">Advertisement</div></div>
</div>
</div>
<div class="footer"><ul><li><a href="/about/">About Us</a></li><li><a href="/contact/">Contact</a></li><li><a href="/privacy/">Privacy</a></li></ul><p>© Copyright {site}. All rights reserved. {today}</p></div>
</body>
</html>
"##,
        lang = esc(&a.lang),
        head = head(a, url),
        site = esc(&a.site),
        title = esc(&a.title),
        published_human = esc(&a.published[..10]),
        views = chrome.views,
        body = body_html(a, chrome),
        recent = recent_list(chrome),
        ad = esc(&chrome.ad_slot),
        today = chrome.today,
    )
}

/// A regional news site layout with a font-size widget (News.Az).
fn regional(a: &SeedArticle, url: &str, chrome: &Chrome) -> String {
    format!(
        r##"<!DOCTYPE html>
<html lang="{lang}">
{head}
<body>
<div id="wrapper">
<div class="navbar"><a class="brand" href="/">{site}</a> <a href="/news/politics">Politics</a> <a href="/news/economy">Economy</a> <a href="/news/society">Society</a> <a href="/news/world">World</a></div>
<div class="main-container">
<div class="article-page">
<div class="article-tools"><span class="date">date {published_human}</span> <span class="font-size">+ ↺ − 16 px</span></div>
<h1 class="article-title">{title}</h1>
<div class="article-body" itemprop="articleBody">
{body}
</div>
<div class="share"><a href="#">Share</a> <a href="#">Tweet</a></div>
<div class="read-also"><h4>Read also</h4><ul>{recent}</ul></div>
</div>
<div class="side"><div class="latest-news"><h3>Latest news</h3><ul>{recent}</ul></div><div class="{ad}">Ad</div><p class="counter">{views}</p></div>
</div>
<div class="foot">News.Az © 2026 — {today}</div>
</div>
</body>
</html>
"##,
        lang = esc(&a.lang),
        head = head(a, url),
        site = esc(&a.site),
        title = esc(&a.title),
        published_human = esc(&a.published[..10]),
        body = body_html(a, chrome),
        recent = recent_list(chrome),
        ad = esc(&chrome.ad_slot),
        views = chrome.views,
        today = chrome.today,
    )
}

/// The page for `a` at `url`, with the given chrome.
pub fn render(a: &SeedArticle, url: &str, chrome: &Chrome) -> String {
    match a.key {
        "hurriyet-daily-news" => portal(a, url, chrome),
        "news-az" => regional(a, url, chrome),
        _ => wordpress(a, url, chrome),
    }
}

/// The quiet edit of the demo: the paragraph the Nordic Monitor article
/// gained between its two captures (seed 001 against seed 000).
pub const NORDIC_ADDED_PARAGRAPH: &str = "The Turkish Riot Police are a notorious branch of the police department used in a brutal crackdown on anti-government protesters by the Erdoğan government.";

//! Pages for the benchmarks: the seed articles with the chrome of a
//! modern news page (inline scripts and styles, mega menus, card grids,
//! footers), 60–200 KB each, the same bytes on every run.

use std::fmt::Write as _;

use newsledger::demo::site::{self, Chrome, SeedArticle};

/// A small deterministic generator (xorshift), so every run serves the same bytes.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[(self.next() % words.len() as u64) as usize]
    }
}

const JS: &[&str] = &[
    "function",
    "return",
    "var",
    "const",
    "let",
    "this",
    "window",
    "document",
    "push",
    "call",
    "apply",
    "prototype",
    "undefined",
    "null",
    "typeof",
    "object",
    "length",
    "forEach",
    "map",
    "addEventListener",
    "querySelector",
    "dataLayer",
    "googletag",
    "cmd",
    "defineSlot",
    "setTargeting",
    "enableServices",
    "display",
    "pbjs",
    "que",
    "requestBids",
    "adUnits",
    "sizes",
    "bidder",
    "params",
    "placementId",
    "timeout",
    "e",
    "t",
    "n",
    "r",
    "i",
    "o",
    "a",
];
const CSS: &[&str] = &[
    "margin",
    "padding",
    "display",
    "flex",
    "grid",
    "color",
    "background",
    "border",
    "font-size",
    "line-height",
    "width",
    "max-width",
    "position",
    "absolute",
    "relative",
    "z-index",
    "top",
    "left",
    "transition",
    "opacity",
    "transform",
    "none",
    "block",
    "inherit",
    "auto",
];
const WORDS: &[&str] = &[
    "Turkey",
    "government",
    "minister",
    "election",
    "court",
    "report",
    "police",
    "economy",
    "market",
    "energy",
    "Istanbul",
    "Ankara",
    "opposition",
    "parliament",
    "investigation",
    "budget",
    "security",
    "trade",
    "crisis",
    "protest",
    "sanctions",
    "talks",
    "agency",
    "new",
    "says",
    "after",
    "over",
    "amid",
    "plans",
    "faces",
    "warns",
    "calls",
    "deal",
    "record",
];

/// Chrome for one page, about `target` bytes: what a modern news page
/// carries around its article.
pub fn heavy_chrome(rng: &mut Rng, target: usize) -> (String, String) {
    let mut head = String::new();
    let mut tail = String::new();
    // An inline ad/analytics bundle and a critical-CSS block (~55% of it).
    head.push_str("<style>");
    while head.len() < target / 5 {
        let _ = write!(
            head,
            ".c{}-{}{{{}:{}px;{}:{}}}",
            rng.next() % 997,
            rng.pick(CSS),
            rng.pick(CSS),
            rng.next() % 64,
            rng.pick(CSS),
            rng.pick(CSS)
        );
    }
    head.push_str("</style>\n<script>");
    while head.len() < target * 11 / 20 {
        let _ = write!(
            head,
            "{} {}{}({}.{}[{}],{});",
            rng.pick(JS),
            rng.pick(JS),
            rng.next() % 97,
            rng.pick(JS),
            rng.pick(JS),
            rng.next() % 1000,
            rng.pick(JS)
        );
    }
    head.push_str("</script>\n");
    // A mega menu, a card grid of other stories, a footer of link lists.
    tail.push_str("<div class=\"mega-menu\"><ul>");
    for i in 0..120 {
        let _ = write!(
            tail,
            "<li class=\"menu-item\"><a href=\"/section/{i}/\">{} {}</a></li>",
            rng.pick(WORDS),
            rng.pick(WORDS)
        );
    }
    tail.push_str("</ul></div>\n<section class=\"more-stories grid\">");
    let mut i = 0;
    while head.len() + tail.len() < target {
        let headline: Vec<&str> = (0..9).map(|_| rng.pick(WORDS)).collect();
        let _ = write!(
            tail,
            "<article class=\"card card--small\"><a href=\"/2026/01/story-{i}/\"><img src=\"/img/{i}.jpg\" alt=\"\" loading=\"lazy\" width=\"320\" height=\"180\"><h3 class=\"card__title\">{}</h3></a><span class=\"card__meta\">{} min read</span></article>",
            headline.join(" "),
            rng.next() % 9 + 1
        );
        i += 1;
    }
    tail.push_str("</section>\n<footer class=\"site-footer\"><ul>");
    for j in 0..60 {
        let _ = write!(
            tail,
            "<li><a href=\"/page/{j}/\">{}</a></li>",
            rng.pick(WORDS)
        );
    }
    tail.push_str("</ul><p>© 2026 All rights reserved.</p></footer>\n");
    (head, tail)
}

/// One article page with about `chrome` bytes of extra chrome (the
/// benchmarks aim at 60–200 KB pages). The same generator state and size
/// give the same chrome, so two visits of a page differ only where the
/// site's own chrome (`Chrome::visit`) and the article differ.
pub fn page(seed: &SeedArticle, url: &str, visit: u64, rng: &mut Rng, chrome: usize) -> String {
    let page = site::render(seed, url, &Chrome::visit(visit));
    let (extra_head, extra_tail) = heavy_chrome(rng, chrome);
    page.replacen("</head>", &format!("{extra_head}</head>"), 1)
        .replacen("</body>", &format!("{extra_tail}</body>"), 1)
}

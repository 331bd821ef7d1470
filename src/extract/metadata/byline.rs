//! The byline a reader sees in the article's header ("By Jane Doe",
//! "Written by | Jane Doe | , and | John Roe", a link to an author page),
//! reduced to the names; and whether a structured author is a name at all.

use std::sync::LazyLock;

use regex::Regex;

use super::header::Line;

/// Longer than this, a byline line is a sentence.
const MAX_NAME_CHARS: usize = 60;
const MAX_NAME_WORDS: usize = 5;
/// The words before "by" that make a credit line ("Written by", "Text
/// by"): the only "By" lines the page-wide last resort takes.
const CREDIT_VERBS: &[&str] = &["written", "authored", "reported", "text", "words", "story"];
/// Lines after a bare "By" searched for the author's link or box.
const BY_REACH: usize = 4;

#[allow(
    clippy::expect_used,
    reason = "static regex, checked by the unit tests"
)]
static BY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:(?P<verb>written|authored|posted|reported|words|text|story|article|reviewed|compiled|curated)\s+)?by\s*:?(?:\s+(?P<names>.*)|$)|^(?P<label>authors?|written by|writer|contributors?)\s*:\s*(?P<listed>.*)$",
    )
    .expect("static regex")
});

/// Whether [`BY`] can match `text`: it is anchored, and each of its words
/// starts with one of these letters (in either case). A non-ASCII first
/// character is left to the regex: Unicode case folding maps `ſ` to `s`.
/// Most of a page's lines fail here, for the page-wide last resort, without
/// a regex search each.
fn may_start_by(text: &str) -> bool {
    text.as_bytes().first().is_some_and(|b| {
        !b.is_ascii()
            || matches!(
                b.to_ascii_lowercase(),
                b'a' | b'b' | b'c' | b'p' | b'r' | b's' | b't' | b'w'
            )
    })
}

/// Words that begin labels, not names.
const NOT_NAMES: &[&str] = &[
    "updated",
    "published",
    "posted",
    "share",
    "read",
    "min",
    "comments",
    "reviewed",
    "fact",
    "edited",
    "last",
    "on",
    "in",
    "photo",
    "image",
    "source",
    "follow",
    "about",
    "more",
    "see",
    "view",
    "written",
    "by",
    "and",
    "home",
    "menu",
    "sponsored",
    "advertisement",
    "author",
    "authors",
    "authored",
    "insights",
    "sign",
    "create",
    "log",
    "login",
    "here",
    "articles",
    "posts",
    "contact",
    "subscribe",
    "newsletter",
    "search",
    "skip",
    "back",
    "next",
    "previous",
    "related",
    "tags",
    "category",
    "categories",
];

/// Separators that end a name inside one line ("Jane Doe | Staff Writer").
const NAME_ENDS: &[&str] = &[
    " | ",
    " • ",
    " · ",
    " on ",
    " - ",
    " — ",
    " – ",
    " updated",
    " published",
    " at ",
    " in ",
];

/// Text between names: ",", "and", "&", ", and".
fn is_connector(t: &str) -> bool {
    let t = t.trim().to_lowercase();
    matches!(
        t.as_str(),
        "," | "and" | "&" | ", and" | ",and" | "und" | "et" | "y" | "/"
    )
}

/// The name at the start of `t`, if `t` reads as one: a few words, no
/// digits, not a label; capitalized unless `lenient` (a handle after "By").
fn name_in(t: &str, lenient: bool) -> Option<String> {
    let lower = t.to_lowercase();
    let cut = NAME_ENDS
        .iter()
        .filter_map(|sep| lower.find(sep))
        .min()
        .unwrap_or(t.len());
    let name = t
        .get(..cut)
        .unwrap_or(t)
        .trim()
        .trim_end_matches([',', ':', ';', '|', '·', '•', '-'])
        .trim();
    // "Mahua Das in | Project Management": the joining word is not the name's.
    let name = name
        .rsplit_once(' ')
        .filter(|(_, last)| matches!(*last, "in" | "on" | "at" | "for" | "from"))
        .map_or(name, |(head, _)| head.trim_end());
    let words: Vec<&str> = name.split_whitespace().collect();
    let first = words.first()?.to_lowercase();
    let plausible = (1..=MAX_NAME_WORDS).contains(&words.len())
        && name.chars().count() <= MAX_NAME_CHARS
        && !name
            .chars()
            .any(|c| c.is_ascii_digit() || matches!(c, '@' | ':' | '?' | '!'))
        && !NOT_NAMES.contains(&first.trim_end_matches([':', '.']))
        && name.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && ((lenient && words.len() == 1) || name.chars().next().is_some_and(char::is_uppercase));
    plausible.then(|| name.to_string())
}

/// `t` if it reads as a person's or organization's name.
pub fn name(t: &str) -> Option<String> {
    name_in(t, false)
}

/// Splits one line holding several names ("A, B and C").
fn split_names(t: &str) -> Vec<&str> {
    t.split([',', '&', ';'])
        .flat_map(|p| p.split(" and "))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// Names from `lines` (each line's text, and the line): a name, then
/// (connector, name)…; stops at anything else. Each name is its own line
/// (`By | <a>A</a> | , | <a>B</a>`).
fn names_from<'a, 'd: 'a>(
    lines: impl IntoIterator<Item = (&'a str, &'a Line<'d>)>,
    lenient: bool,
) -> Vec<String> {
    let mut names = Vec::new();
    let mut want_name = true;
    for (text, line) in lines {
        let t = text.trim();
        if line.time.is_some() {
            break;
        }
        if want_name {
            let parts = split_names(t);
            let found: Vec<String> = parts
                .iter()
                .filter_map(|p| name_in(p, lenient || line.author_link))
                .collect();
            if found.is_empty() {
                break;
            }
            names.extend(found);
            want_name = t.ends_with(',') || t.ends_with(" and") || t.ends_with('&');
        } else if is_connector(t) {
            want_name = true;
        } else {
            break;
        }
    }
    names.dedup();
    names
}

/// Each line with its own text.
fn texts<'a, 'd>(lines: &'a [&'a Line<'d>]) -> impl Iterator<Item = (&'a str, &'a Line<'d>)> {
    lines.iter().map(|l| (&*l.text, *l))
}

/// Role words in the line beside a name ("Tech Writer", "Co-Founder &
/// Marketing Director").
const ROLES: &[&str] = &[
    "writer",
    "editor",
    "director",
    "founder",
    "author",
    "reporter",
    "contributor",
    "manager",
    "analyst",
    "expert",
    "journalist",
    "correspondent",
    "columnist",
    "staff",
    "ceo",
    "head of",
    "lead",
    "specialist",
    "consultant",
    "strategist",
];

/// A person's name as written in a header: two or three capitalized words
/// of letters (and `.'-`), as in "Luke Kim" or "Julian K. Arni".
fn person_like(t: &str) -> Option<String> {
    // "Reading Time:" is a label.
    if t.ends_with(':') {
        return None;
    }
    let t = name_in(t, false)?;
    let words: Vec<&str> = t.split_whitespace().collect();
    ((2..=3).contains(&words.len())
        && words.iter().all(|w| {
            w.chars().next().is_some_and(char::is_uppercase)
                && w.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '.' | '\'' | '’' | '-'))
        }))
    .then_some(t)
}

fn is_role(t: &str) -> bool {
    let t = t.to_lowercase();
    t.chars().count() <= 60 && ROLES.iter().any(|r| t.contains(r))
}

/// A name printed beside the article's date or the author's role, with no
/// "By" (`Luke Kim | December 17, 2025`, `Jack Shepherd | Co-Founder`):
/// among the first lines under the headline, at most three lines from it.
fn beside_date_or_role(lines: &[&Line]) -> Option<String> {
    let below: Vec<&Line> = lines.iter().copied().filter(|l| l.below).take(12).collect();
    // What each line is, decided once: a date, a role, or a short separator.
    let dated: Vec<bool> = below
        .iter()
        .map(|l| {
            l.time.is_some() || (l.text.chars().count() <= 40 && super::dates::has_date(&l.text))
        })
        .collect();
    let role: Vec<bool> = below.iter().map(|l| is_role(&l.text)).collect();
    let short: Vec<bool> = below.iter().map(|l| l.text.chars().count() <= 12).collect();
    for (i, line) in below.iter().enumerate() {
        if let Some(name) = name_beside_in_line(&line.text) {
            return Some(name);
        }
        let Some(name) = person_like(line.text.trim()) else {
            continue;
        };
        let near = (i.saturating_sub(3)..=i + 3).filter(|j| *j != i).any(|j| {
            let between = if j < i { j + 1..i } else { i + 1..j };
            (dated.get(j) == Some(&true) || role.get(j) == Some(&true))
                && between.into_iter().all(|k| short.get(k) == Some(&true))
        });
        if near {
            return Some(name);
        }
    }
    None
}

/// A name printed in one line with the date or the role, between bars:
/// "Aaron Ricadela | Senior Writer | July 2, 2025".
fn name_beside_in_line(text: &str) -> Option<String> {
    let mut parts = text.split(" | ").map(str::trim);
    let name = person_like(parts.next()?)?;
    let mut rest = parts.peekable();
    rest.peek()?;
    rest.any(|p| is_role(p) || (p.chars().count() <= 40 && super::dates::has_date(p)))
        .then_some(name)
}

/// The names after the first "By …" line of `body` that has any; with
/// `written`, only "Written by …" and "Author: …" lines count (the page-wide
/// last resort, where a bare "By" is too often something else's).
fn by_line(body: &[&Line], written: bool) -> Option<String> {
    for (i, line) in body.iter().enumerate() {
        let text = line.text.trim();
        if !may_start_by(text) {
            continue;
        }
        let Some(c) = BY.captures(text) else {
            continue;
        };
        let credit = c.name("label").is_some()
            || c.name("verb")
                .is_some_and(|v| CREDIT_VERBS.contains(&v.as_str().to_lowercase().as_str()));
        let next = body.get(i + 1..).unwrap_or_default();
        // "By: <a href=/author/…>", anywhere: the link says it is a byline.
        let linked = c.name("names").is_none() && next.first().is_some_and(|l| l.author_link);
        if written && !credit && !linked {
            continue;
        }
        let rest = c
            .name("names")
            .or_else(|| c.name("listed"))
            .map_or("", |m| m.as_str().trim());
        let names = if rest.is_empty() {
            // "By | Wedding Checklists | Just Engaged | <a author>Naoise
            // McNally</a>": a category between "By" and the author's link.
            let marked = next
                .iter()
                .take(BY_REACH)
                .position(|l| {
                    (l.author_link || l.author_box) && name_in(l.text.trim(), true).is_some()
                })
                .filter(|_| {
                    next.first()
                        .is_some_and(|l| !l.author_link && !l.author_box)
                });
            names_from(
                texts(next.get(marked.unwrap_or(0)..).unwrap_or_default()),
                true,
            )
        } else {
            names_from(std::iter::once((rest, *line)).chain(texts(next)), true)
        };
        if !names.is_empty() {
            return Some(names.join(", "));
        }
    }
    None
}

/// The last resort: a "Written by …" or "Author: …" line anywhere on the
/// page ([`super::header::page_lines`]), such as an author box under the
/// article.
pub fn written_anywhere(lines: &[Line]) -> Option<String> {
    let body: Vec<&Line> = lines.iter().collect();
    by_line(&body, true)
}

/// The last resort after [`written_anywhere`]: the first name in an
/// author box anywhere on the page (`<div class="blog_author-box">` under
/// the article; comment authors' boxes are not author boxes).
pub fn boxed_anywhere(lines: &[Line]) -> Option<String> {
    let body: Vec<&Line> = lines.iter().collect();
    names_at_first(&body, |l| l.author_box)
}

/// The names from the first line that passes `marked` and reads as a name
/// (an author link may hold a handle), with the names that follow it.
fn names_at_first(body: &[&Line], marked: impl Fn(&Line) -> bool) -> Option<String> {
    let i = body
        .iter()
        .position(|l| marked(l) && name_in(l.text.trim(), l.author_link).is_some())?;
    let names = names_from(texts(body.get(i..).unwrap_or_default()), false);
    (!names.is_empty()).then(|| names.join(", "))
}

/// The names a reader sees as the byline: a "By …" line first, else a
/// link to an author page, else the text of an author box, else a name
/// beside the date or the author's role.
pub fn shown(lines: &[Line]) -> Option<String> {
    let body: Vec<&Line> = lines.iter().filter(|l| !l.headline).collect();
    if let Some(names) = by_line(&body, false) {
        return Some(names);
    }
    // Author links, then author boxes; under the headline before above it
    // (a profile link in the site's top bar is the reader's, not the author's).
    for (link, below) in [(true, true), (true, false), (false, true), (false, false)] {
        let found = names_at_first(&body, |l| {
            (if link { l.author_link } else { l.author_box }) && l.below == below
        });
        if found.is_some() {
            return found;
        }
    }
    beside_date_or_role(&body)
}

/// The byline without what templates append to the names: the outlet
/// ("…, The Commercial Appeal" on the Memphis Commercial Appeal, "David
/// Jackson - FullStack Editorial Team" on FullStack) or a role in lowercase
/// words ("…, Extension horticulture educators"). Only trailing parts go.
pub fn without_outlet(byline: &str, site: Option<&str>) -> String {
    let site_words: Vec<String> = site
        .unwrap_or_default()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .collect();
    let appended = |part: &str| {
        let words: Vec<&str> = part.split_whitespace().collect();
        let outlet = words.iter().any(|w| {
            let w = w
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase();
            site_words.contains(&w)
        });
        let role = words.len() >= 2
            && words.iter().skip(1).any(|w| {
                w.chars().next().is_some_and(char::is_lowercase)
                    && !matches!(
                        *w,
                        "and"
                            | "of"
                            | "the"
                            | "van"
                            | "der"
                            | "de"
                            | "von"
                            | "da"
                            | "di"
                            | "du"
                            | "la"
                            | "le"
                            | "del"
                            | "bin"
                            | "al"
                    )
            });
        outlet || role
    };
    let mut out = byline.trim();
    while let Some((head, tail)) = [", ", " - ", " | "]
        .iter()
        .filter_map(|sep| out.rsplit_once(sep))
        .max_by_key(|(head, _)| head.len())
    {
        if head.trim().is_empty() || !appended(tail.trim()) {
            break;
        }
        out = head.trim_end();
    }
    out.to_string()
}

/// A structured author that is a name: not a URL, handle-with-dots, e-mail,
/// label ("content: …") or the site's own name.
pub fn plausible(name: &str, site: Option<&str>) -> bool {
    let n = name.trim();
    // A name starts with a letter (", USA TODAY" is a template's empty name).
    n.trim_start_matches(['"', '\'', '“', '‘'])
        .chars()
        .next()
        .is_some_and(char::is_alphabetic)
        && !n.starts_with("http")
        && !n.contains(['@', ':', '{', '}'])
        && (!n.contains('.') || n.contains(' '))
        && !n.chars().all(|c| c.is_ascii_digit())
        && n.chars().count() <= 120
        && site.is_none_or(|s| !s.trim().eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::dom::Dom;

    fn byline(html: &str) -> Option<String> {
        shown(&super::super::header::lines(&Dom::parse(html), &[]))
    }

    #[test]
    fn bylines_in_the_header() {
        assert_eq!(
            byline("<h1>T</h1><p>By <a href='/x'>Sofia Gonzalez</a></p><p>December 2, 2025</p>")
                .as_deref(),
            Some("Sofia Gonzalez")
        );
        assert_eq!(
            byline(
                "<h1>T</h1><div>Written by <a>Danielle DeSiato</a>, <a>Donna Enzmann</a>, and <a>Natalie Nguyen</a> Updated August 14, 2025</div>"
            )
            .as_deref(),
            Some("Danielle DeSiato, Donna Enzmann, Natalie Nguyen")
        );
        assert_eq!(
            byline("<h1>T</h1><span>By Amy Wilhelm | Staff Writer</span>").as_deref(),
            Some("Amy Wilhelm")
        );
        assert_eq!(
            byline("<h1>T</h1><p>9 min read</p><a href='/authors/luke-kim'>Luke Kim</a>")
                .as_deref(),
            Some("Luke Kim")
        );
        assert_eq!(
            byline("<h1>T</h1><div class='post-author'>Jane Roe</div>").as_deref(),
            Some("Jane Roe")
        );
        // A name beside the date or the author's role, with no "By".
        assert_eq!(
            byline("<h1>T</h1><p>Bence Kovács</p><p>02.12.2025</p><p>Intro text.</p>").as_deref(),
            Some("Bence Kovács")
        );
        assert_eq!(
            byline("<h1>T</h1><p>Dec 26, 2025</p><p>•</p><p>Mahua Das in</p>").as_deref(),
            Some("Mahua Das")
        );
        assert_eq!(
            byline("<h1>T</h1><p>Juliette Carreiro</p><p>Tech Writer</p>").as_deref(),
            Some("Juliette Carreiro")
        );
        // Two capitalized words far from any date are not a name.
        assert_eq!(
            byline("<h1>T</h1><p>Travel Tips</p><p>Some intro sentence here.</p>"),
            None
        );
        // Not bylines: a sentence after "by", a label, no headline.
        assert_eq!(
            byline("<h1>T</h1><p>By the time the council met, 40 people had left the hall</p>"),
            None
        );
        assert_eq!(byline("<h1>T</h1><p>By</p><p>Updated</p>"), None);
        assert_eq!(byline("<p>By Jane Roe</p>"), None);
    }

    #[test]
    fn bylines_past_categories_labels_and_the_top_bar() {
        // A bare "By", then categories, then the author's link.
        assert_eq!(
            byline("<h1>T</h1><p>By</p><a href='/c'>Wedding Checklists</a><a href='/c2'>Just Engaged</a><a href='/author/nm'>Naoise McNally</a>").as_deref(),
            Some("Naoise McNally")
        );
        // A profile link in the top bar is the reader's.
        assert_eq!(
            byline("<a href='/profile/me'>Attendee Handbook</a><h1>T</h1><a href='/author/zl'>Zach Lezberg</a><p>May 22, 2025</p>").as_deref(),
            Some("Zach Lezberg")
        );
        // "Contributors:" is a byline label; "Reading Time:" is not a name.
        assert_eq!(
            byline("<h1>T</h1><p>Contributors:</p><p>Janet Loughrey</p>").as_deref(),
            Some("Janet Loughrey")
        );
        assert_eq!(
            byline("<h1>T</h1><p>published on: April 16, 2024</p><p>Reading Time:</p><p>8</p>"),
            None
        );
        // Name, role and date in one line.
        assert_eq!(
            byline("<h1>T</h1><p>Aaron Ricadela | Senior Writer | July 2, 2025</p>").as_deref(),
            Some("Aaron Ricadela")
        );
        // Questions and punctuation are not names.
        assert_eq!(
            byline("<h1>T</h1><div class='author-content'>What is Companion Planting?</div>"),
            None
        );
        assert_eq!(byline("<h1>T</h1><p>By</p><p>»</p>"), None);
    }

    #[test]
    fn written_by_anywhere_is_the_last_resort() {
        let page =
            |html: &str| written_anywhere(&super::super::header::page_lines(&Dom::parse(html)));
        let long = "<p>Paragraph of the story.</p>".repeat(200);
        assert_eq!(
            page(&format!(
                "<h1>T</h1>{long}<h3>Written by Cassidy Horton</h3><p>Cassidy is a writer.</p>"
            ))
            .as_deref(),
            Some("Cassidy Horton")
        );
        assert_eq!(
            page(&format!(
                "<h1>T</h1>{long}<div>Text by <a href='/contributor/hd'>Hunter Dukes</a></div>"
            ))
            .as_deref(),
            Some("Hunter Dukes")
        );
        // An author box under the article; not a commenter's or reviewer's.
        assert_eq!(
            boxed_anywhere(&super::super::header::page_lines(&Dom::parse(&format!(
                "<h1>T</h1>{long}<div class='comment-author'>Sam Poe</div><div class='review-author'>Lance S.</div><div class='blog_author-box'><div>Lauren Vetter</div><p>Lauren is a marketer.</p></div>"
            ))))
            .as_deref(),
            Some("Lauren Vetter")
        );
        // A bare "By" far from the headline is not taken.
        assert_eq!(page(&format!("<h1>T</h1>{long}<p>By Jane Roe</p>")), None);
    }

    #[test]
    fn outlets_and_roles_appended_to_the_names_go() {
        let memphis = Some("Memphis Commercial Appeal");
        assert_eq!(
            without_outlet(
                "Manoj Jain and Jagpreet Chhatwal, The Commercial Appeal",
                memphis
            ),
            "Manoj Jain and Jagpreet Chhatwal"
        );
        assert_eq!(
            without_outlet(
                "David Jackson - FullStack Editorial Team",
                Some("FullStack")
            ),
            "David Jackson"
        );
        assert_eq!(
            without_outlet(
                "Julie Weisenhorn, Natalie Hoidal, Extension horticulture educators",
                None
            ),
            "Julie Weisenhorn, Natalie Hoidal"
        );
        // Several names stay; so does a name alone.
        assert_eq!(
            without_outlet("Ann Lee, Bo Chan, Cy Diaz", memphis),
            "Ann Lee, Bo Chan, Cy Diaz"
        );
        assert_eq!(
            without_outlet("Commercial Appeal", memphis),
            "Commercial Appeal"
        );
    }

    #[test]
    fn structured_authors_that_are_not_names() {
        assert!(!plausible(", USA TODAY", None));
        assert!(plausible("\"David Kim\"", None));
        assert!(plausible("Jane Roe", Some("City Paper")));
        assert!(!plausible("City Paper", Some("City Paper")));
        assert!(!plausible("andrew.keaveney", None));
        assert!(!plausible("https://example.org/me", None));
        assert!(!plausible("content: MarketingSherpa, design: Scott", None));
        assert!(!plausible("262588213843476", None));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// The first-letter test never turns away a line [`BY`] matches.
        #[test]
        fn lines_turned_away_never_match_by(
            text in "(written|Authored|POSTED|reported|words|Text|story|article|reviewed|compiled|curated|by|By|ſ|\u{212A}|Å|é|x|q|1| |:|\\.|authors?|Writer|contributors|written by){0,4}",
        ) {
            if !may_start_by(&text) {
                proptest::prop_assert!(BY.captures(&text).is_none(), "{text:?}");
            }
        }

        /// On any text: never a panic, the result is a prefix of the byline
        /// (only trailing parts go), and a non-empty byline stays non-empty.
        #[test]
        fn without_outlet_only_drops_trailing_parts(
            parts in proptest::collection::vec("[A-Za-zÄé’ ]{0,12}", 1..5),
            seps in proptest::collection::vec(proptest::sample::select(vec![", ", " - ", " | ", " and "]), 4),
            site in proptest::option::of("[A-Za-z ]{0,16}"),
        ) {
            let mut byline = String::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    byline.push_str(seps[i - 1]);
                }
                byline.push_str(p);
            }
            let out = without_outlet(&byline, site.as_deref());
            proptest::prop_assert!(byline.trim().starts_with(&out), "{byline:?} -> {out:?}");
            proptest::prop_assert_eq!(out.is_empty(), byline.trim().is_empty());
        }

        /// Header lines of any text: the byline rules never panic, and a
        /// name they return is one of the line's own words.
        #[test]
        fn bylines_of_any_text_are_taken_from_it(lines in proptest::collection::vec("[A-Za-z:|,.&?! ]{0,30}|By [A-Za-z ]{0,20}", 0..8)) {
            let html: String = lines.iter().map(|l| format!("<p>{}</p>", l.replace('&', "&amp;"))).collect();
            let page = format!("<h1>T</h1>{html}");
            let doc = Dom::parse(&page);
            let header = super::super::header::lines(&doc, &[]);
            if let Some(name) = shown(&header) {
                for word in name.split([' ', ',']).filter(|w| !w.is_empty()) {
                    proptest::prop_assert!(page.contains(word), "{word:?} not in {page:?}");
                }
            }
            let _ = written_anywhere(&super::super::header::page_lines(&doc));
            let _ = boxed_anywhere(&super::super::header::page_lines(&doc));
        }
    }
}

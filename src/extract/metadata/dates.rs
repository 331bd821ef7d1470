//! The date a reader sees under the headline ("Published March 3, 2025",
//! "Last updated: Dec 12, 2025", `<time datetime>`), and how it is
//! weighed against the structured dates.
//!
//! Pages often carry several dates: the structured `datePublished` of the
//! first version, a `dateModified`, and the date the page itself shows by
//! the headline. What the page shows is what a reader (and a court) will
//! call the article's date, so it wins when it is there; a structured date
//! of the same calendar day is kept instead, for its time and offset.

use super::header::Line;
/// A date line is short ("Posted on April 13, 2023 by …"); a date inside a
/// longer text is part of the story, not the article's date.
const MAX_DATE_LINE: usize = 100;
/// Characters before a date searched for its label ("Updated:").
const LABEL_WINDOW: usize = 40;

/// What the words before a date say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Published,
    Updated,
    Unlabeled,
}

/// A date shown near the headline: normalized (RFC 3339 or full-date),
/// with its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub date: String,
    pub label: Label,
    /// Shown after the headline starts (not above it).
    pub below: bool,
    /// The other reading of a numeric date whose day and month could be
    /// either way round ("09.10.2024": 9 October or September 10).
    pub swapped: Option<String>,
}

fn label_of(before: &str) -> Label {
    let b = before.to_lowercase();
    let n = b.chars().count();
    let tail: String = b.chars().skip(n.saturating_sub(LABEL_WINDOW)).collect();
    let updated = ["updated", "modified", "revised", "reviewed", "edited"];
    let published = ["published", "posted", "released", "created", "written"];
    // The nearest label word wins ("Published May 1 · Updated June 2").
    let last = |words: &[&str]| words.iter().filter_map(|w| tail.rfind(w)).max();
    match (last(&updated), last(&published)) {
        (Some(u), Some(p)) if u > p => Label::Updated,
        (Some(_), None) => Label::Updated,
        (_, Some(_)) => Label::Published,
        (None, None) => Label::Unlabeled,
    }
}

/// Dates shown in the article's header ([`header::lines`]), in page order.
/// A line may show several ("Updated Nov 11 … Originally published Nov
/// 9"): each gets the label written before it. A date inside a sentence
/// ("the analysis, published online Feb. 16, 2023, by …") is the story's,
/// not the article's, and is left out.
pub fn shown(lines: &[Line]) -> Vec<Shown> {
    let mut out = Vec::new();
    let mut recent = String::new();
    for line in lines {
        let mut found = match &line.time {
            Some(attr) => {
                let written = dates_in(&line.text);
                if written.len() > 1 {
                    written
                } else {
                    // Its label may be inside it ("<time>Last Updated Nov 6,
                    // 2025</time>"): the text before its date, or all of it.
                    let at = written.first().map_or(line.text.len(), |w| w.at);
                    time_value(attr.clone(), written.first())
                        .map(|date| {
                            vec![Written {
                                at,
                                date,
                                swapped: None,
                            }]
                        })
                        .unwrap_or_default()
                }
            }
            None if line.text.bytes().any(|b| b.is_ascii_digit())
                && line.text.chars().count() <= MAX_DATE_LINE =>
            {
                dates_in(&line.text)
            }
            None => Vec::new(),
        };
        if line.time.is_none() {
            found.retain(|w| !in_sentence(&line.text, w.at));
        }
        for Written { at, date, swapped } in found {
            let mut before = recent.clone();
            before.push(' ');
            before.push_str(line.text.get(..at).unwrap_or_default());
            out.push(Shown {
                date,
                label: label_of(&before),
                below: line.below,
                swapped,
            });
        }
        recent.push(' ');
        recent.push_str(&line.text);
        if recent.len() > 4 * LABEL_WINDOW {
            let cut = recent.len() - 2 * LABEL_WINDOW;
            let cut = (cut..recent.len())
                .find(|i| recent.is_char_boundary(*i))
                .unwrap_or(recent.len());
            recent.drain(..cut);
        }
    }
    out
}

/// Words that may stand beside a date in a date line ("Last updated on
/// the", "Posted at 19:00 by").
const DATE_LINE_WORDS: &[&str] = &[
    "on",
    "at",
    "by",
    "the",
    "of",
    "in",
    "and",
    "last",
    "updated",
    "published",
    "posted",
    "originally",
    "first",
    "date",
    "modified",
    "reviewed",
    "written",
    "min",
    "read",
    "am",
    "pm",
    "et",
    "pt",
    "edt",
    "est",
    "pst",
    "pdt",
    "utc",
    "gmt",
    "to",
    "from",
    "since",
    "created",
    "released",
    "edited",
    "fact",
    "checked",
    "|",
    "•",
    "·",
    "-",
    "–",
    "—",
];

/// True when the date at `text[at..]` sits in a sentence: two or more
/// lowercase words before it that no date line uses ("and is valid …",
/// "the analysis, published online …"). What follows a date is often a
/// reading time or a byline, so only the words before it count.
fn in_sentence(text: &str, at: usize) -> bool {
    text.get(..at)
        .unwrap_or_default()
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| {
            w.chars().next().is_some_and(char::is_lowercase)
                && w.chars().all(char::is_alphabetic)
                && !DATE_LINE_WORDS.contains(w)
        })
        .count()
        >= 2
}

/// A `<time>`: the day its text shows wins over a `datetime` that another
/// time zone moved to another day; otherwise the precise `datetime`.
fn time_value(attr: Option<String>, written: Option<&Written>) -> Option<String> {
    let shown = written.map(|w| w.date.clone());
    match (attr, shown) {
        (Some(a), Some(s)) if a.get(..10) != s.get(..10) => Some(s),
        (Some(a), _) => Some(a),
        (None, s) => s,
    }
}

/// True when `text` holds a date a reader would recognize.
pub fn has_date(text: &str) -> bool {
    super::visible_date_matches(text).any(|c| super::visible_date_of(&c).is_some())
}

/// One date written in a text.
struct Written {
    /// Where it starts, in bytes.
    at: usize,
    date: String,
    /// Its other reading ([`Shown::swapped`]).
    swapped: Option<String>,
}

/// The dates written in `text`, each read from its one match.
fn dates_in(text: &str) -> Vec<Written> {
    super::visible_date_matches(text)
        .filter_map(|c| {
            Some(Written {
                at: c.get(0)?.start(),
                date: super::visible_date_of(&c)?,
                swapped: super::swapped_reading_of(&c),
            })
        })
        .collect()
}

/// The article's publication date: what the page shows by its headline
/// (a date labelled "published" first, else the first one shown, unless a
/// date shown before it is the structured publication day), kept precise
/// when a structured date names the same day (for a numeric date that
/// reads either way round, in either reading); else the structured
/// publication date.
pub fn choose(
    shown: &[Shown],
    published: Option<String>,
    modified: Option<&str>,
) -> Option<String> {
    // Dates under the headline before those above it (often a ticker of
    // other stories); a date labelled "published" before the first.
    let below: Vec<&Shown> = shown.iter().filter(|s| s.below).collect();
    let near: Vec<&Shown> = if below.is_empty() {
        shown.iter().collect()
    } else {
        below
    };
    let pick = near
        .iter()
        .find(|s| s.label == Label::Published)
        .or_else(|| near.iter().find(|s| s.label == Label::Unlabeled))
        .or_else(|| near.first())
        .copied();
    let Some(pick) = pick else {
        return published;
    };
    // "Updated …" alone by the headline: the page's own first date, when
    // the structured data has one, is still the publication date.
    if pick.label == Label::Updated && published.is_some() {
        return published;
    }
    fn day(d: &str) -> Option<&str> {
        d.get(..10)
    }
    let same_day = |wanted: Option<&str>| {
        [published.as_deref(), modified]
            .into_iter()
            .flatten()
            .find(|d| day(d) == wanted)
            .map(str::to_string)
    };
    // An unlabelled pick yields to a date shown before it (not as an
    // update) that is the structured publication day: the page confirms
    // that one first (the date above the headline; the pick under it is a
    // related story's). A date after the pick is more often a reply's or
    // another story's, and does not count.
    let published_day = published.as_deref().and_then(day);
    let confirmed = published_day.is_some()
        && pick.label != Label::Published
        && day(&pick.date) != published_day
        && shown
            .iter()
            .take_while(|s| !std::ptr::eq(*s, pick))
            .any(|s| s.label != Label::Updated && day(&s.date) == published_day);
    if confirmed {
        return published;
    }
    same_day(day(&pick.date))
        // A numeric date read the other way round ("09.10.2024") when that
        // reading is a structured date's day.
        .or_else(|| same_day(pick.swapped.as_deref().and_then(day)))
        .or_else(|| Some(pick.date.clone()))
}

/// The last resort: a date the page labels anywhere ("Posted on April
/// 13, 2023" under the article, "Last updated: November 13, 2025" on a
/// page without a headline): the first labelled "published", else the
/// first labelled "updated". Unlabelled dates far from a headline are
/// more often another story's than this one's, and are not taken.
pub fn labelled(lines: &[Line]) -> Option<String> {
    let all = shown(lines);
    [Label::Published, Label::Updated]
        .iter()
        .find_map(|want| all.iter().find(|s| s.label == *want))
        .map(|s| s.date.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::extract::dom::Dom;

    fn shown(html: &str) -> Vec<Shown> {
        super::shown(&super::super::header::lines(&Dom::parse(html), &[]))
    }

    #[test]
    fn the_date_under_the_headline_and_its_label() {
        let s = shown(
            r#"<nav>March 1, 2020</nav><h1>Budget passes</h1>
               <div class="meta"><span>Updated:</span> <span>Dec 12, 2025</span></div>
               <p>Published <time datetime="2025-08-13T09:00:00-05:00">August 13, 2025</time></p>"#,
        );
        assert_eq!(
            s,
            vec![
                Shown {
                    date: "2025-12-12".into(),
                    label: Label::Updated,
                    below: true,
                    swapped: None,
                },
                Shown {
                    date: "2025-08-13T09:00:00-05:00".into(),
                    label: Label::Published,
                    below: true,
                    swapped: None,
                },
            ]
        );
        assert_eq!(
            choose(&s, Some("2025-08-13T14:00:00Z".into()), None).as_deref(),
            Some("2025-08-13T14:00:00Z")
        );
    }

    #[test]
    fn a_time_element_shows_its_own_day() {
        // Stored in UTC, shown in the page's zone on the day before.
        let s =
            shown(r#"<h1>T</h1><time datetime="2025-12-19T03:05:00Z">December 18, 2025</time>"#);
        assert_eq!(s[0].date, "2025-12-18");
        assert_eq!(
            choose(&s, Some("2025-12-19T03:05:00Z".into()), None).as_deref(),
            Some("2025-12-18")
        );
    }

    #[test]
    fn dates_in_the_story_and_far_from_the_headline_are_not_its_date() {
        let long = "word ".repeat(400);
        let s = shown(&format!(
            "<p>December 1, 2019</p>{long}<h1>T</h1><p>On March 3, 2024 the council met and {long}</p><p>May 5, 2021</p>"
        ));
        assert!(s.is_empty(), "{s:?}");
        assert!(
            shown("<p>Posted March 3, 2024</p>").is_empty(),
            "no headline"
        );
        assert_eq!(
            choose(&[], Some("2020-01-01".into()), None).as_deref(),
            Some("2020-01-01")
        );
    }

    #[test]
    fn each_date_in_a_line_has_its_own_label() {
        let s = shown(
            r#"<h1>T</h1><time datetime="2022-11-11T20:23:00-05:00">Updated November 11, 2022 8:23 PM ET Originally published November 9, 2022 11:01 AM ET</time>"#,
        );
        let labels: Vec<(&str, Label)> = s.iter().map(|d| (d.date.as_str(), d.label)).collect();
        assert_eq!(
            labels,
            vec![
                ("2022-11-11", Label::Updated),
                ("2022-11-09", Label::Published)
            ]
        );
        assert_eq!(choose(&s, None, None).as_deref(), Some("2022-11-09"));
    }

    #[test]
    fn a_label_inside_the_time_element_is_its_label() {
        let s = shown(
            r#"<h1>T</h1><time datetime="2025-11-06T12:40:44-08:00">Last Updated Nov 6, 2025</time>"#,
        );
        assert_eq!(s.first().map(|d| d.label), Some(Label::Updated), "{s:?}");
        // Only an update is shown: the structured publication date stands.
        assert_eq!(
            choose(&s, Some("2025-02-12T23:21:00Z".into()), None).as_deref(),
            Some("2025-02-12T23:21:00Z")
        );
        let s =
            shown(r#"<h1>T</h1><time datetime="2025-06-18T16:35:02Z">Updated 3 hours ago</time>"#);
        assert_eq!(s.first().map(|d| d.label), Some(Label::Updated), "{s:?}");
    }

    #[test]
    fn a_date_shown_before_the_pick_confirms_the_structured_date() {
        // The structured day above the headline; a related story's date
        // under it.
        let s = shown(
            r#"<p class="meta">January 16, 2025</p><h1>Types of mobile apps</h1>
               <div class="card"><a href="/other">Another story</a><span>July 15, 2025</span></div>"#,
        );
        assert_eq!(
            choose(&s, Some("2025-01-16T00:00:27+00:00".into()), None).as_deref(),
            Some("2025-01-16T00:00:27+00:00")
        );
        assert_eq!(choose(&s, None, None).as_deref(), Some("2025-07-15"));
        // A date after the pick (a reply's) does not confirm anything.
        let s = shown("<h1>Why is this slow?</h1><p>Feb 4, 2014</p><p>May 21, 2018</p>");
        assert_eq!(
            choose(&s, Some("2018-05-21".into()), None).as_deref(),
            Some("2014-02-04")
        );
        // Nor does a labelled update, and a labelled publication stands.
        let s = shown(
            "<p>Updated Jan 16, 2025</p><h1>The budget passes after a long night in the chamber</h1><p>Jul 15, 2025</p>",
        );
        assert_eq!(s[1].label, Label::Unlabeled);
        assert_eq!(
            choose(&s, Some("2025-01-16".into()), None).as_deref(),
            Some("2025-07-15")
        );
        let s = shown("<p>Jan 16, 2025</p><h1>Budget</h1><p>Published Jul 15, 2025</p>");
        assert_eq!(
            choose(&s, Some("2025-01-16".into()), None).as_deref(),
            Some("2025-07-15")
        );
    }

    #[test]
    fn a_numeric_date_is_read_the_way_the_structured_date_says() {
        let s = shown("<h1>Renovation phases</h1><p>09.10.2024</p>");
        assert_eq!(s[0].swapped.as_deref(), Some("2024-09-10"));
        assert_eq!(
            choose(&s, Some("2024-09-10T16:07:00Z".into()), None).as_deref(),
            Some("2024-09-10T16:07:00Z")
        );
        // Without it, a dot still reads day first.
        assert_eq!(choose(&s, None, None).as_deref(), Some("2024-10-09"));
        // A structured date that is neither reading changes nothing.
        assert_eq!(
            choose(&s, Some("2023-01-02".into()), None).as_deref(),
            Some("2024-10-09")
        );
    }

    #[test]
    fn a_date_inside_a_sentence_is_the_story_s() {
        let s = shown(
            r#"<h1>T</h1><time datetime="2023-07-01">July 1, 2023</time><p>The analysis, published online Feb. 16, 2023, by the</p><p>and is valid November 26 – December 3, 2025.</p>"#,
        );
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(choose(&s, None, None).as_deref(), Some("2023-07-01"));
        // Words after a date are a reading time or a byline, not a sentence.
        let s = shown("<h1>T</h1><p>February 4 2026 - Average reading time: 12 min</p>");
        assert_eq!(s.len(), 1, "{s:?}");
        // A timestamp written for readers.
        let s = shown("<h1>T</h1><p>Nick van Mead</p><p>2022-11-23T08:10+02:00</p>");
        assert_eq!(s.first().map(|d| d.date.as_str()), Some("2022-11-23"));
    }

    #[test]
    fn the_last_resort_takes_only_a_labelled_date() {
        let page = |html: &str| labelled(&super::super::header::page_lines(&Dom::parse(html)));
        let long = "<p>Paragraph of the story.</p>".repeat(200);
        assert_eq!(
            page(&format!("<div>Related: March 3, 2021</div><h2>T</h2>{long}<p>Written by Dana Roe</p><p>Posted on April 13, 2023</p>")).as_deref(),
            Some("2023-04-13")
        );
        assert_eq!(
            page(&format!("{long}<p>Last updated: November 13, 2025</p>")).as_deref(),
            Some("2025-11-13")
        );
        assert_eq!(page(&format!("<p>March 3, 2021</p>{long}")), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Lines of any text (multi-byte letters around numbers and labels):
        /// no panic, and every date read is a valid calendar date.
        #[test]
        fn dates_of_any_text_are_valid_days(lines in proptest::collection::vec("(Updated|Posted on|é|’|[a-z ]{0,8}|[0-9]{1,4}|[./-]|Jan|March|,| )*", 0..8)) {
            let html: String = lines.iter().map(|l| format!("<p>{l}</p>")).collect();
            let page = format!("<h1>T</h1>{html}");
            let doc = Dom::parse(&page);
            let mut found: Vec<String> = super::shown(&super::super::header::lines(&doc, &[]))
                .into_iter()
                .map(|d| d.date)
                .collect();
            found.extend(labelled(&super::super::header::page_lines(&doc)));
            for d in found {
                let day = d.get(..10).unwrap_or_default();
                proptest::prop_assert!(chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok(), "{d}");
            }
        }
    }
}

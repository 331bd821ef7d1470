//! Dates as pages write them: visible dates, `<time>`, microdata, the URL's
//! date, and their normalization to RFC 3339.

use crate::extract::dom::Dom;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use std::sync::LazyLock;

use super::query::Query;
use super::rendered_text;

/// `itemprop="datePublished"` on any element: its `content` or
/// `datetime`, else its text.
pub(super) fn microdata_date(doc: &Dom<'_>) -> Option<String> {
    Query::ItempropDate.select(doc).find_map(|e| {
        let v = e.element()?;
        v.attribute("content")
            .or_else(|| v.attribute("datetime"))
            .and_then(normalize_date)
            .or_else(|| parse_visible_date(&rendered_text(e)))
    })
}

/// A date written for readers in a date or byline container ("March 30,
/// 2022", "30 March 2022", "2022-03-30"): the last resort before the URL.
pub(super) fn visible_date(doc: &Dom<'_>) -> Option<String> {
    Query::DateBox.select(doc).take(40).find_map(|e| {
        let t = rendered_text(e);
        (t.len() <= 200).then(|| parse_visible_date(&t)).flatten()
    })
}

pub(super) static VISIBLE_DATE: LazyLock<regex::Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used, reason = "static regex, checked by the unit tests")]
    regex::Regex::new(
        r"(?i)\b(?:(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+((?:19|20)\d{2})|(\d{1,2})(?:st|nd|rd|th)?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+((?:19|20)\d{2})|((?:19|20)\d{2})[-./](\d{2})[-./](\d{2})(?:T\d{2}:\d{2})?|(\d{1,2})([./])(\d{1,2})[./]((?:19|20)\d{2}))\b",
    )
    .expect("static regex")
});

/// Whether [`VISIBLE_DATE`] can match `text`: every form it reads has a
/// year starting with the digits `19` or `20`. Far cheaper than a search,
/// which falls back from its fastest engine on any text with a non-ASCII
/// character (its `\b` is Unicode's), and most short lines with a digit
/// (times, counts) have neither.
pub(super) fn may_hold_date(text: &str) -> bool {
    text.as_bytes().windows(2).any(|w| w == b"19" || w == b"20")
}

/// The matches of [`VISIBLE_DATE`] in `text`, searched only when
/// [`may_hold_date`] lets them exist.
pub(super) fn visible_date_matches(text: &str) -> impl Iterator<Item = regex::Captures<'_>> {
    may_hold_date(text)
        .then(|| VISIBLE_DATE.captures_iter(text))
        .into_iter()
        .flatten()
}

pub(super) fn parse_visible_date(text: &str) -> Option<String> {
    visible_date_of(&visible_date_matches(text).next()?)
}

/// The date a [`VISIBLE_DATE`] match reads as.
pub(super) fn visible_date_of(c: &regex::Captures<'_>) -> Option<String> {
    let month = |m: &str| {
        let m = m.to_ascii_lowercase();
        [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ]
        .iter()
        .position(|x| m.starts_with(x))
        .map(|i| i + 1)
    };
    let g = |i: usize| c.get(i).map(|m| m.as_str());
    let (y, m, d): (u32, usize, u32) = if let (Some(mo), Some(d), Some(y)) = (g(1), g(2), g(3)) {
        (y.parse().ok()?, month(mo)?, d.parse().ok()?)
    } else if let (Some(d), Some(mo), Some(y)) = (g(4), g(5), g(6)) {
        (y.parse().ok()?, month(mo)?, d.parse().ok()?)
    } else if let (Some(y), Some(m), Some(d)) = (g(7), g(8), g(9)) {
        (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    } else {
        let (a, sep, b, y) = numeric_parts(c)?;
        let (m, d) = month_day(a, sep, b);
        (y, m as usize, d)
    };
    full_date(y, m as u32, d)
}

/// A numeric date's two first numbers, their separator and the year
/// (`VISIBLE_DATE`'s last form).
pub(super) fn numeric_parts<'t>(c: &regex::Captures<'t>) -> Option<(u32, &'t str, u32, u32)> {
    let n = |i: usize| c.get(i)?.as_str().parse::<u32>().ok();
    Some((n(10)?, c.get(11)?.as_str(), n(12)?, n(13)?))
}

/// (month, day) of a numeric date: 12.12.2025 is day first; 09/25/2025
/// month first unless the first number cannot be a month.
pub(super) fn month_day(a: u32, sep: &str, b: u32) -> (u32, u32) {
    if sep == "." || a > 12 { (b, a) } else { (a, b) }
}

/// `y-m-d` as a full-date, if it is a day of the calendar.
pub(super) fn full_date(y: u32, m: u32, d: u32) -> Option<String> {
    NaiveDate::from_ymd_opt(y as i32, m, d)?;
    normalize_date(&format!("{y:04}-{m:02}-{d:02}"))
}

/// The other reading of a [`VISIBLE_DATE`] match that is a numeric date
/// written day and month either way round ("09.10.2024", "03/10/2023"),
/// when both readings are dates.
pub(super) fn swapped_reading_of(c: &regex::Captures<'_>) -> Option<String> {
    let (a, sep, b, y) = numeric_parts(c)?;
    if a == b || a > 12 || b > 12 {
        return None;
    }
    let (m, d) = month_day(a, sep, b);
    full_date(y, d, m)
}

pub(super) fn time_element(doc: &Dom<'_>) -> Option<String> {
    Query::Time
        .select(doc)
        .filter_map(|t| t.element())
        .find(|v| {
            v.attribute("itemprop") == Some("datePublished")
                || v.attribute("pubdate").is_some()
                || v.attribute("class")
                    .is_some_and(|c| c.contains("publish") || c.contains("entry-date"))
        })
        .or_else(|| Query::Time.select(doc).find_map(|t| t.element()))
        .and_then(|t| t.attribute("datetime"))
        .and_then(normalize_date)
}

/// Normalizes a date to RFC 3339, keeping the page's offset. A date with
/// no time stays a full-date (`2022-03-30`); a time with no offset is kept
/// without one rather than guessed. Absurd years are refused.
pub fn normalize_date(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let plausible = |y: i32| (1990..=2100).contains(&y);
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return plausible(chrono::Datelike::year(&d)).then(|| rfc3339(&d));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S %z",
    ] {
        if let Ok(d) = DateTime::<FixedOffset>::parse_from_str(s, f) {
            return plausible(chrono::Datelike::year(&d)).then(|| rfc3339(&d));
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return plausible(chrono::Datelike::year(&d)).then(|| rfc3339(&d));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return plausible(chrono::Datelike::year(&d))
                .then(|| d.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
    }
    // A day alone, from the start of a longer value; or year, month name,
    // day, as PubMed writes `citation_publication_date` ("2023 Jan 7").
    let date_part = s.get(..10).unwrap_or(s);
    for (text, f) in [
        (date_part, "%Y-%m-%d"),
        (date_part, "%Y/%m/%d"),
        (s, "%Y %b %d"),
        (s, "%Y %B %d"),
    ] {
        if let Ok(d) = NaiveDate::parse_from_str(text, f) {
            return plausible(chrono::Datelike::year(&d)).then(|| d.format("%Y-%m-%d").to_string());
        }
    }
    None
}

pub(super) fn rfc3339(d: &DateTime<FixedOffset>) -> String {
    d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[allow(
    clippy::expect_used,
    reason = "static selectors and regexes, checked by the unit tests"
)]
pub(super) static URL_DATE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"/((?:19|20)\d{2})[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?:/|[-_.]|$)",
    )
    .expect("static regex")
});

/// A publication date written in the URL path (`/2022/03/30/…`,
/// `/2019-11-19/…`): the last resort when the page carries none.
pub fn date_from_url(url: &str) -> Option<String> {
    let path = url::Url::parse(url).ok()?.path().to_string();
    let c = URL_DATE.captures(&path)?;
    normalize_date(&format!("{}-{}-{}", &c[1], &c[2], &c[3]))
}

//! When a source fires: crontab expressions (5 fields, or 6 with seconds)
//! evaluated in UTC or in the source's time zone. Pure: "now" is an argument.
//!
//! Built on `croner`, which handles daylight-saving days like Vixie cron: a
//! wall time skipped by spring-forward fires once, right after the gap, and a
//! wall time repeated by fall-back fires once (CRATES.md records that the
//! `cron` crate gets both wrong and rejects 5 fields).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: Cron,
    tz: Option<Tz>,
}

impl Schedule {
    /// Parses a crontab expression and an optional IANA time zone name.
    pub fn parse(expr: &str, timezone: Option<&str>) -> Result<Self, String> {
        let fields = expr.split_whitespace().count();
        if !(fields == 5 || fields == 6 || expr.trim_start().starts_with('@')) {
            return Err(format!(
                "`{expr}` has {fields} fields; use 5 (minute hour day month weekday) or 6 (with seconds first)"
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expr)
            .map_err(|e| format!("`{expr}` is not a valid cron expression: {e}"))?;
        let tz = match timezone {
            None => None,
            Some(name) => Some(name.parse::<Tz>().map_err(|_| {
                format!(
                    "`{name}` is not an IANA time zone name (e.g. \"Europe/Istanbul\", \"UTC\")"
                )
            })?),
        };
        Ok(Schedule {
            expr: expr.to_string(),
            cron,
            tz,
        })
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The first firing strictly after `now`, or `None` if there is none.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.tz {
            None => self.cron.find_next_occurrence(&now, false).ok(),
            Some(tz) => self
                .cron
                .find_next_occurrence(&now.with_timezone(&tz), false)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    /// Every firing in `(from, to]`, in order (for tests and `check-config`).
    pub fn firings(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = from;
        while let Some(next) = self.next_after(t).filter(|n| *n <= to) {
            out.push(next);
            t = next;
        }
        out
    }
}

/// When a known article is checked again: a ladder of (age since first
/// seen, interval) steps. The first step whose age bound is above the
/// article's age gives the interval; past the last step it is not
/// revisited. A change brings it back to the first step for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder {
    pub steps: Vec<(std::time::Duration, std::time::Duration)>,
}

impl Default for Ladder {
    /// Every cycle for 6 hours, hourly for 2 days, daily for 30 days,
    /// weekly until 90 days, then never.
    fn default() -> Self {
        const H: u64 = 3600;
        let d = std::time::Duration::from_secs;
        Ladder {
            steps: vec![
                (d(6 * H), d(0)),
                (d(48 * H), d(H)),
                (d(30 * 24 * H), d(24 * H)),
                (d(90 * 24 * H), d(7 * 24 * H)),
            ],
        }
    }
}

impl Ladder {
    /// Is an article first seen `age` ago, last fetched `since_fetch` ago
    /// (`None`: never) and last changed `since_change` ago due now?
    pub fn due(
        &self,
        age: std::time::Duration,
        since_fetch: Option<std::time::Duration>,
        since_change: Option<std::time::Duration>,
    ) -> bool {
        let Some(since_fetch) = since_fetch else {
            return true;
        };
        // A recent change tightens the schedule again: treat it as new.
        let effective_age = match since_change {
            Some(c) if c < age => c,
            _ => age,
        };
        match self.steps.iter().find(|(until, _)| effective_age < *until) {
            Some((_, every)) => since_fetch >= *every,
            None => false,
        }
    }

    /// Will the article never be due again? Fetched at least once and past
    /// the last step (only a change could bring it back, and it is no
    /// longer fetched to see one).
    pub fn retired(
        &self,
        age: std::time::Duration,
        since_fetch: Option<std::time::Duration>,
        since_change: Option<std::time::Duration>,
    ) -> bool {
        let effective_age = match since_change {
            Some(c) if c < age => c,
            _ => age,
        };
        since_fetch.is_some() && self.steps.iter().all(|(until, _)| effective_age >= *until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn an_article_past_the_ladder_is_retired_once_fetched() {
        let l = Ladder::default();
        let d = |n: u64| std::time::Duration::from_secs(n * 86_400);
        assert!(l.retired(d(91), Some(d(8)), None));
        assert!(!l.retired(d(91), None, None), "never fetched: not yet");
        assert!(!l.retired(d(89), Some(d(8)), None));
        assert!(
            !l.retired(d(91), Some(d(8)), Some(d(3))),
            "a recent change keeps it"
        );
        for age in [0, 1, 10, 60, 89, 91, 400] {
            // Retired means never due again.
            assert!(!(l.retired(d(age), Some(d(1)), None) && l.due(d(age), Some(d(1)), None)));
        }
    }

    #[test]
    fn the_revisit_ladder_decays_with_age_and_tightens_after_a_change() {
        let l = Ladder::default();
        let h = |n: u64| std::time::Duration::from_secs(n * 3600);
        let m = |n: u64| std::time::Duration::from_secs(n * 60);
        assert!(l.due(h(1), None, None), "never fetched: due");
        assert!(l.due(h(1), Some(m(1)), None), "young: every cycle");
        assert!(!l.due(h(24), Some(m(30)), None), "a day old: hourly");
        assert!(l.due(h(24), Some(m(61)), None));
        assert!(!l.due(h(24 * 10), Some(h(12)), None), "ten days: daily");
        assert!(
            l.due(h(24 * 60), Some(h(24 * 8)), None),
            "two months: weekly"
        );
        assert!(
            !l.due(h(24 * 100), Some(h(24 * 30)), None),
            "past 90 days: never"
        );
        assert!(
            l.due(h(24 * 100), Some(m(5)), Some(h(2))),
            "changed two hours ago: every cycle again"
        );
    }

    #[test]
    fn five_and_six_fields_are_accepted() {
        let five = Schedule::parse("*/15 * * * *", None).unwrap();
        assert_eq!(
            five.next_after(utc("2026-01-01T10:07:00Z")),
            Some(utc("2026-01-01T10:15:00Z"))
        );
        let six = Schedule::parse("30 */15 * * * *", None).unwrap();
        assert_eq!(
            six.next_after(utc("2026-01-01T10:07:00Z")),
            Some(utc("2026-01-01T10:15:30Z"))
        );
    }

    #[test]
    fn bad_expressions_and_zones_are_refused() {
        assert!(Schedule::parse("* * *", None).is_err());
        assert!(Schedule::parse("61 * * * *", None).is_err());
        assert!(Schedule::parse("* * * * * * * *", None).is_err());
        assert!(Schedule::parse("0 * * * *", Some("Mars/Olympus")).is_err());
    }

    // Europe/Berlin: 2026-03-29 02:00 → 03:00 (spring forward),
    // 2026-10-25 03:00 → 02:00 (fall back).
    #[test]
    fn a_job_in_the_spring_forward_gap_fires_exactly_once() {
        let s = Schedule::parse("30 2 * * *", Some("Europe/Berlin")).unwrap();
        let fired = s.firings(utc("2026-03-28T12:00:00Z"), utc("2026-03-29T12:00:00Z"));
        assert_eq!(fired.len(), 1, "{fired:?}");
        // 02:30 does not exist that day; it runs at 03:00 CEST = 01:00 UTC.
        assert_eq!(fired[0], utc("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn a_job_in_the_fall_back_overlap_fires_exactly_once() {
        let s = Schedule::parse("30 2 * * *", Some("Europe/Berlin")).unwrap();
        let fired = s.firings(utc("2026-10-24T12:00:00Z"), utc("2026-10-25T12:00:00Z"));
        assert_eq!(fired.len(), 1, "{fired:?}");
        // 02:30 happens twice; the first (CEST, UTC+2) is the one that runs.
        assert_eq!(fired[0], utc("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn hourly_jobs_keep_their_count_across_dst_days() {
        let s = Schedule::parse("0 * * * *", Some("America/New_York")).unwrap();
        // Spring forward 2026-03-08: the local day has 23 hours.
        let spring = s.firings(utc("2026-03-08T05:00:00Z"), utc("2026-03-09T04:00:00Z"));
        assert_eq!(spring.len(), 23);
        // Fall back 2026-11-01: the local day has 25 hours; every real hour fires.
        let fall = s.firings(utc("2026-11-01T04:00:00Z"), utc("2026-11-02T05:00:00Z"));
        assert_eq!(fall.len(), 25);
    }

    #[test]
    fn istanbul_has_no_dst_and_fires_daily() {
        let s = Schedule::parse("0 9 * * *", Some("Europe/Istanbul")).unwrap();
        assert_eq!(
            s.next_after(utc("2026-06-01T00:00:00Z")),
            Some(utc("2026-06-01T06:00:00Z"))
        );
    }
}

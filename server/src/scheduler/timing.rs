//! When a schedule fires: a cron expression (5 fields, or 6 with seconds
//! first; parsed by `croner`) read in an IANA time zone (`chrono-tz`).
//!
//! Daylight-saving rules, as in Vixie cron and the Open Cron Pattern
//! Specification:
//! - a time that the clock skips (spring forward) fires once, at the first
//!   valid time after the gap, for a fixed-time expression (`30 2 * * *`);
//!   an interval expression (`*/30 * * * *`, `0 * * * *`) has no fires in the
//!   gap;
//! - a time that happens twice (fall back) fires once, at its first
//!   occurrence, for a fixed-time expression; an interval expression fires
//!   at both occurrences (they are different instants).

use crate::time::Timestamp;
use app::api::FieldError;
use chrono::{DateTime, FixedOffset, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::{Cron, JobType};

/// A parsed cron expression in its time zone.
#[derive(Clone, Debug)]
pub struct Timing {
    cron: Cron,
    tz: Tz,
    interval: bool,
}

const FIELDS_5: [&str; 5] = ["minute", "hour", "day of month", "month", "day of week"];
const FIELDS_6: [&str; 6] = [
    "second",
    "minute",
    "hour",
    "day of month",
    "month",
    "day of week",
];

/// The values a field takes, by position in a 6-field expression.
const BOUNDS: [(u16, u16); 6] = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A field's value as a number: digits, or a month or weekday name.
fn value_of(text: &str, position: usize) -> Option<u16> {
    let upper = text.to_ascii_uppercase();
    let names: &[&str] = match position {
        4 => &MONTHS,
        5 => &WEEKDAYS,
        _ => &[],
    };
    let first = if position == 4 { 1 } else { 0 };
    names
        .iter()
        .position(|n| *n == upper)
        .map(|i| i as u16 + first)
        .or_else(|| text.parse().ok())
}

/// Rewrites every range that ends before it starts into the two ranges it
/// means (`22-2` → `22-23,0-2`, `FRI-MON` → `5-6,0-1`), which the parser
/// would refuse; everything else is left as written.
fn wrap_ranges(cron: &str) -> String {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let skip = match fields.len() {
        5 => 1,
        6 => 0,
        _ => return cron.trim().to_string(),
    };
    let wrapped: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let position = i + skip;
            let (min, max) = BOUNDS[position];
            let parts: Vec<String> = field
                .split(',')
                .map(|part| {
                    let Some((a, b)) = part.split_once('-') else {
                        return part.to_string();
                    };
                    match (value_of(a, position), value_of(b, position)) {
                        (Some(a), Some(b)) if a > b && a <= max && b >= min => {
                            format!("{a}-{max},{min}-{b}")
                        }
                        _ => part.to_string(),
                    }
                })
                .collect();
            parts.join(",")
        })
        .collect();
    wrapped.join(" ")
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(croner::parser::Year::Disallowed)
        .build()
}

/// Says which field of `cron` is wrong, and why.
fn locate(cron: &str, error: &croner::errors::CronError) -> String {
    if cron.trim_start().starts_with('@') {
        return format!(
            "`{}` is not a known shorthand (@yearly, @monthly, @weekly, @daily, @hourly)",
            cron.trim()
        );
    }
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let names: &[&str] = match fields.len() {
        5 => &FIELDS_5,
        6 => &FIELDS_6,
        n => {
            return format!(
                "has {n} field{}; a cron expression has 5 (minute hour day-of-month month day-of-week) \
                 or 6 (second first)",
                if n == 1 { "" } else { "s" }
            )
        }
    };
    for (i, field) in fields.iter().enumerate() {
        let mut alone = vec!["*"; fields.len()];
        alone[i] = field;
        if let Err(e) = parser().parse(&alone.join(" ")) {
            let why = match e {
                croner::errors::CronError::ComponentError(m)
                | croner::errors::CronError::IllegalCharacters(m)
                | croner::errors::CronError::InvalidPattern(m) => m,
                other => other.to_string(),
            };
            return format!(
                "field {} ({}) `{field}`: {}",
                i + 1,
                names[i],
                why.trim_end_matches('.')
            );
        }
    }
    error.to_string()
}

impl Timing {
    /// Parses `cron` in `timezone`; the errors name the field (`cron` or
    /// `timezone`) and, for the expression, which of its fields is wrong.
    pub fn parse(cron: &str, timezone: &str) -> Result<Timing, Vec<FieldError>> {
        let cron = &wrap_ranges(cron);
        let mut errors = Vec::new();
        let tz = timezone.parse::<Tz>().map_err(|_| {
            errors.push(FieldError::new(
                "timezone",
                "unknown",
                format!("`{timezone}` is not an IANA time zone such as `Europe/Berlin` or `UTC`"),
            ))
        });
        let parsed = if cron.trim().is_empty() {
            errors.push(FieldError::new(
                "cron",
                "required",
                "a cron expression such as `0 6 * * *`",
            ));
            None
        } else {
            match parser().parse(cron) {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.push(FieldError::new("cron", "invalid", locate(cron, &e)));
                    None
                }
            }
        };
        let (Some(cron_value), Ok(tz)) = (parsed, tz) else {
            return Err(errors);
        };
        let interval = cron_value.determine_job_type() != JobType::FixedTime;
        let timing = Timing {
            cron: cron_value,
            tz,
            interval,
        };
        if timing.next_after(Utc::now()).is_none() {
            return Err(vec![FieldError::new(
                "cron",
                "never",
                format!(
                    "`{}` never matches a date (such as 30 February)",
                    cron.trim()
                ),
            )]);
        }
        Ok(timing)
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The expression in words, such as "At 06:00, on Monday …".
    pub fn describe(&self) -> String {
        self.cron.describe()
    }

    fn offset_at(&self, t: DateTime<Utc>) -> FixedOffset {
        self.tz.offset_from_utc_datetime(&t.naive_utc()).fix()
    }

    /// The first fire strictly after `t`; `None` when there is none.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Fires fall on whole seconds, whatever fraction `t` has.
        let whole = t.with_nanosecond(0).unwrap_or(t);
        let zoned = self
            .cron
            .find_next_occurrence(&whole.with_timezone(&self.tz), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
            .filter(|d| *d > t);
        if !self.interval {
            return zoned;
        }
        // `croner` walks local wall-clock time, so after the first pass
        // through a repeated hour it does not see the second one. Interval
        // expressions fire in both: look for the next match under each UTC
        // offset in play, keeping a match only where the zone really has
        // that offset.
        let mut offsets = vec![self.offset_at(t)];
        if let Some(z) = zoned {
            offsets.push(self.offset_at(z));
        }
        let fixed = offsets.into_iter().filter_map(|offset| {
            self.cron
                .find_next_occurrence(&whole.with_timezone(&offset), false)
                .ok()
                .map(|d| d.with_timezone(&Utc))
                .filter(|d| *d > t && self.offset_at(*d) == offset)
        });
        zoned.into_iter().chain(fixed).min()
    }

    /// The fires in `(after, until]`, oldest first, at most `limit`; and
    /// whether there were more (the newest are kept when `newest` is set).
    pub fn fires_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
        newest: bool,
    ) -> (Vec<DateTime<Utc>>, bool) {
        let mut fires = std::collections::VecDeque::new();
        let mut more = false;
        let mut t = after;
        while let Some(next) = self.next_after(t).filter(|n| *n <= until) {
            if fires.len() == limit {
                more = true;
                if !newest {
                    break;
                }
                fires.pop_front();
            }
            fires.push_back(next);
            t = next;
        }
        (fires.into(), more)
    }

    /// The last fire strictly before `t`, looked for up to five years back.
    pub fn previous_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let until = t - chrono::Duration::milliseconds(1);
        [1, 24, 24 * 8, 24 * 32, 24 * 367, 24 * 366 * 5]
            .into_iter()
            .find_map(|hours| {
                let (fires, _) =
                    self.fires_between(t - chrono::Duration::hours(hours), until, 1, true);
                fires.last().copied()
            })
    }

    /// The next `n` fires after `t`.
    pub fn upcoming(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut t = t;
        while out.len() < n {
            let Some(next) = self.next_after(t) else {
                break;
            };
            out.push(next);
            t = next;
        }
        out
    }

    /// `t` as local time in the schedule's zone, with its offset.
    pub fn local(&self, t: DateTime<Utc>) -> String {
        Timestamp::from(t).in_zone(&self.tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn fires(cron: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
        Timing::parse(cron, tz)
            .unwrap()
            .upcoming(utc(from), n)
            .into_iter()
            .map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string())
            .collect()
    }

    #[test]
    fn ranges_that_end_before_they_start_wrap() {
        assert_eq!(wrap_ranges("0 22-2 * * FRI-MON"), "0 22-23,0-2 * * 5-6,0-1");
        assert_eq!(
            wrap_ranges(" 0 0 28-3 NOV-FEB * "),
            "0 0 28-31,1-3 11-12,1-2 *"
        );
        assert_eq!(
            wrap_ranges("1-5/2 9-17 * * MON-FRI"),
            "1-5/2 9-17 * * MON-FRI"
        );
        assert_eq!(
            fires("0 23-1 * * *", "UTC", "2026-06-01T12:00:00Z", 3),
            [
                "2026-06-01T23:00Z",
                "2026-06-02T00:00Z",
                "2026-06-02T01:00Z"
            ]
        );
        // Friday 2026-06-05 to Monday 2026-06-08.
        assert_eq!(
            fires("0 6 * * FRI-MON", "UTC", "2026-06-02T12:00:00Z", 4),
            [
                "2026-06-05T06:00Z",
                "2026-06-06T06:00Z",
                "2026-06-07T06:00Z",
                "2026-06-08T06:00Z"
            ]
        );
    }

    proptest::proptest! {
        /// What the OpenAPI document promises: every expression its
        /// pattern admits parses, in every documented zone; the only refusal
        /// left is an expression that never matches a date.
        #[test]
        fn every_documented_expression_parses(
            cron in proptest::string::string_regex(
                app::api::timing::cron_pattern().trim_start_matches('^').trim_end_matches('$'),
            ).unwrap(),
            zone in proptest::sample::select(chrono_tz::TZ_VARIANTS.to_vec()),
        ) {
            if let Err(errors) = Timing::parse(&cron, zone.name()) {
                proptest::prop_assert!(
                    errors.iter().all(|e| e.field == "cron" && e.code == "never"),
                    "{cron:?} in {}: {errors:?}", zone.name()
                );
            }
        }
    }

    #[test]
    fn berlin_fixed_time_spring_forward_fires_once_after_the_gap() {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
        assert_eq!(
            fires("30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", 3),
            [
                "2026-03-28T01:30Z", // 02:30 CET
                "2026-03-29T01:00Z", // 03:00 CEST, first time after the gap
                "2026-03-30T00:30Z", // 02:30 CEST
            ]
        );
    }

    #[test]
    fn berlin_fixed_time_fall_back_fires_once() {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
        assert_eq!(
            fires("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T00:30Z", "2026-10-26T01:30Z"]
        );
    }

    #[test]
    fn new_york_interval_fall_back_fires_in_both_hours() {
        // 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:00–01:59 happen twice.
        assert_eq!(
            fires(
                "*/30 * * * *",
                "America/New_York",
                "2026-11-01T04:40:00Z",
                6
            ),
            [
                "2026-11-01T05:00Z", // 01:00 EDT
                "2026-11-01T05:30Z", // 01:30 EDT
                "2026-11-01T06:00Z", // 01:00 EST
                "2026-11-01T06:30Z", // 01:30 EST
                "2026-11-01T07:00Z", // 02:00 EST
                "2026-11-01T07:30Z",
            ]
        );
        // From inside the repeated hour (the schedule's cursor after a restart).
        assert_eq!(
            fires(
                "*/30 * * * *",
                "America/New_York",
                "2026-11-01T06:00:00Z",
                2
            ),
            ["2026-11-01T06:30Z", "2026-11-01T07:00Z"]
        );
    }

    #[test]
    fn new_york_interval_spring_forward_skips_the_missing_hour() {
        // 2026-03-08: 02:00 EST becomes 03:00 EDT.
        assert_eq!(
            fires("0 * * * *", "America/New_York", "2026-03-08T05:10:00Z", 3),
            [
                "2026-03-08T06:00Z", // 01:00 EST
                "2026-03-08T07:00Z", // 03:00 EDT
                "2026-03-08T08:00Z",
            ]
        );
        // A daily 02:15 fires at 03:00 EDT that day, then at 02:15 again.
        assert_eq!(
            fires("15 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 3),
            [
                "2026-03-08T07:00Z",
                "2026-03-09T06:15Z",
                "2026-03-10T06:15Z"
            ]
        );
    }

    #[test]
    fn fall_back_hour_of_fixed_minute_interval_job_in_berlin() {
        // `0 * * * *` is an interval job (every hour): both 02:00s fire.
        assert_eq!(
            fires("0 * * * *", "Europe/Berlin", "2026-10-24T23:30:00Z", 4),
            [
                "2026-10-25T00:00Z", // 02:00 CEST
                "2026-10-25T01:00Z", // 02:00 CET
                "2026-10-25T02:00Z", // 03:00 CET
                "2026-10-25T03:00Z",
            ]
        );
    }

    #[test]
    fn seconds_field_and_weekdays() {
        assert_eq!(
            fires("*/20 * * * * *", "UTC", "2026-11-26T12:00:00Z", 3).len(),
            3
        );
        let t = Timing::parse("*/20 * * * * *", "UTC").unwrap();
        assert_eq!(
            t.upcoming(utc("2026-11-26T12:00:00Z"), 2),
            [utc("2026-11-26T12:00:20Z"), utc("2026-11-26T12:00:40Z")]
        );
        assert_eq!(
            t.upcoming(utc("2026-11-26T12:00:40.573Z"), 2),
            [utc("2026-11-26T12:01:00Z"), utc("2026-11-26T12:01:20Z")],
            "whole seconds, whatever the fraction of the start"
        );
        assert_eq!(
            fires("0 6 * * 1-5", "Europe/Berlin", "2026-11-27T12:00:00Z", 1),
            ["2026-11-30T05:00Z"] // Friday noon → Monday 06:00 CET
        );
    }

    #[test]
    fn errors_name_the_field_and_the_part() {
        let err = |cron: &str, tz: &str| Timing::parse(cron, tz).unwrap_err();
        let e = err("61 * * * *", "UTC");
        assert_eq!(
            (e[0].field.as_str(), e[0].code.as_str()),
            ("cron", "invalid")
        );
        assert!(
            e[0].message.starts_with("field 1 (minute) `61`"),
            "{}",
            e[0].message
        );
        let e = err("0 0 32 * *", "UTC");
        assert!(
            e[0].message.starts_with("field 3 (day of month) `32`"),
            "{}",
            e[0].message
        );
        let e = err("0 0 * * * * *", "UTC");
        assert!(e[0].message.contains("has 7 fields"), "{}", e[0].message);
        let e = err("0 0 30 2 *", "UTC");
        assert_eq!(e[0].code, "never");
        let e = err("nonsense", "Mars/Olympus");
        let fields: Vec<_> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["timezone", "cron"]);
    }

    #[test]
    fn catch_up_windows_keep_the_oldest_or_the_newest() {
        let t = Timing::parse("*/10 * * * *", "UTC").unwrap();
        let (oldest, more) = t.fires_between(
            utc("2026-11-26T10:00:00Z"),
            utc("2026-11-26T11:00:00Z"),
            3,
            false,
        );
        assert!(more);
        assert_eq!(oldest[0], utc("2026-11-26T10:10:00Z"));
        let (newest, more) = t.fires_between(
            utc("2026-11-26T10:00:00Z"),
            utc("2026-11-26T11:00:00Z"),
            3,
            true,
        );
        assert!(more);
        assert_eq!(
            newest,
            [
                utc("2026-11-26T10:40:00Z"),
                utc("2026-11-26T10:50:00Z"),
                utc("2026-11-26T11:00:00Z")
            ]
        );
        let (all, more) = t.fires_between(
            utc("2026-11-26T10:00:00Z"),
            utc("2026-11-26T10:30:00Z"),
            10,
            true,
        );
        assert!(!more);
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn fires_are_shown_in_the_zone_with_its_offset() {
        let t = Timing::parse("0 6 * * *", "Europe/Berlin").unwrap();
        assert_eq!(
            t.local(utc("2026-03-29T04:00:00.250Z")),
            "2026-03-29T06:00:00+02:00"
        );
        assert_eq!(
            t.local(utc("2026-11-30T05:00:00Z")),
            "2026-11-30T06:00:00+01:00"
        );
    }
}

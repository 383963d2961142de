//! The one way Trellis writes a point in time: UTC, RFC 3339 with
//! milliseconds and a `Z` (`2026-11-30T03:08:06.123Z`). Stored as text in
//! both databases, so text order is time order.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use std::fmt;

/// A point in time as Trellis stores and sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self(Utc::now())
    }

    /// The time `by` before now (a staleness or idleness cut-off).
    pub fn ago(by: chrono::Duration) -> Self {
        Self(Utc::now() - by)
    }

    /// The time `by` after now (an expiry).
    pub fn in_future(by: chrono::Duration) -> Self {
        Self(Utc::now() + by)
    }

    /// Parses any RFC 3339 text (as stored, or from a client).
    pub fn parse(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Self(t.with_timezone(&Utc)))
    }

    pub fn as_datetime(self) -> DateTime<Utc> {
        self.0
    }

    /// The wall-clock time in `zone`, to the second, with its offset
    /// (`2026-03-29T03:00:00+02:00`): how a schedule shows its fires to
    /// people, never how a time is stored.
    pub fn in_zone<Z: TimeZone>(self, zone: &Z) -> String
    where
        Z::Offset: fmt::Display,
    {
        self.0
            .with_timezone(zone)
            .to_rfc3339_opts(SecondsFormat::Secs, false)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self(at)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_with_milliseconds_in_utc_and_parsed_back() {
        let at = Timestamp::parse("2026-03-29T03:00:00+02:00").unwrap();
        assert_eq!(at.to_string(), "2026-03-29T01:00:00.000Z");
        assert_eq!(Timestamp::parse(&at.to_string()), Some(at));
        assert_eq!(Timestamp::parse("yesterday"), None);
    }

    #[test]
    fn shown_in_a_zone_to_the_second_with_its_offset() {
        let at = Timestamp::parse("2026-03-29T01:00:00.456Z").unwrap();
        let berlin = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
        assert_eq!(at.in_zone(&berlin), "2026-03-29T03:00:00+02:00");
        assert_eq!(at.in_zone(&Utc), "2026-03-29T01:00:00+00:00");
    }

    #[test]
    fn text_order_is_time_order() {
        let a = Timestamp::parse("2026-01-01T09:59:59.999Z").unwrap();
        let b = Timestamp::parse("2026-01-01T10:00:00Z").unwrap();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }
}

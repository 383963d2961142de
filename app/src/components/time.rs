//! How pages show the API's times (RFC 3339, such as
//! `2024-03-01T10:00:00.123Z`) and durations.

/// `2024-03-01T10:00:00.123Z` as `2024-03-01 10:00`.
pub fn minutes(at: &str) -> String {
    at.get(..16).unwrap_or(at).replace('T', " ")
}

/// `2024-03-01T10:00:00.123Z` as `2024-03-01 10:00:00`.
pub fn seconds(at: &str) -> String {
    at.get(..19).unwrap_or(at).replace('T', " ")
}

/// The whole time with a space for the `T`, such as a local time with its
/// offset: `2024-03-01 07:00:00+01:00`.
pub fn spaced(at: &str) -> String {
    at.replace('T', " ")
}

/// The time of day to the millisecond: `10:00:00.123`.
pub fn clock(at: &str) -> &str {
    at.get(11..23).unwrap_or(at)
}

/// A duration: `850 ms`, `12.5 s`.
pub fn duration(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// Milliseconds since the epoch of an RFC 3339 UTC time such as
/// `2024-03-01T10:00:00.123Z` (what the API sends).
pub fn epoch_ms(at: &str) -> Option<f64> {
    let num = |r: std::ops::Range<usize>| at.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, min, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac: f64 = at
        .get(19..)
        .and_then(|rest| rest.strip_prefix('.'))
        .map(|rest| rest.trim_end_matches('Z'))
        .and_then(|digits| format!("0.{digits}").parse().ok())
        .unwrap_or(0.0);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3_600 + min * 60 + s) as f64 + frac) * 1000.0)
}

/// The UTC day (`2026-11-30`) of an epoch time in milliseconds.
pub fn day_of(ms: f64) -> Option<String> {
    // Civil date from days (Howard Hinnant's algorithm).
    let z = (ms / 86_400_000.0).floor() as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (0..=9999)
        .contains(&y)
        .then(|| format!("{y:04}-{m:02}-{d:02}"))
}

/// An epoch time in milliseconds as the API writes times:
/// `2026-11-30T04:05:06.250Z`.
pub fn iso_of(ms: f64) -> Option<String> {
    let day = day_of(ms)?;
    let ms = ms.floor() as i64;
    let of_day = ms.rem_euclid(86_400_000);
    Some(format!(
        "{day}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day % 3_600_000 / 60_000,
        of_day % 60_000 / 1000,
        of_day % 1000
    ))
}

/// The browser's clock, in milliseconds since the epoch.
pub fn now_ms() -> Option<f64> {
    #[cfg(target_arch = "wasm32")]
    {
        Some(web_sys::js_sys::Date::now())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_times_become_epoch_milliseconds() {
        assert_eq!(epoch_ms("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            epoch_ms("2024-03-01T10:00:00.250Z"),
            Some(1_709_287_200_250.0)
        );
        assert_eq!(epoch_ms("2000-02-29T00:00:01Z"), Some(951_782_401_000.0));
        assert_eq!(epoch_ms("nonsense"), None);
    }

    #[test]
    fn epoch_milliseconds_become_days_and_api_times() {
        assert_eq!(day_of(0.0).as_deref(), Some("1970-01-01"));
        let at = epoch_ms("2024-02-29T23:59:58.250Z").unwrap();
        assert_eq!(day_of(at).as_deref(), Some("2024-02-29"));
        assert_eq!(iso_of(at).as_deref(), Some("2024-02-29T23:59:58.250Z"));
        assert_eq!(epoch_ms(&iso_of(at).unwrap()), Some(at));
    }

    #[test]
    fn times_and_durations_read_as_people_write_them() {
        let at = "2024-03-01T10:00:00.123Z";
        assert_eq!(minutes(at), "2024-03-01 10:00");
        assert_eq!(seconds(at), "2024-03-01 10:00:00");
        assert_eq!(clock(at), "10:00:00.123");
        assert_eq!(
            spaced("2024-03-01T07:00:00+01:00"),
            "2024-03-01 07:00:00+01:00"
        );
        assert_eq!(minutes("soon"), "soon");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_500), "12.5 s");
    }
}

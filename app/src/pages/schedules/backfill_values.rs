//! The backfill form's values as text and what they become: the request,
//! the preview's words, and a backfill's progress. Pure, so tests drive it
//! without a browser.

use crate::api::backfills::{Backfill, BackfillOrder, BackfillPreview, NewBackfill};
use crate::components::time;
use serde_json::{Map, Value};

/// The form's fields as the user sees and types them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackfillValues {
    /// The first and last day of the range (`2026-10-01`), read in UTC.
    pub start_day: String,
    pub end_day: String,
    /// Empty: the process's schedule's.
    pub cron: String,
    pub timezone: String,
    /// A version number, or empty for the latest.
    pub version: String,
    pub max_active_runs: String,
    pub order: String,
}

/// The fields the form shows a problem of next to them; the params'
/// problems go next to their own inputs and anything else above the button.
pub const FIELDS: [&str; 7] = [
    "start",
    "end",
    "cron",
    "timezone",
    "version",
    "max_active_runs",
    "order",
];

impl BackfillValues {
    /// The request, once both days are chosen: 00:00:00 of the first day to
    /// 23:59:59 of the last, UTC. What only the server can judge is left to
    /// it: an unreadable count goes as 0, which it refuses by name.
    pub fn request(&self, params: Map<String, Value>) -> Option<NewBackfill> {
        let (start, end) = (self.start_day.trim(), self.end_day.trim());
        if start.is_empty() || end.is_empty() {
            return None;
        }
        let given = |text: &str| (!text.trim().is_empty()).then(|| text.trim().to_owned());
        Some(NewBackfill {
            start: format!("{start}T00:00:00Z"),
            end: format!("{end}T23:59:59Z"),
            cron: given(&self.cron),
            timezone: given(&self.timezone),
            version: self.version.trim().parse().ok(),
            params,
            max_active_runs: self.max_active_runs.trim().parse().unwrap_or(0),
            order: self.order.parse().unwrap_or(BackfillOrder::OldestFirst),
            dry_run: false,
        })
    }
}

/// What a dry run found, in a line: "31 runs of version 2, 2026-10-01 06:00
/// … 2026-10-31 06:00, Europe/Berlin" (the fires in the zone's local time).
pub fn preview_words(p: &BackfillPreview) -> String {
    let range = if p.runs == 1 {
        time::minutes(&p.first_local)
    } else {
        format!(
            "{} … {}",
            time::minutes(&p.first_local),
            time::minutes(&p.last_local)
        )
    };
    let runs = if p.runs == 1 { "run" } else { "runs" };
    format!(
        "{} {runs} of version {}, {range}, {}",
        p.runs, p.version, p.timezone
    )
}

/// A backfill's fires by where they are, out of `total`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Started and not ended yet (queued, running or being cancelled).
    pub active: i64,
    /// Not started yet.
    pub waiting: i64,
    /// Cancelled runs and fires that will never start.
    pub cancelled: i64,
}

impl Progress {
    pub fn of(b: &Backfill) -> Progress {
        let n = |state: &str| b.runs.get(state).copied().unwrap_or(0);
        Progress {
            total: b.total,
            succeeded: n("succeeded"),
            failed: n("failed"),
            active: n("queued") + n("running") + n("cancelling"),
            waiting: b.pending,
            cancelled: n("cancelled") + b.cancelled_before_start,
        }
    }

    /// Fires that are through, whichever way.
    pub fn ended(&self) -> i64 {
        self.succeeded + self.failed + self.cancelled
    }

    /// The bar's segments: (class, count), the empty ones left out.
    pub fn segments(&self) -> Vec<(&'static str, i64)> {
        [
            ("succeeded", self.succeeded),
            ("failed", self.failed),
            ("running", self.active),
            ("cancelled", self.cancelled),
            ("waiting", self.waiting),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }

    /// "2 of 31 succeeded, 1 failed, 3 running, 25 waiting".
    pub fn label(&self) -> String {
        let mut out = format!("{} of {} succeeded", self.succeeded, self.total);
        for (what, n) in [
            ("failed", self.failed),
            ("running", self.active),
            ("waiting", self.waiting),
            ("cancelled", self.cancelled),
        ] {
            if n > 0 {
                out.push_str(&format!(", {n} {what}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::backfills::BackfillState;
    use serde_json::json;

    fn days(start: &str, end: &str) -> BackfillValues {
        BackfillValues {
            start_day: start.into(),
            end_day: end.into(),
            max_active_runs: "1".into(),
            order: "oldest_first".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_days_cover_the_first_to_the_last_whole_utc_day() {
        assert_eq!(days("", "2026-10-03").request(Map::new()), None);
        assert_eq!(days("2026-10-01", " ").request(Map::new()), None);
        let params = json!({"region": "EU"}).as_object().unwrap().clone();
        let r = days("2026-10-01", "2026-10-03")
            .request(params.clone())
            .unwrap();
        assert_eq!(r.start, "2026-10-01T00:00:00Z");
        assert_eq!(r.end, "2026-10-03T23:59:59Z");
        assert_eq!(r.params, params);
        assert_eq!(r.max_active_runs, 1);
        assert_eq!(r.order, BackfillOrder::OldestFirst);
        assert!(!r.dry_run);
    }

    #[test]
    fn blank_cron_zone_and_version_are_left_to_the_schedule_and_the_latest() {
        let blank = days("2026-10-01", "2026-10-01")
            .request(Map::new())
            .unwrap();
        assert_eq!(
            (blank.cron, blank.timezone, blank.version),
            (None, None, None)
        );
        let given = BackfillValues {
            cron: " 0 6 * * * ".into(),
            timezone: "Europe/Berlin".into(),
            version: "3".into(),
            max_active_runs: " 5 ".into(),
            order: "newest_first".into(),
            ..days("2026-10-01", "2026-10-01")
        }
        .request(Map::new())
        .unwrap();
        assert_eq!(given.cron.as_deref(), Some("0 6 * * *"));
        assert_eq!(given.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(given.version, Some(3));
        assert_eq!(given.max_active_runs, 5);
        assert_eq!(given.order, BackfillOrder::NewestFirst);
        // An unreadable count goes as 0, which the server refuses by name.
        let odd = BackfillValues {
            max_active_runs: "lots".into(),
            ..days("2026-10-01", "2026-10-01")
        };
        assert_eq!(odd.request(Map::new()).unwrap().max_active_runs, 0);
    }

    #[test]
    fn the_preview_reads_as_a_sentence_in_the_zone() {
        let mut p = BackfillPreview {
            runs: 31,
            first: "2026-10-01T04:00:00Z".into(),
            last: "2026-10-31T05:00:00Z".into(),
            first_local: "2026-10-01T06:00:00+02:00".into(),
            last_local: "2026-10-31T06:00:00+01:00".into(),
            cron: "0 6 * * *".into(),
            timezone: "Europe/Berlin".into(),
            version: 2,
        };
        assert_eq!(
            preview_words(&p),
            "31 runs of version 2, 2026-10-01 06:00 … 2026-10-31 06:00, Europe/Berlin"
        );
        p.runs = 1;
        assert_eq!(
            preview_words(&p),
            "1 run of version 2, 2026-10-01 06:00, Europe/Berlin"
        );
    }

    fn backfill(runs: serde_json::Value, pending: i64, never: i64, total: i64) -> Backfill {
        Backfill {
            id: "b1".into(),
            process: "p1".into(),
            start: "2026-10-01T00:00:00.000Z".into(),
            end: "2026-10-31T23:59:59.000Z".into(),
            cron: "0 6 * * *".into(),
            timezone: "UTC".into(),
            version: 1,
            params: Map::new(),
            max_active_runs: 2,
            order: BackfillOrder::OldestFirst,
            state: BackfillState::Running,
            created_by: Some("admin".into()),
            created_at: "2026-11-30T06:00:00.000Z".into(),
            total,
            pending,
            cancelled_before_start: never,
            runs: serde_json::from_value(runs).unwrap(),
        }
    }

    #[test]
    fn progress_counts_every_fire_once() {
        let b = backfill(
            json!({"succeeded": 2, "failed": 1, "running": 1, "queued": 1, "cancelled": 1}),
            20,
            5,
            31,
        );
        let p = Progress::of(&b);
        assert_eq!(
            p.succeeded + p.failed + p.active + p.waiting + p.cancelled,
            p.total
        );
        assert_eq!(p.ended(), 9);
        assert_eq!(
            p.label(),
            "2 of 31 succeeded, 1 failed, 2 running, 20 waiting, 6 cancelled"
        );
        assert_eq!(
            p.segments(),
            vec![
                ("succeeded", 2),
                ("failed", 1),
                ("running", 2),
                ("cancelled", 6),
                ("waiting", 20)
            ]
        );
    }

    #[test]
    fn a_finished_backfill_says_only_what_happened() {
        let p = Progress::of(&backfill(json!({"succeeded": 3}), 0, 0, 3));
        assert_eq!(p.label(), "3 of 3 succeeded");
        assert_eq!(p.ended(), 3);
        assert_eq!(p.segments(), vec![("succeeded", 3)]);
        let fresh = Progress::of(&backfill(json!({}), 3, 0, 3));
        assert_eq!(fresh.label(), "0 of 3 succeeded, 3 waiting");
        assert_eq!(fresh.ended(), 0);
    }
}

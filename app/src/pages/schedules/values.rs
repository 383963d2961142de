//! The schedule form's values as text, and the conversions between them and
//! the schedule the server stores. Pure, so tests drive it without a browser.

use crate::api::schedules::{Catchup, Schedule, ScheduleInput, WhenBusy};
use crate::api::FieldError;

/// What `PUT` takes to store `s` again.
pub fn input_of(s: &Schedule) -> ScheduleInput {
    ScheduleInput {
        cron: s.cron.clone(),
        timezone: s.timezone.clone(),
        enabled: s.enabled,
        version: s.version,
        params: s.params.clone(),
        catchup: s.catchup,
        max_active_runs: s.max_active_runs,
        when_busy: s.when_busy,
    }
}

/// What a process without a schedule starts from.
pub fn defaults() -> ScheduleInput {
    ScheduleInput {
        cron: "0 6 * * *".into(),
        timezone: "UTC".into(),
        enabled: true,
        version: None,
        params: Default::default(),
        catchup: Catchup::None,
        max_active_runs: 1,
        when_busy: WhenBusy::Skip,
    }
}

/// The form's fields as the user sees and types them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Values {
    pub cron: String,
    pub timezone: String,
    pub enabled: bool,
    /// A version number, or empty for the latest.
    pub version: String,
    /// A JSON object.
    pub params: String,
    pub catchup: String,
    pub max_active_runs: String,
    pub when_busy: String,
}

impl Values {
    /// `s` as the form shows it.
    pub fn of(s: &ScheduleInput) -> Values {
        Values {
            cron: s.cron.clone(),
            timezone: s.timezone.clone(),
            enabled: s.enabled,
            version: s.version.map(|v| v.to_string()).unwrap_or_default(),
            params: serde_json::to_string_pretty(&s.params).unwrap_or_else(|_| "{}".into()),
            catchup: s.catchup.as_str().into(),
            max_active_runs: s.max_active_runs.to_string(),
            when_busy: s.when_busy.as_str().into(),
        }
    }

    /// The request, or the field errors the browser can tell by itself. What
    /// only the server can judge (the expression, the zone, the count's
    /// range) is left to it: an unreadable count goes as 0, which it refuses.
    pub fn input(self) -> Result<ScheduleInput, Vec<FieldError>> {
        let params = match serde_json::from_str::<serde_json::Value>(&self.params) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                return Err(vec![FieldError::new(
                    "params",
                    "json",
                    "a JSON object, such as {\"day\": \"today\"}",
                )])
            }
        };
        Ok(ScheduleInput {
            cron: self.cron,
            timezone: self.timezone,
            enabled: self.enabled,
            version: self.version.parse().ok(),
            params,
            catchup: self.catchup.parse().unwrap_or(Catchup::None),
            max_active_runs: self.max_active_runs.trim().parse().unwrap_or(0),
            when_busy: self.when_busy.parse().unwrap_or(WhenBusy::Skip),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pinned() -> ScheduleInput {
        ScheduleInput {
            cron: "30 2 * * 1-5".into(),
            timezone: "Europe/Berlin".into(),
            enabled: false,
            version: Some(3),
            params: json!({"day": "today", "n": 2}).as_object().unwrap().clone(),
            catchup: Catchup::All,
            max_active_runs: 4,
            when_busy: WhenBusy::Queue,
        }
    }

    #[test]
    fn the_defaults_show_as_the_form_starts() {
        let v = Values::of(&defaults());
        assert_eq!(
            v,
            Values {
                cron: "0 6 * * *".into(),
                timezone: "UTC".into(),
                enabled: true,
                version: String::new(),
                params: "{}".into(),
                catchup: "none".into(),
                max_active_runs: "1".into(),
                when_busy: "skip".into(),
            }
        );
        assert_eq!(v.input(), Ok(defaults()));
    }

    #[test]
    fn a_schedule_comes_back_from_the_form_as_it_went_in() {
        let v = Values::of(&pinned());
        assert_eq!(v.version, "3");
        assert_eq!(v.catchup, "all");
        assert_eq!(v.when_busy, "queue");
        assert!(v.params.contains("\n"), "pretty-printed: {}", v.params);
        assert_eq!(v.input(), Ok(pinned()));
    }

    #[test]
    fn a_stored_schedule_is_saved_again_unchanged() {
        let s: Schedule = serde_json::from_value(json!({
            "process": "p1", "process_name": "Daily", "cron": "30 2 * * 1-5",
            "timezone": "Europe/Berlin", "enabled": false, "version": 3,
            "params": {"day": "today", "n": 2}, "catchup": "all",
            "max_active_runs": 4, "when_busy": "queue", "description": "",
            "next_fires": [], "next_fires_local": [], "recent_fires": [],
            "updated_at": "2026-01-01T00:00:00Z", "updated_by": null,
        }))
        .unwrap();
        assert_eq!(input_of(&s), pinned());
        assert_eq!(Values::of(&input_of(&s)).input(), Ok(pinned()));
    }

    #[test]
    fn params_must_be_a_json_object() {
        for params in ["[1, 2]", "{\"day\":", "", "\"today\""] {
            let v = Values {
                params: params.into(),
                ..Values::of(&defaults())
            };
            let errors = v.input().unwrap_err();
            assert_eq!(errors.len(), 1, "{params}");
            assert_eq!(errors[0].field, "params");
            assert_eq!(errors[0].code, "json");
            assert!(errors[0].message.contains("JSON object"));
        }
    }

    #[test]
    fn text_the_browser_cannot_read_is_left_to_the_server() {
        let typed = |max: &str, version: &str, catchup: &str, when_busy: &str| {
            Values {
                max_active_runs: max.into(),
                version: version.into(),
                catchup: catchup.into(),
                when_busy: when_busy.into(),
                ..Values::of(&defaults())
            }
            .input()
            .unwrap()
        };
        let spaced = typed(" 7 ", "12", "latest", "queue");
        assert_eq!(spaced.max_active_runs, 7);
        assert_eq!(spaced.version, Some(12));
        assert_eq!(spaced.catchup, Catchup::Latest);
        assert_eq!(spaced.when_busy, WhenBusy::Queue);
        // An unreadable count goes out as 0, which the server refuses by name.
        let odd = typed("many", "", "sometimes", "never");
        assert_eq!(odd.max_active_runs, 0);
        assert_eq!(odd.version, None);
        assert_eq!(odd.catchup, Catchup::None);
        assert_eq!(odd.when_busy, WhenBusy::Skip);
    }
}

//! The schedule form's values as text, and the conversions between them and
//! the schedule the server stores; the run parameters' texts from the
//! version's declarations. Pure, so tests drive it without a browser.

use crate::api::schedules::{Catchup, Schedule, ScheduleInput, WhenBusy};
use crate::api::FieldError;
use crate::components::param_input::{parse_value, text_of};
use crate::ordered::CollectOrdered;
use crate::types::params::ProcessParam;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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

/// The form's fields as the user sees and types them; the run parameters
/// have their own inputs, made from the version's declarations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Values {
    pub cron: String,
    pub timezone: String,
    pub enabled: bool,
    /// A version number, or empty for the latest.
    pub version: String,
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
            catchup: s.catchup.as_str().into(),
            max_active_runs: s.max_active_runs.to_string(),
            when_busy: s.when_busy.as_str().into(),
        }
    }

    /// The request with `params`. What only the server can judge (the
    /// expression, the zone, the count's range, the parameters' values) is
    /// left to it: an unreadable count goes as 0, which it refuses by name.
    pub fn input(self, params: Map<String, Value>) -> ScheduleInput {
        ScheduleInput {
            cron: self.cron,
            timezone: self.timezone,
            enabled: self.enabled,
            version: self.version.parse().ok(),
            params,
            catchup: self.catchup.parse().unwrap_or(Catchup::None),
            max_active_runs: self.max_active_runs.trim().parse().unwrap_or(0),
            when_busy: self.when_busy.parse().unwrap_or(WhenBusy::Skip),
        }
    }
}

/// The texts the parameter inputs show: the value given before (the stored
/// schedule's), else the declared default.
pub fn param_texts(
    declared: &[ProcessParam],
    given: &Map<String, Value>,
) -> BTreeMap<String, String> {
    declared
        .iter()
        .map(|p| {
            let value = given.get(&p.name).or(p.default.as_ref());
            (p.name.clone(), text_of(value))
        })
        .collect_map()
}

/// What the schedule stores for the inputs' texts: the values that are set
/// and differ from the declared default, so a value left at its default
/// follows the default of whichever version runs. Text that does not parse
/// goes as text, for the server to name.
pub fn params_to_save(
    declared: &[ProcessParam],
    texts: &BTreeMap<String, String>,
) -> Map<String, Value> {
    declared
        .iter()
        .filter_map(|p| {
            let value = parse_value(p.kind, texts.get(&p.name)?)?;
            (Some(&value) != p.default.as_ref()).then(|| (p.name.clone(), value))
        })
        .collect_map()
}

/// The names the stored schedule gives that the version does not declare:
/// saving leaves them out (the server would refuse them).
pub fn undeclared(declared: &[ProcessParam], given: &Map<String, Value>) -> Vec<String> {
    let mut names: Vec<String> = given
        .keys()
        .filter(|name| !declared.iter().any(|p| &p.name == *name))
        .cloned()
        .collect();
    names.sort();
    names
}

/// The parameter problems no input shows: those of `params` itself and of
/// names the version does not declare.
pub fn unplaced(declared: &[ProcessParam], errors: &[FieldError]) -> Vec<FieldError> {
    errors
        .iter()
        .filter(|e| match e.field.strip_prefix("params.") {
            Some(name) => !declared.iter().any(|p| p.name == name),
            None => e.field == "params",
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::params::ParamType;
    use serde_json::json;

    fn pinned() -> ScheduleInput {
        ScheduleInput {
            cron: "30 2 * * 1-5".into(),
            timezone: "Europe/Berlin".into(),
            enabled: false,
            version: Some(3),
            params: object(json!({"day": "2026-10-01", "n": 2})),
            catchup: Catchup::All,
            max_active_runs: 4,
            when_busy: WhenBusy::Queue,
        }
    }

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn param(name: &str, kind: ParamType, default: Option<Value>) -> ProcessParam {
        ProcessParam {
            name: name.into(),
            kind,
            values: Vec::new(),
            default,
            required: false,
            description: String::new(),
        }
    }

    /// What `pinned()` runs: `day` (a date) and `n` (an integer, default 1).
    fn declared() -> Vec<ProcessParam> {
        vec![
            param("day", ParamType::Date, None),
            param("n", ParamType::Integer, Some(json!(1))),
        ]
    }

    /// The form over `s`, saved again without a change.
    fn round_trip(s: &ScheduleInput, declared: &[ProcessParam]) -> ScheduleInput {
        let texts = param_texts(declared, &s.params);
        Values::of(s).input(params_to_save(declared, &texts))
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
                catchup: "none".into(),
                max_active_runs: "1".into(),
                when_busy: "skip".into(),
            }
        );
        assert_eq!(v.input(Map::new()), defaults());
    }

    #[test]
    fn a_schedule_comes_back_from_the_form_as_it_went_in() {
        let v = Values::of(&pinned());
        assert_eq!(v.version, "3");
        assert_eq!(v.catchup, "all");
        assert_eq!(v.when_busy, "queue");
        assert_eq!(round_trip(&pinned(), &declared()), pinned());
    }

    #[test]
    fn a_stored_schedule_is_saved_again_unchanged() {
        let s: Schedule = serde_json::from_value(json!({
            "process": "p1", "process_name": "Daily", "cron": "30 2 * * 1-5",
            "timezone": "Europe/Berlin", "enabled": false, "version": 3,
            "params": {"day": "2026-10-01", "n": 2}, "catchup": "all",
            "max_active_runs": 4, "when_busy": "queue", "description": "",
            "next_fires": [], "next_fires_local": [], "recent_fires": [],
            "updated_at": "2026-01-01T00:00:00Z", "updated_by": null,
        }))
        .unwrap();
        assert_eq!(input_of(&s), pinned());
        assert_eq!(round_trip(&input_of(&s), &declared()), pinned());
    }

    #[test]
    fn the_inputs_show_the_stored_values_else_the_defaults() {
        let mut declared = declared();
        declared.push(param("country", ParamType::Enum, Some(json!("de"))));
        declared.push(param("strict", ParamType::Boolean, None));
        let shown = param_texts(&declared, &object(json!({"n": 7, "gone": "x"})));
        assert_eq!(
            shown,
            BTreeMap::from([
                ("day".to_owned(), String::new()),
                ("n".to_owned(), "7".to_owned()),
                ("country".to_owned(), "de".to_owned()),
                ("strict".to_owned(), String::new()),
            ])
        );
        assert_eq!(param_texts(&declared, &Map::new())["n"], "1");
    }

    #[test]
    fn a_value_left_at_its_default_is_not_stored_so_it_follows_the_version() {
        let declared = declared();
        let mut texts = param_texts(&declared, &Map::new());
        assert_eq!(params_to_save(&declared, &texts), Map::new());
        texts.insert("n".into(), "5".into());
        texts.insert("day".into(), "2026-10-01".into());
        texts.insert("stray".into(), "x".into());
        assert_eq!(
            params_to_save(&declared, &texts),
            object(json!({"n": 5, "day": "2026-10-01"}))
        );
        // Cleared: the default again.
        texts.insert("n".into(), " ".into());
        assert_eq!(
            params_to_save(&declared, &texts),
            object(json!({"day": "2026-10-01"}))
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_goes_as_typed_for_the_server_to_name() {
        let declared = declared();
        let texts = BTreeMap::from([("n".to_owned(), "4.5".to_owned())]);
        let sent = params_to_save(&declared, &texts);
        assert_eq!(sent, object(json!({"n": "4.5"})));
        let errors = crate::params::check_run_params(&declared, &sent).unwrap_err();
        assert_eq!(errors[0].field, "params.n");
        assert_eq!(errors[0].message, "`n` must be an integer");
    }

    #[test]
    fn stored_names_the_version_does_not_declare_are_told_and_problems_without_an_input_kept() {
        let declared = declared();
        let given = object(json!({"n": 2, "region": "eu", "old": 1}));
        assert_eq!(undeclared(&declared, &given), ["old", "region"]);
        assert!(undeclared(&[], &Map::new()).is_empty());
        let errors = vec![
            FieldError::new("params.n", "type", "`n` must be an integer"),
            FieldError::new("params.region", "unknown_param", "no `region`"),
            FieldError::new("params", "loading", "wait"),
            FieldError::new("cron", "syntax", "field 1"),
        ];
        let left: Vec<_> = unplaced(&declared, &errors)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(left, ["params.region", "params"]);
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
            .input(Map::new())
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

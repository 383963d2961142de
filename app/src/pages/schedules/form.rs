//! The schedule editor's fields as text signals, and the request they make.

use crate::api::schedules::{Catchup, Schedule, ScheduleInput, WhenBusy};
use crate::api::FieldError;
use leptos::prelude::*;

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

/// The editor's fields, as text.
#[derive(Clone, Copy)]
pub struct Form {
    pub cron: RwSignal<String>,
    pub timezone: RwSignal<String>,
    pub enabled: RwSignal<bool>,
    pub version: RwSignal<String>,
    pub params: RwSignal<String>,
    pub catchup: RwSignal<String>,
    pub max_active_runs: RwSignal<String>,
    pub when_busy: RwSignal<String>,
}

impl Form {
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

    pub fn new() -> Form {
        let form = Form {
            cron: RwSignal::new(String::new()),
            timezone: RwSignal::new(String::new()),
            enabled: RwSignal::new(true),
            version: RwSignal::new(String::new()),
            params: RwSignal::new(String::new()),
            catchup: RwSignal::new(String::new()),
            max_active_runs: RwSignal::new(String::new()),
            when_busy: RwSignal::new(String::new()),
        };
        form.fill(&Form::defaults());
        form
    }

    pub fn fill(&self, s: &ScheduleInput) {
        self.cron.set(s.cron.clone());
        self.timezone.set(s.timezone.clone());
        self.enabled.set(s.enabled);
        self.version
            .set(s.version.map(|v| v.to_string()).unwrap_or_default());
        self.params
            .set(serde_json::to_string_pretty(&s.params).unwrap_or_else(|_| "{}".into()));
        self.catchup.set(s.catchup.as_str().into());
        self.max_active_runs.set(s.max_active_runs.to_string());
        self.when_busy.set(s.when_busy.as_str().into());
    }

    /// The request, or the field errors the browser can tell by itself.
    pub fn input(&self) -> Result<ScheduleInput, Vec<FieldError>> {
        let mut errors = Vec::new();
        let params = match serde_json::from_str::<serde_json::Value>(&self.params.get_untracked()) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                errors.push(FieldError::new(
                    "params",
                    "json",
                    "a JSON object, such as {\"day\": \"today\"}",
                ));
                Default::default()
            }
        };
        let max_active_runs = self
            .max_active_runs
            .get_untracked()
            .trim()
            .parse()
            .unwrap_or(0);
        let version = self.version.get_untracked().parse().ok();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ScheduleInput {
            cron: self.cron.get_untracked(),
            timezone: self.timezone.get_untracked(),
            enabled: self.enabled.get_untracked(),
            version,
            params,
            catchup: self
                .catchup
                .get_untracked()
                .parse()
                .unwrap_or(Catchup::None),
            max_active_runs,
            when_busy: self
                .when_busy
                .get_untracked()
                .parse()
                .unwrap_or(WhenBusy::Skip),
        })
    }
}

//! The schedule editor's form: its fields as text signals, the inputs of the
//! run parameters the version declares, and the field errors the browser or
//! the server found in them.

use super::declared::Declared;
use super::values::{defaults, params_to_save, Values};
use crate::api::schedules::ScheduleInput;
use crate::api::FieldError;
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct Form {
    pub cron: RwSignal<String>,
    pub timezone: RwSignal<String>,
    pub enabled: RwSignal<bool>,
    pub version: RwSignal<String>,
    pub params: Declared,
    pub catchup: RwSignal<String>,
    pub max_active_runs: RwSignal<String>,
    pub when_busy: RwSignal<String>,
    pub errors: RwSignal<Vec<FieldError>>,
}

impl Form {
    /// A form showing what a process without a schedule starts from.
    pub fn new() -> Form {
        let Values {
            cron,
            timezone,
            enabled,
            version,
            catchup,
            max_active_runs,
            when_busy,
        } = Values::of(&defaults());
        Form {
            cron: RwSignal::new(cron),
            timezone: RwSignal::new(timezone),
            enabled: RwSignal::new(enabled),
            version: RwSignal::new(version),
            params: Declared::new(),
            catchup: RwSignal::new(catchup),
            max_active_runs: RwSignal::new(max_active_runs),
            when_busy: RwSignal::new(when_busy),
            errors: RwSignal::new(Vec::new()),
        }
    }

    /// Shows `s` in the fields; the errors stay until the next save.
    pub fn fill(&self, s: &ScheduleInput) {
        let v = Values::of(s);
        self.cron.set(v.cron);
        self.timezone.set(v.timezone);
        self.enabled.set(v.enabled);
        self.version.set(v.version);
        self.params.show(s.params.clone());
        self.catchup.set(v.catchup);
        self.max_active_runs.set(v.max_active_runs);
        self.when_busy.set(v.when_busy);
    }

    /// The request; refused while the version's parameters load, as what
    /// to store of them depends on their declarations.
    pub fn input(&self) -> Result<ScheduleInput, Vec<FieldError>> {
        let Some(declared) = self.params.params.get_untracked() else {
            return Err(vec![FieldError::new(
                "params",
                "loading",
                "the version's parameters are still loading; save again in a moment",
            )]);
        };
        let params = self
            .params
            .texts
            .with_untracked(|t| params_to_save(&declared, t));
        Ok(Values {
            cron: self.cron.get_untracked(),
            timezone: self.timezone.get_untracked(),
            enabled: self.enabled.get_untracked(),
            version: self.version.get_untracked(),
            catchup: self.catchup.get_untracked(),
            max_active_runs: self.max_active_runs.get_untracked(),
            when_busy: self.when_busy.get_untracked(),
        }
        .input(params))
    }

    /// The errors of `field`, each under it.
    pub fn error(&self, field: &'static str) -> impl IntoView {
        crate::components::load::field_error(self.errors, field)
    }
}

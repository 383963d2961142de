//! The parameters declared by the version a schedule or a backfill will run
//! (the pinned one, else the latest published), loaded again whenever that
//! changes, and the texts of their inputs.

use super::values::param_texts;
use crate::api::processes::VersionSummary;
use crate::api::routes;
use crate::types::params::ProcessParam;
use leptos::prelude::*;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Clone, Copy)]
pub struct Declared {
    /// The version's declarations; `None` while they load.
    pub params: RwSignal<Option<Vec<ProcessParam>>>,
    /// The texts of their inputs, by name.
    pub texts: RwSignal<BTreeMap<String, String>>,
    /// Values given before (a stored schedule's), shown instead of the
    /// defaults.
    pub given: RwSignal<Map<String, Value>>,
}

impl Declared {
    pub fn new() -> Declared {
        Declared {
            params: RwSignal::new(None),
            texts: RwSignal::new(BTreeMap::new()),
            given: RwSignal::new(Map::new()),
        }
    }

    /// Shows `given` in the inputs (defaults for what it leaves out).
    pub fn show(self, given: Map<String, Value>) {
        self.given.set(given);
        if let Some(list) = self.params.get_untracked() {
            self.texts
                .set(self.given.with_untracked(|g| param_texts(&list, g)));
            // The inputs read their texts once: draw them again.
            self.params.set(Some(list));
        }
    }

    /// Loads the declarations of the version `version` names (a number, or
    /// empty for the latest of `versions`, newest first, `None` while they
    /// load) whenever that changes, of process `process` of `tenant`.
    pub fn follow(
        self,
        (tenant, process): (String, String),
        version: RwSignal<String>,
        versions: RwSignal<Option<Vec<VersionSummary>>>,
    ) {
        let shown = StoredValue::new(None::<i64>);
        Effect::new(move |_| {
            let pinned = version.get().trim().parse::<i64>().ok();
            let latest = versions.with(|v| v.as_ref().map(|v| v.first().map(|v| v.number)));
            let n = match (pinned, latest) {
                (Some(n), _) | (None, Some(Some(n))) => n,
                // Not known yet which version runs.
                (None, None) => return,
                // Nothing published: nothing to give; the server says so
                // when it matters.
                (None, Some(None)) => {
                    shown.set_value(None);
                    self.params.set(Some(Vec::new()));
                    return;
                }
            };
            if shown.get_value() == Some(n) {
                return;
            }
            shown.set_value(Some(n));
            self.params.set(None);
            let (tenant, process) = (tenant.clone(), process.clone());
            leptos::task::spawn_local(async move {
                let list = match routes::version(&tenant, &process, n).await {
                    Ok(v) => v.graph.params,
                    Err(_) => Vec::new(),
                };
                // An answer for a version no longer chosen comes too late.
                if shown.try_get_value() != Some(Some(n)) {
                    return;
                }
                let texts = self.given.try_with_untracked(|g| param_texts(&list, g));
                if let Some(texts) = texts {
                    let _ = self.texts.try_set(texts);
                    let _ = self.params.try_set(Some(list));
                }
            });
        });
    }
}

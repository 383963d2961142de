//! The schedule being edited: what the server holds, the form over it, and
//! the actions on it (load, save, delete) with the buttons that start them.

use super::form::Form;
use super::values::{defaults, input_of};
use crate::api::processes::VersionSummary;
use crate::api::routes;
use crate::api::schedules::Schedule;
use crate::api::FieldError;
use crate::components::load::{fetch, loaded, Loaded};
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct Editing {
    /// The tenant and the process.
    target: StoredValue<(String, String)>,
    pub form: Form,
    /// `Ok(None)`: this process has no schedule yet.
    pub stored: Loaded<Option<Schedule>>,
    /// What the last action did, for the user to see.
    pub done: RwSignal<Option<&'static str>>,
    /// The versions a schedule can be pinned to, newest first; `None`
    /// while they load.
    pub versions: RwSignal<Option<Vec<VersionSummary>>>,
}

impl Editing {
    pub fn new(tenant: String, id: String) -> Editing {
        Editing {
            target: StoredValue::new((tenant, id)),
            form: Form::new(),
            stored: loaded(),
            done: RwSignal::new(None),
            versions: RwSignal::new(None),
        }
    }

    /// Loads the stored schedule into the form.
    pub fn load(self) {
        let Editing { form, stored, .. } = self;
        let (tenant, id) = self.target.get_value();
        fetch(stored, async move {
            match routes::schedule(&tenant, &id).await {
                Ok(s) => {
                    form.fill(&input_of(&s));
                    Ok(Some(s))
                }
                Err(e) if e.status == 404 => Ok(None),
                Err(e) => Err(e),
            }
        });
    }

    pub fn load_versions(self) {
        let versions = self.versions;
        let (tenant, id) = self.target.get_value();
        leptos::task::spawn_local(async move {
            // Unknown: nothing to pin to, and the server checks what is given.
            let list = routes::versions(&tenant, &id).await.unwrap_or_default();
            let _ = versions.try_set(Some(list));
        });
    }

    /// Stores the form's schedule, or shows why it cannot be stored.
    pub fn save(self) {
        let Editing { form, done, .. } = self;
        done.set(None);
        let input = match form.input() {
            Ok(i) => i,
            Err(e) => return form.errors.set(e),
        };
        let (tenant, id) = self.target.get_value();
        leptos::task::spawn_local(async move {
            match routes::set_schedule(&tenant, &id, &input).await {
                Ok(_) => {
                    form.errors.set(Vec::new());
                    done.set(Some("Saved."));
                    self.load();
                }
                Err(e) => form.errors.set(match e.problem {
                    Some(p) if !p.errors.is_empty() => p.errors,
                    _ => vec![FieldError::new("schedule", "error", e.message())],
                }),
            }
        });
    }

    /// Deletes the schedule; the form goes back to where a new one starts.
    pub fn remove(self) {
        let Editing {
            form, stored, done, ..
        } = self;
        let (tenant, id) = self.target.get_value();
        leptos::task::spawn_local(async move {
            match routes::delete_schedule(&tenant, &id).await {
                Ok(()) => {
                    form.fill(&defaults());
                    stored.set(Some(Ok(None)));
                    done.set(Some("Deleted."));
                }
                Err(e) => form
                    .errors
                    .set(vec![FieldError::new("schedule", "error", e.message())]),
            }
        });
    }
}

/// Save, delete (once there is something to delete) and what the last of
/// them did.
#[component]
pub fn ScheduleToolbar(editing: Editing) -> impl IntoView {
    let Editing { stored, done, .. } = editing;
    view! {
        <div class="toolbar">
            <button type="submit" data-testid="schedule-save">"Save schedule"</button>
            <Show when=move || matches!(stored.get(), Some(Ok(Some(_))))>
                <button type="button" class="danger" data-testid="schedule-delete" on:click=move |_| editing.remove()>"Delete schedule"</button>
            </Show>
            {move || done.get().map(|m| view! { <span class="ok" data-testid="schedule-saved">{m}</span> })}
        </div>
    }
}

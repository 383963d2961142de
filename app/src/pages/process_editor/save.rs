//! Autosave: where the draft stands against the server, saving it a moment
//! after the last change, and the indicator that says so.

use crate::api::processes::UpdateProcess;
use crate::api::routes;
use crate::editor::Editor;
use leptos::prelude::*;
use std::time::Duration;

/// Where the draft stands against the server.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Save {
    Saved,
    Pending,
    Saving,
    /// Someone else saved first; our graph is kept here.
    Conflict(String),
    Failed(String),
}

/// Saves `editor`'s graph as the draft of process `id`.
#[derive(Clone, Copy)]
pub(super) struct Autosave {
    /// The tenant and the process.
    target: StoredValue<(String, String)>,
    editor: RwSignal<Editor>,
    revision: RwSignal<i64>,
    pub state: RwSignal<Save>,
}

impl Autosave {
    pub fn new(tenant: String, id: String, editor: RwSignal<Editor>, revision: i64) -> Self {
        Self {
            target: StoredValue::new((tenant, id)),
            editor,
            revision: RwSignal::new(revision),
            state: RwSignal::new(Save::Saved),
        }
    }

    /// After a change: saves in a moment unless a newer change comes first
    /// or a conflict waits for the user.
    pub fn changed(self) {
        let Self { editor, state, .. } = self;
        if matches!(state.get_untracked(), Save::Conflict(_)) {
            return;
        }
        state.set(Save::Pending);
        let changes = editor.with_untracked(|e| e.changes);
        set_timeout(
            move || {
                // Nothing to do if the page has gone in the meantime.
                let still = editor.try_with_untracked(|e| e.changes) == Some(changes);
                if still && state.try_get_untracked() == Some(Save::Pending) {
                    self.save_now(false);
                }
            },
            Duration::from_millis(400),
        );
    }

    /// Saves the draft unless a newer change is waiting to be saved; with
    /// `force`, over whatever revision the server holds.
    pub fn save_now(self, force: bool) {
        let Self {
            editor,
            revision,
            state: save,
            ..
        } = self;
        let (tenant, id) = self.target.get_value();
        let (graph, changes) = editor.with_untracked(|e| (e.graph.clone(), e.changes));
        save.set(Save::Saving);
        leptos::task::spawn_local(async move {
            let body = UpdateProcess {
                revision: revision.get_untracked(),
                name: None,
                description: None,
                graph: Some(graph),
            };
            let body = if force {
                match routes::process(&tenant, &id).await {
                    Ok(p) => UpdateProcess {
                        revision: p.revision,
                        ..body
                    },
                    Err(e) => {
                        save.set(Save::Failed(e.message()));
                        return;
                    }
                }
            } else {
                body
            };
            match routes::update_process(&tenant, &id, &body).await {
                Ok(p) => {
                    revision.set(p.revision);
                    let newer = editor.with_untracked(|e| e.changes) != changes;
                    save.set(if newer { Save::Pending } else { Save::Saved });
                }
                Err(e) if e.status == 409 => save.set(Save::Conflict(e.message())),
                Err(e) => save.set(Save::Failed(e.message())),
            }
        });
    }
}

/// "Saved (revision n)", "Saving…" or why not, with the way out of a conflict.
#[component]
pub(super) fn SaveState(autosave: Autosave) -> impl IntoView {
    let Autosave {
        revision, state, ..
    } = autosave;
    move || {
        match state.get() {
        Save::Saved => view! { <span class="save muted" data-testid="save-state">{format!("Saved (revision {})", revision.get())}</span> }.into_any(),
        Save::Pending | Save::Saving => view! { <span class="save muted" data-testid="save-state">"Saving…"</span> }.into_any(),
        Save::Failed(e) => view! { <span class="save error" role="alert" data-testid="save-state">{format!("Not saved: {e}")}</span> }.into_any(),
        Save::Conflict(e) => view! {
            <span class="save error" role="alert" data-testid="save-state">
                {format!("Not saved: {e}. Your changes are still here. ")}
                <button data-testid="overwrite" on:click=move |_| autosave.save_now(true)>"Save mine over theirs"</button>
            </span>
        }
        .into_any(),
    }
    }
}

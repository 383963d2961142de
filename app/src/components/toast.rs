//! Toasts: the one way a page says an action worked or failed when there is
//! no field to put it under — a short line in the corner of every page, read
//! out by screen readers (successes politely, errors at once), gone after a
//! few seconds or when dismissed.

use leptos::prelude::*;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Success,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
struct Toast {
    id: u64,
    tone: Tone,
    text: String,
}

/// The page's toasts (made by the shell; `success` and `error` reach them).
#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

/// At most this many at once: a burst drops the oldest.
const MAX: usize = 4;

thread_local! {
    /// The app's toasts, for actions that end in a task outside the
    /// component tree (where context cannot be looked up).
    static CURRENT: std::cell::Cell<Option<Toasts>> = const { std::cell::Cell::new(None) };
}

impl Toasts {
    pub fn provide() -> Toasts {
        let toasts = Toasts {
            list: RwSignal::new(Vec::new()),
            next: StoredValue::new(0),
        };
        CURRENT.with(|current| current.set(Some(toasts)));
        toasts
    }

    fn push(self, tone: Tone, text: String) {
        let Some(id) = self.next.try_get_value() else {
            return;
        };
        self.next.set_value(id + 1);
        self.list.try_update(|list| {
            list.push(Toast { id, tone, text });
            if list.len() > MAX {
                list.remove(0);
            }
        });
        let stay = match tone {
            Tone::Success => Duration::from_secs(5),
            Tone::Error => Duration::from_secs(10),
        };
        set_timeout(move || self.dismiss(id), stay);
    }

    fn dismiss(self, id: u64) {
        let _ = self.list.try_update(|list| list.retain(|t| t.id != id));
    }
}

/// Says that an action worked (no-op outside the app).
pub fn success(text: impl Into<String>) {
    if let Some(toasts) = CURRENT.with(std::cell::Cell::get) {
        toasts.push(Tone::Success, text.into());
    }
}

/// Says that an action failed, when no field of a form can carry it.
pub fn error(text: impl Into<String>) {
    if let Some(toasts) = CURRENT.with(std::cell::Cell::get) {
        toasts.push(Tone::Error, text.into());
    }
}

/// Where the toasts show: one live region for the whole app.
#[component]
pub fn ToastRegion(toasts: Toasts) -> impl IntoView {
    view! {
        <div class="toasts" aria-live="polite" data-testid="toasts">
            // At most four: drawn again whole when one comes or goes (a
            // keyed list would bring its diffing into the first load).
            {move || toasts.list.get().into_iter().map(|toast| {
                let id = toast.id;
                let error = toast.tone == Tone::Error;
                view! {
                    <div class="toast" class:error=error role=error.then_some("alert")
                        data-testid="toast" data-tone=if error { "error" } else { "success" }>
                        <span>{toast.text}</span>
                        <button class="link" aria-label="Dismiss" on:click=move |_| toasts.dismiss(id)>"×"</button>
                    </div>
                }
            }).collect_view()}
        </div>
    }
}

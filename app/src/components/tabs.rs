//! The tab bar of a process's pages.

use leptos::prelude::*;

/// One of a process's pages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ProcessTab {
    Editor,
    Versions,
    Runs,
    Schedule,
    Copy,
}

impl ProcessTab {
    const ALL: [ProcessTab; 5] = [
        Self::Editor,
        Self::Versions,
        Self::Runs,
        Self::Schedule,
        Self::Copy,
    ];

    /// (label, path after `/processes/<id>`, test id)
    fn parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Editor => ("Editor", "", "tab-editor"),
            Self::Versions => ("Versions", "/versions", "tab-versions"),
            Self::Runs => ("Runs", "/runs", "tab-runs"),
            Self::Schedule => ("Schedule", "/schedule", "tab-schedule"),
            Self::Copy => ("Copy & export", "/copy", "tab-copy"),
        }
    }
}

/// The tabs of process `id`, with `current` marked.
#[component]
pub fn ProcessTabs(id: String, current: ProcessTab) -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Process">
            {ProcessTab::ALL.into_iter().map(|tab| {
                let (label, rest, testid) = tab.parts();
                let here = tab == current;
                view! {
                    <a href=format!("/processes/{id}{rest}") class="tab" class:current=here
                        aria-current=here.then_some("page") data-testid=testid>{label}</a>
                }
            }).collect_view()}
        </nav>
    }
}

//! What a viewer sees of a process: its draft, drawn, without the means to
//! change, publish or run it.

use crate::api::processes::Process;
use crate::components::canvas::GraphView;
use crate::components::tabs::{ProcessTab, ProcessTabs};
use crate::ordered::CollectOrdered;
use crate::types::component::ComponentType;
use crate::types::ComponentKey;
use leptos::prelude::*;
use std::collections::BTreeMap;

#[component]
pub(super) fn ProcessReadOnly(process: Process, catalog: Vec<ComponentType>) -> impl IntoView {
    let names: BTreeMap<ComponentKey, String> =
        catalog.into_iter().map(|c| (c.key, c.name)).collect_map();
    let selected = RwSignal::new(None::<String>);
    view! {
        <div class="editor" data-testid="process-readonly">
            <div class="editor-head">
                <h1>{process.name.clone()}</h1>
                <ProcessTabs id=process.id.to_string() current=ProcessTab::Editor/>
            </div>
            <p class="notice" data-testid="read-only-note">
                "You can look at this process. Changing, publishing and running it need the editor role."
            </p>
            <GraphView
                graph=Signal::derive(move || process.graph.clone())
                states=Signal::derive(BTreeMap::new)
                names=Signal::derive(move || names.clone())
                selected=selected
                on_select=Callback::new(move |id| selected.set(Some(id)))
            />
        </div>
    }
}

//! Components whose catalog definition changed since the latest version
//! froze them: the editor says so, since publishing picks the new definition
//! up (and runs of older versions keep theirs).

use crate::api::routes;
use crate::diff::component_changes;
use crate::editor::Editor;
use crate::ordered::CollectOrdered;
use crate::types::component::ComponentType;
use leptos::prelude::*;
use std::collections::BTreeSet;

/// The names of the components `used` by the draft whose definition in
/// `catalog` differs from the one version `frozen` holds (components the
/// version did not use are new to it, not changed).
pub fn changed_since(
    frozen: &[ComponentType],
    catalog: &[ComponentType],
    used: &BTreeSet<String>,
) -> Vec<String> {
    if frozen.is_empty() {
        return vec![];
    }
    let current: Vec<ComponentType> = catalog
        .iter()
        .filter(|c| used.contains(c.key.as_str()))
        .cloned()
        .collect();
    component_changes(frozen, &current)
        .into_iter()
        .filter_map(|c| match (c.old, c.new) {
            (Some(_), Some(new)) => Some(new.name),
            _ => None,
        })
        .collect()
}

/// A notice listing the draft's components that changed since the latest
/// version was published.
#[component]
pub(super) fn CatalogChanges(
    tenant: String,
    process_id: String,
    latest: RwSignal<Option<i64>>,
    editor: RwSignal<Editor>,
    catalog: StoredValue<Vec<ComponentType>>,
) -> impl IntoView {
    let frozen = RwSignal::new((None::<i64>, Vec::<ComponentType>::new()));
    Effect::new(move |_| {
        let Some(n) = latest.get() else { return };
        let (tenant, process_id) = (tenant.clone(), process_id.clone());
        leptos::task::spawn_local(async move {
            if let Ok(v) = routes::version(&tenant, &process_id, n).await {
                frozen.try_set((Some(n), v.components));
            }
        });
    });
    let changed = Memo::new(move |_| {
        let used: BTreeSet<String> = editor.with(|e| {
            e.graph
                .nodes
                .iter()
                .map(|n| n.component.as_str().to_owned())
                .collect_set()
        });
        frozen.with(|(_, f)| catalog.with_value(|c| changed_since(f, c, &used)))
    });
    move || {
        let names = changed.get();
        (!names.is_empty()).then(|| {
            let n = frozen.with(|(n, _)| n.unwrap_or_default());
            view! {
                <p class="notice" data-testid="catalog-changes">
                    {format!(
                        "Changed in the catalog since version {n}: {}. Publishing uses the new definition; runs of version {n} keep the old one.",
                        names.join(", ")
                    )}
                </p>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleep() -> ComponentType {
        crate::catalog::builtin()
            .into_iter()
            .find(|c| c.key == "sleep")
            .unwrap()
    }

    #[test]
    fn only_used_components_whose_definition_differs_are_named() {
        let used: BTreeSet<String> = ["sleep".to_owned()].into();
        let frozen = vec![sleep()];
        assert!(changed_since(&frozen, &[sleep()], &used).is_empty());
        let mut slower = sleep();
        slower.retries = 3;
        assert_eq!(changed_since(&frozen, &[slower.clone()], &used), ["Sleep"]);
        assert!(changed_since(&frozen, &[slower.clone()], &BTreeSet::new()).is_empty());
        assert!(
            changed_since(&[], &[slower], &used).is_empty(),
            "a version from before freezing compares with nothing"
        );
    }
}

//! What tells nodes apart at a glance: a band in the colour of the
//! component's category and the component's icon, the same on the live
//! canvas, the read-only graphs and the palette.

use crate::components::catalog_context::TenantCatalog;
use crate::editor::NODE_HEIGHT;
use crate::ordered::CollectOrdered;
use crate::types::ComponentKey;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// A component's category and icon, by key.
pub type Looks = BTreeMap<ComponentKey, (String, String)>;

/// The current tenant's components' looks (empty until the catalog loads,
/// and where there is no catalog in context).
pub fn looks() -> Signal<Looks> {
    let Some(catalog) = use_context::<TenantCatalog>() else {
        return Signal::derive(Looks::new);
    };
    Signal::derive(move || {
        catalog.list.with(|l| match l {
            Some(Ok(list)) => list
                .iter()
                .map(|c| (c.key.clone(), (c.category.clone(), c.icon.clone())))
                .collect_map(),
            _ => Looks::new(),
        })
    })
}

/// The class that colours a category (see `style/main.css`, `.cat-…`):
/// the built-in categories' own, any other one of eight by its name (the
/// same name, the same colour). Classes, as the page's policy allows no
/// inline style.
pub fn category_class(category: &str) -> String {
    match category.to_ascii_lowercase().as_str() {
        known @ ("ingest" | "quality" | "transform" | "export" | "testing") => {
            format!("cat-{known}")
        }
        "" => "cat-none".into(),
        other => {
            let hash = other
                .bytes()
                .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
            format!("cat-{}", hash % 8)
        }
    }
}

/// The icons nodes can show: name and outline (24 × 24, drawn with strokes).
pub const ICONS: &[(&str, &str)] = &[
    ("download", "M12 3v12m-5-5 5 5 5-5M4 19h16"),
    ("upload", "M12 21V9m-5 5 5-5 5 5M4 5h16"),
    (
        "shield-check",
        "M12 3 4 6v6c0 5 3.5 8 8 9 4.5-1 8-4 8-9V6zm-4 9 3 3 5-6",
    ),
    ("code", "m8 7-5 5 5 5m8-10 5 5-5 5M14 4l-4 16"),
    ("clock", "M12 3a9 9 0 1 0 0 18 9 9 0 1 0 0-18zm0 4v5l3 3"),
    (
        "x-circle",
        "M12 3a9 9 0 1 0 0 18 9 9 0 1 0 0-18zM9 9l6 6m0-6-6 6",
    ),
    (
        "database",
        "M4 6c0-3 16-3 16 0v12c0 3-16 3-16 0zm0 0c0 3 16 3 16 0m-16 6c0 3 16 3 16 0",
    ),
    ("filter", "M3 5h18l-7 8v6l-4 2v-8z"),
    ("circle", "M12 4a8 8 0 1 0 0 16 8 8 0 1 0 0-16z"),
];

/// An icon's outline; a circle for a name without one.
pub fn icon_path(icon: &str) -> &'static str {
    ICONS
        .iter()
        .find(|(name, _)| *name == icon)
        .map_or("M12 4a8 8 0 1 0 0 16 8 8 0 1 0 0-16z", |(_, path)| path)
}

/// The band and icon of a node of `component`, drawn inside its group.
pub fn node_marks(component: &ComponentKey, looks: &Looks, width: f64) -> impl IntoView {
    let (category, icon) = looks.get(component).cloned().unwrap_or_default();
    view! {
        <rect class=format!("node-band {}", category_class(&category)) width="6" height=NODE_HEIGHT rx="3"/>
        <path class="node-icon" d=icon_path(&icon) transform=format!("translate({} 10) scale(0.75)", width - 30.0)/>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_a_stable_colour() {
        assert_eq!(category_class("Ingest"), "cat-ingest");
        assert_eq!(category_class("Reports"), category_class("reports"));
        let others: std::collections::BTreeSet<String> = ["Reports", "Billing", "Finance", "Ops"]
            .iter()
            .map(|c| category_class(c))
            .collect();
        assert!(others.len() > 1, "{others:?}");
        assert!(others.iter().all(|c| c.len() == 5), "{others:?}");
    }

    #[test]
    fn the_builtin_components_have_their_own_icons() {
        for c in crate::catalog::builtin() {
            assert!(
                ICONS.iter().any(|(name, _)| *name == c.icon),
                "{} ({})",
                c.key,
                c.icon
            );
        }
        assert_ne!(icon_path("download"), icon_path("upload"));
    }
}

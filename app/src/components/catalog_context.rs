//! The current tenant's component catalog, loaded once (again when the tenant
//! changes or an admin changes the catalog) and shared through context.

use crate::api::routes;
use crate::components::load::{fetch, Loaded};
use crate::session::Session;
use crate::types::component::ComponentType;
use crate::types::ComponentKey;
use leptos::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Copy)]
pub struct TenantCatalog {
    pub list: Loaded<Vec<ComponentType>>,
    tenant: Memo<Option<String>>,
}

impl TenantCatalog {
    /// Provides the catalog of `session`'s tenant.
    pub fn provide(session: Session) -> TenantCatalog {
        let catalog = TenantCatalog {
            list: RwSignal::new(None),
            tenant: Memo::new(move |_| session.tenant()),
        };
        provide_context(catalog);
        Effect::new(move |_| {
            // Another tenant's entries must not show while this one's load.
            catalog.list.set(None);
            if catalog.tenant.get().is_some() {
                catalog.reload();
            }
        });
        catalog
    }

    pub fn get() -> TenantCatalog {
        expect_context::<TenantCatalog>()
    }

    /// Loads the catalog again.
    pub fn reload(self) {
        if let Some(tenant) = self.tenant.get_untracked() {
            fetch(self.list, async move { routes::components(&tenant).await });
        }
    }

    /// Every component's name by its key (empty until loaded).
    pub fn names(self) -> Signal<BTreeMap<ComponentKey, String>> {
        Signal::derive(move || {
            self.list.with(|l| match l {
                Some(Ok(list)) => list
                    .iter()
                    .map(|c| (c.key.clone(), c.name.clone()))
                    .collect(),
                _ => BTreeMap::new(),
            })
        })
    }
}

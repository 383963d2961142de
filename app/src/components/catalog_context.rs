//! The current tenant's component catalog, shared through context and loaded
//! when a page first asks for it (again when the tenant changes or an admin
//! changes the catalog). The shell only provides the place: the sign-in page,
//! the processes list and the pages that show no components neither request
//! the catalog nor carry the code that decodes it (issue 24).

use crate::api::routes;
use crate::components::load::{fetch, Loaded};
use crate::ordered::CollectOrdered;
use crate::session::Session;
use crate::types::component::ComponentType;
use crate::types::ComponentKey;
use leptos::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Copy)]
pub struct TenantCatalog {
    pub list: Loaded<Vec<ComponentType>>,
    tenant: Memo<Option<String>>,
    /// The tenant whose catalog `list` holds or is loading.
    loaded_for: RwSignal<Option<String>>,
}

impl TenantCatalog {
    /// Provides the (not yet loaded) catalog of `session`'s tenant.
    pub fn provide(session: Session) -> TenantCatalog {
        let catalog = TenantCatalog {
            list: RwSignal::new(None),
            tenant: Memo::new(move |_| session.tenant()),
            loaded_for: RwSignal::new(None),
        };
        provide_context(catalog);
        catalog
    }

    /// The catalog, for a page that shows components: loads it (or the new
    /// tenant's, when the tenant changes while the page is open) unless it
    /// is loaded or loading.
    pub fn get() -> TenantCatalog {
        let catalog = expect_context::<TenantCatalog>();
        Effect::new(move |_| {
            let tenant = catalog.tenant.get();
            if tenant.is_some() && catalog.loaded_for.get_untracked() != tenant {
                // Another tenant's entries must not show while this one's load.
                catalog.list.set(None);
                catalog.loaded_for.set(tenant);
                catalog.reload();
            }
        });
        catalog
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
                    .collect_map(),
                _ => BTreeMap::new(),
            })
        })
    }
}

//! Alerts: where a tenant's notifications go (channels and the webhook
//! signing secret), when they are sent (rules) and what became of each one
//! (the delivery log). Tenant admins only, as the API is.

use crate::api::alerts::{AlertTrigger, Channel, Rule, SigningSecretState};
use crate::api::routes;
use crate::components::load::{fetch, loaded, Loaded};
use crate::session::{Session, WithTenant};
use crate::types::Role;
use leptos::prelude::*;

mod channels;
mod log;
mod rules;

use channels::Channels;
use log::{DeliveryLog, Log};
use rules::Rules;

#[component]
pub fn AlertsPage() -> impl IntoView {
    view! {
        <h1>"Alerts"</h1>
        <p class="muted">
            "Who hears about runs, and when: channels are where alerts go, rules say which runs send one, "
            "and the delivery log shows what became of each."
        </p>
        <WithTenant children=|tenant| {
            if Session::get().can(Role::TenantAdmin) {
                view! { <AlertSections tenant/> }.into_any()
            } else {
                view! { <p data-testid="admins-only">"Only tenant admins can see this page."</p> }.into_any()
            }
        }/>
    }
}

/// What the page holds of the tenant's alerts, and the reloading of it.
#[derive(Clone, Copy)]
struct Alerts {
    tenant: StoredValue<String>,
    channels: Loaded<Vec<Channel>>,
    rules: Loaded<Vec<Rule>>,
    secret: Loaded<SigningSecretState>,
    /// A signing secret just made: shown while the page is open, never again.
    shown: RwSignal<Option<String>>,
    log: Log,
}

impl Alerts {
    fn load_channels(self) {
        let tenant = self.tenant.get_value();
        fetch(self.channels, async move {
            routes::alert_channels(&tenant).await
        });
    }

    fn load_rules(self) {
        let tenant = self.tenant.get_value();
        fetch(
            self.rules,
            async move { routes::alert_rules(&tenant).await },
        );
    }

    fn load_secret(self) {
        let tenant = self.tenant.get_value();
        fetch(self.secret, async move {
            routes::signing_secret_state(&tenant).await
        });
    }
}

#[component]
fn AlertSections(tenant: String) -> impl IntoView {
    let tenant = StoredValue::new(tenant);
    let data = Alerts {
        tenant,
        channels: loaded(),
        rules: loaded(),
        secret: loaded(),
        shown: RwSignal::new(None),
        log: Log {
            tenant,
            list: loaded(),
            status: RwSignal::new(None),
            round: StoredValue::new(0),
        },
    };
    Effect::new(move |_| {
        data.load_channels();
        data.load_rules();
        data.load_secret();
        data.log.reload();
    });
    view! {
        <Channels data/>
        <Rules data/>
        <DeliveryLog log=data.log/>
    }
}

fn trigger_label(trigger: AlertTrigger) -> &'static str {
    match trigger {
        AlertTrigger::Failure => "A run fails",
        AlertTrigger::Success => "A run succeeds",
        AlertTrigger::Overdue => "A run is overdue",
        AlertTrigger::FailureStreak => "Runs fail several times in a row",
        AlertTrigger::Recovery => "A run succeeds after a failure",
    }
}

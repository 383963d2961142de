//! The tenant's AWS connections: every member sees them; tenant admins
//! create, change, test and delete them, and see the tenant's external id
//! with the trust policy its roles need. Secrets can be set, never read.

use crate::api::connections::{Connection, ConnectionInput, ConnectionTest, ExternalId};
use crate::api::routes;
use crate::components::copy::CopyButton;
use crate::components::load::{alert_with, fetch, loaded, show};
use crate::session::{Session, WithTenant};
use crate::types::Role;
use leptos::prelude::*;

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    view! {
        <h1>"Connections"</h1>
        <p class="muted">
            "How Trellis reaches a tenant's Amazon EMR cluster: the role it assumes in your AWS account and the cluster it runs steps on. "
            "Trellis assumes the role with its own identity and this tenant's external id, and does all of the tenant's work with the role's credentials only."
        </p>
        <WithTenant children=|tenant| view! { <ConnectionList tenant/> }/>
    }
}

/// The form's fields, as text.
#[derive(Clone, Copy)]
struct Form {
    name: RwSignal<String>,
    region: RwSignal<String>,
    role_arn: RwSignal<String>,
    session: RwSignal<String>,
    cluster_id: RwSignal<String>,
    endpoint_url: RwSignal<String>,
    access_key_id: RwSignal<String>,
    secret_access_key: RwSignal<String>,
}

impl Form {
    fn new() -> Form {
        Form {
            name: RwSignal::new(String::new()),
            region: RwSignal::new("us-east-1".into()),
            role_arn: RwSignal::new(String::new()),
            session: RwSignal::new("3600".into()),
            cluster_id: RwSignal::new(String::new()),
            endpoint_url: RwSignal::new(String::new()),
            access_key_id: RwSignal::new(String::new()),
            secret_access_key: RwSignal::new(String::new()),
        }
    }

    fn fill(&self, c: Option<&Connection>) {
        let text = |v: Option<&String>| v.cloned().unwrap_or_default();
        self.name.set(c.map(|c| c.name.clone()).unwrap_or_default());
        self.region
            .set(c.map_or("us-east-1".into(), |c| c.region.clone()));
        self.role_arn.set(text(c.and_then(|c| c.role_arn.as_ref())));
        self.session
            .set(c.map_or(3600, |c| c.session_duration_seconds).to_string());
        self.cluster_id
            .set(c.map(|c| c.cluster_id.clone()).unwrap_or_default());
        self.endpoint_url
            .set(text(c.and_then(|c| c.endpoint_url.as_ref())));
        self.access_key_id
            .set(text(c.and_then(|c| c.access_key_id.as_ref())));
        // Secrets are never shown: empty means "keep what is stored".
        self.secret_access_key.set(String::new());
    }

    /// The request; empty secret fields keep the stored secrets.
    fn input(&self) -> Result<ConnectionInput, String> {
        let optional =
            |s: RwSignal<String>| Some(s.get_untracked()).filter(|v| !v.trim().is_empty());
        let secret = |s: RwSignal<String>| optional(s).map(Some);
        let session = self.session.get_untracked();
        let session = match session.trim() {
            "" => None,
            t => Some(
                t.parse::<i64>()
                    .map_err(|_| "Session duration: a whole number of seconds".to_owned())?,
            ),
        };
        Ok(ConnectionInput {
            name: self.name.get_untracked(),
            region: self.region.get_untracked(),
            role_arn: optional(self.role_arn),
            session_duration_seconds: session,
            cluster_id: self.cluster_id.get_untracked(),
            airflow_conn_id: None,
            endpoint_url: optional(self.endpoint_url),
            access_key_id: optional(self.access_key_id),
            secret_access_key: secret(self.secret_access_key),
        })
    }
}

fn field(
    label: &'static str,
    testid: &'static str,
    value: RwSignal<String>,
    secret: bool,
    hint: &'static str,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <input data-testid=testid type=if secret { "password" } else { "text" } placeholder=hint
                autocomplete="off"
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
        </label>
    }
}

#[component]
fn ConnectionList(tenant: String) -> impl IntoView {
    let session = Session::get();
    let admin = move || session.can(Role::TenantAdmin);
    let connections = loaded::<Vec<Connection>>();
    let reload = {
        let tenant = tenant.clone();
        move || {
            let tenant = tenant.clone();
            fetch(
                connections,
                async move { routes::connections(&tenant).await },
            );
        }
    };
    {
        let reload = reload.clone();
        Effect::new(move |_| reload());
    }
    let form = Form::new();
    // None: not editing; Some(None): a new one; Some(Some(id)): that one.
    let editing = RwSignal::new(None::<Option<String>>);
    let error = RwSignal::new(None::<String>);
    let tested = RwSignal::new(None::<(String, Result<ConnectionTest, String>)>);

    let save = {
        let (tenant, reload) = (tenant.clone(), reload.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let input = match form.input() {
                Ok(i) => i,
                Err(e) => return error.set(Some(e)),
            };
            let target = editing.get_untracked().flatten();
            let (tenant, reload) = (tenant.clone(), reload.clone());
            leptos::task::spawn_local(async move {
                let result = match &target {
                    Some(id) => routes::replace_connection(&tenant, id, &input).await,
                    None => routes::create_connection(&tenant, &input).await,
                };
                match result {
                    Ok(_) => {
                        error.set(None);
                        editing.set(None);
                        reload();
                    }
                    Err(e) => error.set(Some(e.message())),
                }
            });
        }
    };
    let remove = {
        let (tenant, reload) = (tenant.clone(), reload.clone());
        move |id: String| {
            let (tenant, reload) = (tenant.clone(), reload.clone());
            leptos::task::spawn_local(async move {
                match routes::delete_connection(&tenant, &id).await {
                    Ok(()) => reload(),
                    Err(e) => error.set(Some(e.message())),
                }
            });
        }
    };
    let test = {
        let tenant = tenant.clone();
        move |id: String| {
            let tenant = tenant.clone();
            tested.set(Some((id.clone(), Err("Testing…".into()))));
            leptos::task::spawn_local(async move {
                let result = routes::test_connection(&tenant, &id)
                    .await
                    .map_err(|e| e.message());
                tested.set(Some((id, result)));
            });
        }
    };

    let access_tenant = tenant.clone();
    view! {
        <Show when=admin>
            <AwsAccess tenant=access_tenant.clone()/>
        </Show>
        <Show when=admin>
            <button data-testid="connection-new" on:click=move |_| { form.fill(None); editing.set(Some(None)); }>
                "New connection"
            </button>
        </Show>
        {move || editing.get().map(|target| {
            let save = save.clone();
            view! {
                <form class="panel connection-form" on:submit=save data-testid="connection-form">
                    <h2>{if target.is_some() { "Change connection" } else { "New connection" }}</h2>
                    {field("Name", "connection-name", form.name, false, "prod-emr")}
                    {field("Region", "connection-region", form.region, false, "eu-west-1")}
                    {field("Role ARN to assume", "connection-role", form.role_arn, false, "arn:aws:iam::123456789012:role/trellis")}
                    {field("Session duration (seconds)", "connection-session", form.session, false, "3600")}
                    {field("EMR cluster id", "connection-cluster", form.cluster_id, false, "j-2AXXXXXXGAPLF")}
                    {field("Endpoint URL (optional)", "connection-endpoint", form.endpoint_url, false, "for private endpoints")}
                    {field("Access key id (optional)", "connection-access-key", form.access_key_id, false, "only where the platform allows static keys")}
                    {field("Secret access key", "connection-secret-key", form.secret_access_key, true,
                        if target.is_some() { "leave empty to keep" } else { "only where the platform allows static keys" })}
                    <div class="toolbar">
                        <button type="submit" data-testid="connection-save">"Save"</button>
                        <button type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
                    </div>
                </form>
            }
        })}
        {move || error.get().map(|e| alert_with("connection-error", e))}
        {show(connections, move |list| {
                if list.is_empty() {
                    return view! { <p class="muted" data-testid="no-connections">"No connections yet."</p> }.into_any();
                }
                let (remove, test) = (remove.clone(), test.clone());
                view! {
                    <table class="list" data-testid="connection-list">
                        <thead><tr><th>"Name"</th><th>"Region"</th><th>"Role"</th><th>"Cluster"</th><th>"Static keys"</th><th>"Role's permissions"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|c| {
                                let (remove, test) = (remove.clone(), test.clone());
                                let id = c.id.to_string();
                                let (id_test, id_delete, id_result) = (id.clone(), id.clone(), id);
                                let editable = c.clone();
                                let policy = pretty(&c.permissions_policy);
                                view! {
                                    <tr data-testid="connection-row">
                                        <td>{c.name.clone()}</td>
                                        <td>{c.region.clone()}</td>
                                        <td><code>{c.role_arn.clone().unwrap_or_default()}</code></td>
                                        <td>
                                            <code>{c.cluster_id.clone()}</code>
                                            <div class="muted" title="The Airflow connection Trellis keeps for this connection; DAG files on Airflow use it">
                                                "Airflow: " <code data-testid="connection-airflow-conn">{c.airflow_conn_id.clone()}</code>
                                            </div>
                                        </td>
                                        <td class="muted">{if c.has_secret_access_key { "set" } else { "none" }}</td>
                                        <td>
                                            <details data-testid="connection-policy">
                                                <summary>"Permissions policy"</summary>
                                                <pre data-testid="permissions-policy">{policy.clone()}</pre>
                                                <CopyButton text=policy testid="copy-permissions-policy"/>
                                            </details>
                                        </td>
                                        <td>
                                            <Show when=admin>
                                                <button class="link" data-testid="connection-test" on:click={
                                                    let (test, id) = (test.clone(), id_test.clone());
                                                    move |_| test(id.clone())
                                                }>"Test"</button>
                                                <button class="link" data-testid="connection-edit" on:click={
                                                    let c = editable.clone();
                                                    move |_| { form.fill(Some(&c)); editing.set(Some(Some(c.id.to_string()))); }
                                                }>"Edit"</button>
                                                <button class="link" data-testid="connection-delete" on:click={
                                                    let (remove, id) = (remove.clone(), id_delete.clone());
                                                    move |_| remove(id.clone())
                                                }>"Delete"</button>
                                            </Show>
                                        </td>
                                    </tr>
                                    {move || tested.get().filter(|(id, _)| *id == id_result).map(|(_, result)| view! {
                                        <tr data-testid="connection-test-result"><td colspan="7">{match result {
                                            Ok(t) => view! { <span class="ok">"Reached cluster " {t.cluster_name} " — " {t.cluster_state}</span> }.into_any(),
                                            Err(e) => view! { <span class="error" role="alert">{e}</span> }.into_any(),
                                        }}</td></tr>
                                    })}
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
        })}
    }
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The tenant's external id and the trust policy to give its roles, with
/// copy buttons (tenant admins).
#[component]
fn AwsAccess(tenant: String) -> impl IntoView {
    let access = loaded::<ExternalId>();
    Effect::new(move |_| {
        let tenant = tenant.clone();
        fetch(access, async move { routes::external_id(&tenant).await });
    });
    view! {
        <section class="panel" data-testid="aws-access">
            <h2>"Trusting Trellis"</h2>
            {show(access, |a| {
                let policy = pretty(&a.trust_policy);
                view! {
                    <p>
                        "Each role a connection names must trust Trellis with this tenant's external id. "
                        "Trellis makes the id and sends it with every AssumeRole; nobody types it."
                    </p>
                    <p>
                        "External id: " <code data-testid="external-id">{a.external_id.clone()}</code> " "
                        <CopyButton text=a.external_id.clone() testid="copy-external-id"/>
                    </p>
                    <p>"The role's trust policy:"</p>
                    <pre data-testid="trust-policy">{policy.clone()}</pre>
                    <CopyButton text=policy testid="copy-trust-policy"/>
                    {a.principal_arn.is_none().then(|| view! {
                        <p class="muted" data-testid="principal-missing">
                            "The platform has not named its AWS principal (TRELLIS_AWS_PRINCIPAL_ARN): ask its operator, and replace the placeholder."
                        </p>
                    })}
                    <p class="muted">"Each connection below shows the permissions policy its role needs."</p>
                }
            })}
        </section>
    }
}

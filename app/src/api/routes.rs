//! The typed API client: one function per route the browser calls, taking
//! and answering the route's types, so pages never build a URL or a query
//! string themselves. Transport (fetch, CSRF, problems) is [`crate::client`].

use crate::api::access::{
    ApiToken, AuditEvent, AuthMethods, CreatedApiToken, Member, NewApiToken, NewTenant, NewUser,
    PasswordChange, SetMember, Tenant, TenantChange, User, UserChange,
};
use crate::api::alerts::{
    Channel, ChannelInput, Delivery, Rule, RuleInput, SigningSecret, SigningSecretState,
};
use crate::api::auth::{LoginRequest, Me};
use crate::api::backfills::{Backfill, BackfillPreview, CancelQuery, NewBackfill};
use crate::api::connections::{Connection, ConnectionInput, ConnectionTest, ExternalId};
use crate::api::datasets::DatasetDetail;
use crate::api::processes::{
    CopyProcess, CreateProcess, DefinitionFormat, Process, ProcessSummary, PublishRequest,
    UpdateProcess, Version, VersionDiff, VersionSummary,
};
use crate::api::query::{
    AuditQuery, DefinitionQuery, DeliveryQuery, ImportQuery, PreviewQuery, RunListQuery, StopQuery,
    TenantRunQuery,
};
use crate::api::runs::{RetryRun, Run, RunDay, RunPage, RunSummary, StartRun};
use crate::api::schedules::{Schedule, ScheduleInput, SchedulePreview};
use crate::api::templates::{NewTemplate, Template, UseTemplate};
use crate::client::{self, ApiResult};
use crate::types::component::ComponentType;
use crate::types::ComponentKey;
use futures::future::AbortHandle;

/// `/api/v1/tenants/<tenant>/<rest>`
fn at(tenant: &str, rest: &str) -> String {
    client::tenant_path(tenant, rest)
}

// Signing in and the user's own things.

pub async fn me() -> ApiResult<Me> {
    client::get("/api/v1/me").await
}

pub async fn auth_methods() -> ApiResult<AuthMethods> {
    client::get("/api/v1/auth/methods").await
}

pub async fn login(body: &LoginRequest) -> ApiResult<Me> {
    client::post("/api/v1/auth/login", body).await
}

pub async fn logout() -> ApiResult<()> {
    client::post("/api/v1/auth/logout", &()).await
}

/// Changes the signed-in user's password; their other sessions end.
pub async fn change_password(body: &PasswordChange) -> ApiResult<()> {
    client::put("/api/v1/me/password", body).await
}

pub async fn my_tokens() -> ApiResult<Vec<ApiToken>> {
    client::get("/api/v1/me/tokens").await
}

pub async fn create_token(tenant: &str, body: &NewApiToken) -> ApiResult<CreatedApiToken> {
    client::post(&at(tenant, "tokens"), body).await
}

pub async fn revoke_token(tenant: &str, id: &str) -> ApiResult<()> {
    client::delete(&at(tenant, &format!("tokens/{id}"))).await
}

// Platform administration.

pub async fn tenants() -> ApiResult<Vec<Tenant>> {
    client::get("/api/v1/admin/tenants").await
}

pub async fn create_tenant(body: &NewTenant) -> ApiResult<Tenant> {
    client::post("/api/v1/admin/tenants", body).await
}

pub async fn change_tenant(slug: &str, body: &TenantChange) -> ApiResult<Tenant> {
    client::patch(&format!("/api/v1/admin/tenants/{slug}"), body).await
}

pub async fn users() -> ApiResult<Vec<User>> {
    client::get("/api/v1/admin/users").await
}

pub async fn create_user(body: &NewUser) -> ApiResult<User> {
    client::post("/api/v1/admin/users", body).await
}

/// Disables or enables a user, or sets their password.
pub async fn change_user(username: &str, body: &UserChange) -> ApiResult<User> {
    client::patch(&format!("/api/v1/admin/users/{username}"), body).await
}

pub async fn create_component(body: &ComponentType) -> ApiResult<ComponentType> {
    client::post("/api/v1/admin/components", body).await
}

pub async fn replace_component(
    key: &ComponentKey,
    body: &ComponentType,
) -> ApiResult<ComponentType> {
    client::put(&format!("/api/v1/admin/components/{key}"), body).await
}

// A tenant's catalog, members, audit log and connections.

pub async fn components(tenant: &str) -> ApiResult<Vec<ComponentType>> {
    client::get(&at(tenant, "components")).await
}

pub async fn members(tenant: &str) -> ApiResult<Vec<Member>> {
    client::get(&at(tenant, "members")).await
}

pub async fn set_member(tenant: &str, user: &str, body: &SetMember) -> ApiResult<Member> {
    client::put(&at(tenant, &format!("members/{user}")), body).await
}

pub async fn remove_member(tenant: &str, user: &str) -> ApiResult<()> {
    client::delete(&at(tenant, &format!("members/{user}"))).await
}

pub async fn audit(tenant: &str, query: &AuditQuery) -> ApiResult<Vec<AuditEvent>> {
    client::get(&at(tenant, &format!("audit{}", query.to_query()))).await
}

// A tenant's alerts (tenant admins).

pub async fn alert_channels(tenant: &str) -> ApiResult<Vec<Channel>> {
    client::get(&at(tenant, "alerts/channels")).await
}

/// Creates a channel; the answer carries the tenant's signing secret when
/// this channel made it (shown once).
pub async fn create_alert_channel(tenant: &str, body: &ChannelInput) -> ApiResult<Channel> {
    client::post(&at(tenant, "alerts/channels"), body).await
}

/// Deletes a channel with the rules that send to it.
pub async fn delete_alert_channel(tenant: &str, id: &str) -> ApiResult<()> {
    client::delete(&at(tenant, &format!("alerts/channels/{id}"))).await
}

/// Sends a test alert to a channel; the answer is its delivery (pending).
pub async fn test_alert_channel(tenant: &str, id: &str) -> ApiResult<Delivery> {
    client::post(&at(tenant, &format!("alerts/channels/{id}/test")), &()).await
}

pub async fn alert_rules(tenant: &str) -> ApiResult<Vec<Rule>> {
    client::get(&at(tenant, "alerts/rules")).await
}

pub async fn create_alert_rule(tenant: &str, body: &RuleInput) -> ApiResult<Rule> {
    client::post(&at(tenant, "alerts/rules"), body).await
}

pub async fn delete_alert_rule(tenant: &str, id: &str) -> ApiResult<()> {
    client::delete(&at(tenant, &format!("alerts/rules/{id}"))).await
}

pub async fn alert_deliveries(tenant: &str, query: &DeliveryQuery) -> ApiResult<Vec<Delivery>> {
    client::get(&at(
        tenant,
        &format!("alerts/deliveries{}", query.to_query()),
    ))
    .await
}

pub async fn signing_secret_state(tenant: &str) -> ApiResult<SigningSecretState> {
    client::get(&at(tenant, "alerts/signing-secret")).await
}

/// Makes a new signing secret (the old one stops signing); shown once.
pub async fn rotate_signing_secret(tenant: &str) -> ApiResult<SigningSecret> {
    client::post(&at(tenant, "alerts/signing-secret"), &()).await
}

pub async fn connections(tenant: &str) -> ApiResult<Vec<Connection>> {
    client::get(&at(tenant, "connections")).await
}

/// The tenant's external id and the trust policy for its roles (tenant admins).
pub async fn external_id(tenant: &str) -> ApiResult<ExternalId> {
    client::get(&at(tenant, "connections/external-id")).await
}

pub async fn create_connection(tenant: &str, body: &ConnectionInput) -> ApiResult<Connection> {
    client::post(&at(tenant, "connections"), body).await
}

pub async fn replace_connection(
    tenant: &str,
    id: &str,
    body: &ConnectionInput,
) -> ApiResult<Connection> {
    client::put(&at(tenant, &format!("connections/{id}")), body).await
}

pub async fn delete_connection(tenant: &str, id: &str) -> ApiResult<()> {
    client::delete(&at(tenant, &format!("connections/{id}"))).await
}

pub async fn test_connection(tenant: &str, id: &str) -> ApiResult<ConnectionTest> {
    client::post(&at(tenant, &format!("connections/{id}/test")), &()).await
}

pub async fn dataset(tenant: &str, name: &str) -> ApiResult<DatasetDetail> {
    client::get(&at(tenant, &format!("datasets/{name}"))).await
}

// Processes and their versions.

pub async fn processes(tenant: &str) -> ApiResult<Vec<ProcessSummary>> {
    client::get(&at(tenant, "processes")).await
}

pub async fn create_process(tenant: &str, body: &CreateProcess) -> ApiResult<Process> {
    client::post(&at(tenant, "processes"), body).await
}

pub async fn process(tenant: &str, id: &str) -> ApiResult<Process> {
    client::get(&at(tenant, &format!("processes/{id}"))).await
}

pub async fn update_process(tenant: &str, id: &str, body: &UpdateProcess) -> ApiResult<Process> {
    client::put(&at(tenant, &format!("processes/{id}")), body).await
}

pub async fn archive_process(tenant: &str, id: &str) -> ApiResult<()> {
    client::delete(&at(tenant, &format!("processes/{id}"))).await
}

/// Copies a process (its draft, or a version) into this or another tenant.
pub async fn copy_process(tenant: &str, process: &str, body: &CopyProcess) -> ApiResult<Process> {
    client::post(&at(tenant, &format!("processes/{process}/copy")), body).await
}

/// Where the definition file of a process's draft (or `version`) downloads.
pub fn definition_href(
    tenant: &str,
    process: &str,
    format: DefinitionFormat,
    version: Option<i64>,
) -> String {
    let query = DefinitionQuery {
        format: Some(format),
        version,
    };
    at(
        tenant,
        &format!("processes/{process}/definition{}", query.to_query()),
    )
}

/// Creates a process from a definition file's text (`content_type` is
/// `application/json` or `application/yaml`); `name` overrides the file's.
pub async fn import_process(
    tenant: &str,
    name: Option<&str>,
    content_type: &str,
    text: String,
) -> ApiResult<Process> {
    let query = ImportQuery {
        name: name.map(str::to_owned),
    };
    let path = at(tenant, &format!("processes/import{}", query.to_query()));
    client::post_text(&path, content_type, text).await
}

// The template gallery.

/// The built-in templates, then the tenant's own.
pub async fn templates(tenant: &str) -> ApiResult<Vec<Template>> {
    client::get(&at(tenant, "templates")).await
}

/// Makes a template of the tenant from a process's draft or version.
pub async fn create_template(tenant: &str, body: &NewTemplate) -> ApiResult<Template> {
    client::post(&at(tenant, "templates"), body).await
}

pub async fn delete_template(tenant: &str, id: &str) -> ApiResult<()> {
    client::delete(&at(tenant, &format!("templates/{id}"))).await
}

/// A new process from a template, with values for its parameters.
pub async fn use_template(tenant: &str, id: &str, body: &UseTemplate) -> ApiResult<Process> {
    client::post(&at(tenant, &format!("templates/{id}/processes")), body).await
}

pub async fn versions(tenant: &str, process: &str) -> ApiResult<Vec<VersionSummary>> {
    client::get(&at(tenant, &format!("processes/{process}/versions"))).await
}

pub async fn version(tenant: &str, process: &str, number: i64) -> ApiResult<Version> {
    client::get(&at(
        tenant,
        &format!("processes/{process}/versions/{number}"),
    ))
    .await
}

pub async fn publish(tenant: &str, process: &str, body: &PublishRequest) -> ApiResult<Version> {
    client::post(&at(tenant, &format!("processes/{process}/versions")), body).await
}

pub async fn version_diff(
    tenant: &str,
    process: &str,
    from: i64,
    to: i64,
) -> ApiResult<VersionDiff> {
    let rest = format!("processes/{process}/versions/{from}/diff/{to}");
    client::get(&at(tenant, &rest)).await
}

/// Where version `number` is offered as an Airflow DAG file (a link, not a call).
pub fn airflow_file_href(tenant: &str, process: &str, number: i64) -> String {
    at(
        tenant,
        &format!("processes/{process}/versions/{number}/airflow.py"),
    )
}

// Runs.

pub async fn start_run(tenant: &str, process: &str, body: &StartRun) -> ApiResult<Run> {
    client::post(&at(tenant, &format!("processes/{process}/runs")), body).await
}

pub async fn process_runs(
    tenant: &str,
    process: &str,
    query: &RunListQuery,
) -> ApiResult<Vec<RunSummary>> {
    let rest = format!("processes/{process}/runs{}", query.to_query());
    client::get(&at(tenant, &rest)).await
}

pub async fn run(tenant: &str, id: &str) -> ApiResult<Run> {
    client::get(&at(tenant, &format!("runs/{id}"))).await
}

/// A page of the tenant's runs across its processes, newest first.
pub async fn tenant_runs(tenant: &str, query: &TenantRunQuery) -> ApiResult<RunPage> {
    client::get(&at(tenant, &format!("runs{}", query.to_query()))).await
}

/// The tenant's runs per day (filtered as `query`), by how they ended.
pub async fn runs_per_day(tenant: &str, query: &TenantRunQuery) -> ApiResult<Vec<RunDay>> {
    let query = TenantRunQuery {
        limit: None,
        ..query.page(None)
    };
    client::get(&at(tenant, &format!("runs/daily{}", query.to_query()))).await
}

pub async fn stop_run(tenant: &str, id: &str, query: &StopQuery) -> ApiResult<Run> {
    let rest = format!("runs/{id}/stop{}", query.to_query());
    client::post(&at(tenant, &rest), &serde_json::json!({})).await
}

/// Retries a failed or cancelled run from its failed part, or from
/// `body.from_node` on; answers the run, running again (202).
pub async fn retry_run(tenant: &str, id: &str, body: &RetryRun) -> ApiResult<Run> {
    client::post(&at(tenant, &format!("runs/{id}/retry")), body).await
}

/// Starts a new run of the same version with the same parameters, linked
/// to run `id`; answers the new run (201).
pub async fn rerun(tenant: &str, id: &str) -> ApiResult<Run> {
    client::post(
        &at(tenant, &format!("runs/{id}/rerun")),
        &serde_json::json!({}),
    )
    .await
}

/// A task's log as plain text.
pub async fn task_log(tenant: &str, run: &str, task: &str) -> ApiResult<String> {
    client::get_text(&at(tenant, &format!("runs/{run}/tasks/{task}/log"))).await
}

/// Calls `on_event` with every event of run `id`, from the first (see
/// [`client::subscribe`]).
pub fn run_events(tenant: &str, id: &str, on_event: impl Fn(String) + 'static) -> AbortHandle {
    client::subscribe(at(tenant, &format!("runs/{id}/events")), on_event)
}

/// Calls `on_event` whenever any run of the tenant changes state.
pub fn tenant_events(tenant: &str, on_event: impl Fn(String) + 'static) -> AbortHandle {
    client::subscribe(at(tenant, "events"), on_event)
}

// Schedules.

pub async fn schedules(tenant: &str) -> ApiResult<Vec<Schedule>> {
    client::get(&at(tenant, "schedules")).await
}

pub async fn schedule(tenant: &str, process: &str) -> ApiResult<Schedule> {
    client::get(&at(tenant, &format!("processes/{process}/schedule"))).await
}

pub async fn set_schedule(
    tenant: &str,
    process: &str,
    body: &ScheduleInput,
) -> ApiResult<Schedule> {
    client::put(&at(tenant, &format!("processes/{process}/schedule")), body).await
}

pub async fn delete_schedule(tenant: &str, process: &str) -> ApiResult<()> {
    client::delete(&at(tenant, &format!("processes/{process}/schedule"))).await
}

pub async fn schedule_preview(tenant: &str, query: &PreviewQuery) -> ApiResult<SchedulePreview> {
    let rest = format!("schedules/preview{}", query.to_query());
    client::get(&at(tenant, &rest)).await
}

// Backfills.

/// What `body` would run, nothing stored (a dry run, whatever `body.dry_run` says).
pub async fn backfill_preview(
    tenant: &str,
    process: &str,
    body: &NewBackfill,
) -> ApiResult<BackfillPreview> {
    let body = NewBackfill {
        dry_run: true,
        ..body.clone()
    };
    client::post(
        &at(tenant, &format!("processes/{process}/backfills")),
        &body,
    )
    .await
}

/// Starts a backfill (never a dry run); answers it (201).
pub async fn start_backfill(
    tenant: &str,
    process: &str,
    body: &NewBackfill,
) -> ApiResult<Backfill> {
    let body = NewBackfill {
        dry_run: false,
        ..body.clone()
    };
    client::post(
        &at(tenant, &format!("processes/{process}/backfills")),
        &body,
    )
    .await
}

/// The process's backfills with their progress, newest first.
pub async fn backfills(tenant: &str, process: &str) -> ApiResult<Vec<Backfill>> {
    client::get(&at(tenant, &format!("processes/{process}/backfills"))).await
}

pub async fn backfill(tenant: &str, process: &str, id: &str) -> ApiResult<Backfill> {
    client::get(&at(tenant, &format!("processes/{process}/backfills/{id}"))).await
}

/// Cancels what of backfill `id` has not started (with `mode=stop`, also
/// stops its active runs); answers the backfill.
pub async fn cancel_backfill(
    tenant: &str,
    process: &str,
    id: &str,
    query: &CancelQuery,
) -> ApiResult<Backfill> {
    let mode = query.mode.as_deref().map_or(String::new(), |m| {
        let pair = form_urlencoded::Serializer::new(String::new())
            .append_pair("mode", m)
            .finish();
        format!("?{pair}")
    });
    let rest = format!("processes/{process}/backfills/{id}/cancel{mode}");
    client::post(&at(tenant, &rest), &serde_json::json!({})).await
}

/// `files?path=…` (and `files/content?path=…`) of one file; `overwrite`
/// for an upload that may replace it.
fn file_at(tenant: &str, rest: &str, path: &str, overwrite: Option<bool>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("path", path);
    if let Some(overwrite) = overwrite {
        query.append_pair("overwrite", if overwrite { "true" } else { "false" });
    }
    format!("{}?{}", at(tenant, rest), query.finish())
}

/// The files in the tenant's data folder.
pub async fn files(tenant: &str) -> ApiResult<Vec<crate::api::files::DataFile>> {
    client::get(&at(tenant, "files")).await
}

/// Where a file of the data folder downloads from.
pub fn file_href(tenant: &str, path: &str) -> String {
    file_at(tenant, "files/content", path, None)
}

/// Where an upload to `path` goes.
pub fn upload_href(tenant: &str, path: &str, overwrite: bool) -> String {
    file_at(tenant, "files", path, Some(overwrite))
}

/// Deletes a file of the data folder (editors).
pub async fn delete_file(tenant: &str, path: &str) -> ApiResult<()> {
    client::delete(&file_at(tenant, "files", path, None)).await
}

/// The tenant's datasets.
pub async fn datasets(tenant: &str) -> ApiResult<Vec<crate::api::datasets::Dataset>> {
    client::get(&at(tenant, "datasets")).await
}

/// Which processes write and read a dataset.
pub async fn dataset_lineage(tenant: &str, name: &str) -> ApiResult<crate::api::datasets::Lineage> {
    client::get(&at(tenant, &format!("datasets/{name}/lineage"))).await
}

/// Where a dataset downloads from, as `csv` or `jsonl`.
pub fn dataset_download_href(tenant: &str, name: &str, format: &str) -> String {
    format!(
        "{}?format={format}",
        at(tenant, &format!("datasets/{name}/download"))
    )
}

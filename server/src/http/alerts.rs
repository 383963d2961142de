//! A tenant's alerts (tenant admins): channels, rules, the delivery log, the
//! webhook signing secret and "send a test" (see `crate::alerts`).

use super::doc::{Conflict, Forbidden, Invalid, NotFound, TenantPath, Unauthorized};
use super::json::Json;
use super::query::Query;
use crate::access::AdminAccess;
use crate::alerts::send;
use crate::db::alerts as store;
use crate::state::AppState;
use crate::{outbound, Error, Result};
use app::api::access::AuditAction;
use app::api::alerts::{
    AlertTrigger, Channel, ChannelInput, ChannelKind, Delivery, Rule, RuleInput, SigningSecret,
    SigningSecretState,
};
use app::api::query::DeliveryQuery;
use app::api::FieldError;
use app::types::ProcessId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(delete_channel))
        .routes(routes!(test_channel))
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(delete_rule))
        .routes(routes!(list_deliveries))
        .routes(routes!(secret_state, rotate_secret))
}

/// Checks a channel's target for its kind; the target to store.
async fn channel_target(
    state: &AppState,
    input: &ChannelInput,
    errors: &mut Vec<FieldError>,
) -> String {
    let target = input.target.trim().to_owned();
    match input.kind {
        ChannelKind::Webhook | ChannelKind::Slack => {
            let shaped = (target.starts_with("https://") || target.starts_with("http://"))
                && !target.contains(char::is_whitespace)
                && target.len() <= 2000;
            let checked = if shaped {
                state.engine.outbound().check_reachable(&target).await
            } else {
                Err(outbound::Refusal::NotHttp(target.clone()))
            };
            match checked {
                Ok(()) => {}
                Err(outbound::Refusal::NotHttp(_)) => errors.push(FieldError::new(
                    "target",
                    "pattern",
                    "an http(s) URL to POST the alerts to",
                )),
                Err(refusal) => {
                    errors.push(FieldError::new("target", "refused", refusal.to_string()))
                }
            }
        }
        ChannelKind::Email => {
            if !state.alerts.email_ready() {
                errors.push(FieldError::new(
                    "kind",
                    "not_configured",
                    "email is not set up on this platform: a platform admin sets \
                     TRELLIS_SMTP_URL and TRELLIS_SMTP_FROM",
                ));
            }
            match send::addresses(&target) {
                Ok(list) if list.len() > 20 => errors.push(FieldError::new(
                    "target",
                    "too_many",
                    "at most 20 addresses",
                )),
                Ok(_) => {}
                Err(why) => errors.push(FieldError::new("target", "pattern", why)),
            }
        }
    }
    target
}

/// The tenant's alert channels.
#[utoipa::path(get, path = "/tenants/{tenant}/alerts/channels", tag = "alerts",
    params(TenantPath), responses(
    (status = 200, body = [Channel]),
    Unauthorized,
    Forbidden,
    NotFound))]
async fn list_channels(
    State(state): State<AppState>,
    access: AdminAccess,
) -> Result<axum::Json<Vec<Channel>>> {
    Ok(axum::Json(
        store::channels(&state.db, &access.tenant).await?,
    ))
}

/// Creates a channel. The tenant's first webhook channel makes its signing
/// secret, which this answer carries once (`signing_secret`).
#[utoipa::path(post, path = "/tenants/{tenant}/alerts/channels", tag = "alerts", request_body = ChannelInput,
    params(TenantPath), responses(
    (status = 201, body = Channel),
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Invalid))]
async fn create_channel(
    State(state): State<AppState>,
    access: AdminAccess,
    Json(input): Json<ChannelInput>,
) -> Result<(StatusCode, axum::Json<Channel>)> {
    let mut errors = Vec::new();
    let name = input.name.trim().to_owned();
    if !(1..=100).contains(&name.chars().count()) {
        errors.push(FieldError::new("name", "length", "1 to 100 characters"));
    }
    let target = channel_target(&state, &input, &mut errors).await;
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let id = store::insert_channel(&state.db, &access.tenant, &name, input.kind, &target)
        .await
        .map_err(|e| {
            Error::taken(
                e,
                "name",
                format!("a channel named `{name}` already exists"),
            )
        })?;
    let mut channel = store::channel(&state.db, &access.tenant, &id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("channel `{id}`")))?;
    if input.kind == ChannelKind::Webhook {
        channel.signing_secret = state
            .alerts
            .new_secret(&access.tenant, true)
            .await?
            .map(|(secret, _)| secret);
    }
    access
        .audit(
            &state.db,
            AuditAction::AlertChannelCreate,
            &id,
            Some(serde_json::json!({ "name": name, "kind": input.kind })),
        )
        .await;
    Ok((StatusCode::CREATED, axum::Json(channel)))
}

async fn load_channel(state: &AppState, access: &AdminAccess, id: &str) -> Result<Channel> {
    store::channel(&state.db, &access.tenant, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("channel `{id}`")))
}

/// Deletes a channel and the rules that send to it (its deliveries stay in
/// the log).
#[utoipa::path(delete, path = "/tenants/{tenant}/alerts/channels/{channel}", tag = "alerts",
    params(TenantPath, ("channel" = String, Path, description = "The channel's id")),
    responses(
    (status = 204, description = "Deleted"),
    Unauthorized,
    Forbidden,
    NotFound))]
async fn delete_channel(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let channel = load_channel(&state, &access, &id).await?;
    store::delete_channel(&state.db, &access.tenant, &id).await?;
    access
        .audit(
            &state.db,
            AuditAction::AlertChannelDelete,
            &id,
            Some(serde_json::json!({ "name": channel.name })),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test alert through a channel: answers its delivery (pending),
/// which the delivery log shows as it is attempted.
#[utoipa::path(post, path = "/tenants/{tenant}/alerts/channels/{channel}/test", tag = "alerts",
    params(TenantPath, ("channel" = String, Path, description = "The channel's id")),
    responses(
    (status = 202, body = Delivery),
    Unauthorized,
    Forbidden,
    NotFound))]
async fn test_channel(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<(StatusCode, axum::Json<Delivery>)> {
    let channel = load_channel(&state, &access, &id).await?;
    let delivery = state.alerts.send_test(&access.tenant, &channel).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(delivery)))
}

/// The tenant's rules: its defaults first, then each process's.
#[utoipa::path(get, path = "/tenants/{tenant}/alerts/rules", tag = "alerts",
    params(TenantPath), responses(
    (status = 200, body = [Rule]),
    Unauthorized,
    Forbidden,
    NotFound))]
async fn list_rules(
    State(state): State<AppState>,
    access: AdminAccess,
) -> Result<axum::Json<Vec<Rule>>> {
    Ok(axum::Json(store::rules(&state.db, &access.tenant).await?))
}

/// Creates a rule: for one process, or (without `process`) the tenant
/// default for every process without rules of its own.
#[utoipa::path(post, path = "/tenants/{tenant}/alerts/rules", tag = "alerts", request_body = RuleInput,
    params(TenantPath), responses(
    (status = 201, body = Rule),
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Invalid))]
async fn create_rule(
    State(state): State<AppState>,
    access: AdminAccess,
    Json(input): Json<RuleInput>,
) -> Result<(StatusCode, axum::Json<Rule>)> {
    let mut errors = Vec::new();
    let process = input
        .process
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(ProcessId::from);
    if let Some(p) = &process {
        let found = crate::db::processes::get(&state.db, &access.tenant, p).await?;
        if found.is_none() {
            errors.push(FieldError::new(
                "process",
                "not_found",
                format!("no process `{p}` in this tenant"),
            ));
        }
    }
    let range = match input.trigger {
        AlertTrigger::Overdue => Some(1..=10_080),
        AlertTrigger::FailureStreak => Some(2..=100),
        _ => None,
    };
    match (range, input.threshold) {
        (Some(range), Some(n)) if range.contains(&n) => {}
        (Some(range), _) => errors.push(FieldError::new(
            "threshold",
            "range",
            format!(
                "{} from {} to {}",
                input.trigger.threshold_unit().unwrap_or(""),
                range.start(),
                range.end()
            ),
        )),
        (None, Some(_)) => errors.push(FieldError::new(
            "threshold",
            "not_allowed",
            format!("leave it out: `{}` has no threshold", input.trigger),
        )),
        (None, None) => {}
    }
    let channel = store::channel(&state.db, &access.tenant, input.channel.trim()).await?;
    if channel.is_none() {
        errors.push(FieldError::new(
            "channel",
            "not_found",
            format!("no channel `{}` in this tenant", input.channel.trim()),
        ));
    }
    let (Some(channel), true) = (channel, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let id = store::insert_rule(
        &state.db,
        &access.tenant,
        process.as_ref(),
        input.trigger,
        input.threshold,
        &channel.id,
    )
    .await
    .map_err(|e| Error::taken(e, "trigger", "the same rule exists already"))?;
    access
        .audit(
            &state.db,
            AuditAction::AlertRuleCreate,
            &id,
            Some(serde_json::json!({
                "process": process, "trigger": input.trigger,
                "threshold": input.threshold, "channel": channel.name,
            })),
        )
        .await;
    let rule = store::rule(&state.db, &access.tenant, &id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("rule `{id}`")))?;
    Ok((StatusCode::CREATED, axum::Json(rule)))
}

/// Deletes a rule.
#[utoipa::path(delete, path = "/tenants/{tenant}/alerts/rules/{rule}", tag = "alerts",
    params(TenantPath, ("rule" = String, Path, description = "The rule's id")),
    responses(
    (status = 204, description = "Deleted"),
    Unauthorized,
    Forbidden,
    NotFound))]
async fn delete_rule(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    if !store::delete_rule(&state.db, &access.tenant, &id).await? {
        return Err(Error::NotFound(format!("rule `{id}`")));
    }
    access
        .audit(&state.db, AuditAction::AlertRuleDelete, &id, None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The delivery log, newest first: each alert sent to each channel, with
/// its attempts, state and last error.
#[utoipa::path(get, path = "/tenants/{tenant}/alerts/deliveries", tag = "alerts",
    params(TenantPath, DeliveryQuery), responses(
    (status = 200, body = [Delivery]),
    Unauthorized,
    Forbidden,
    NotFound,
    Invalid))]
async fn list_deliveries(
    State(state): State<AppState>,
    access: AdminAccess,
    Query(query): Query<DeliveryQuery>,
) -> Result<axum::Json<Vec<Delivery>>> {
    if query.limit.is_some_and(|l| !(1..=500).contains(&l)) {
        return Err(Error::Validation(vec![FieldError::new(
            "limit",
            "range",
            "from 1 to 500",
        )]));
    }
    Ok(axum::Json(
        store::deliveries(&state.db, &access.tenant, &query).await?,
    ))
}

/// Whether the tenant has a webhook signing secret (never the secret).
#[utoipa::path(get, path = "/tenants/{tenant}/alerts/signing-secret", tag = "alerts",
    params(TenantPath), responses(
    (status = 200, body = SigningSecretState),
    Unauthorized,
    Forbidden,
    NotFound))]
async fn secret_state(
    State(state): State<AppState>,
    access: AdminAccess,
) -> Result<axum::Json<SigningSecretState>> {
    let stored = store::signing_secret(&state.db, &access.tenant).await?;
    Ok(axum::Json(SigningSecretState {
        created_at: stored.map(|(_, at)| at),
    }))
}

/// Makes a new signing secret, shown in this answer only; webhooks are
/// signed with it from now on (the old one stops at once).
#[utoipa::path(post, path = "/tenants/{tenant}/alerts/signing-secret", tag = "alerts",
    params(TenantPath), responses(
    (status = 201, body = SigningSecret),
    Unauthorized,
    Forbidden,
    NotFound))]
async fn rotate_secret(
    State(state): State<AppState>,
    access: AdminAccess,
) -> Result<(StatusCode, axum::Json<SigningSecret>)> {
    let (secret, created_at) = state
        .alerts
        .new_secret(&access.tenant, false)
        .await?
        .ok_or_else(|| Error::NotFound("tenant".into()))?;
    access
        .audit(
            &state.db,
            AuditAction::AlertSecretRotate,
            "signing-secret",
            None,
        )
        .await;
    Ok((
        StatusCode::CREATED,
        axum::Json(SigningSecret { secret, created_at }),
    ))
}

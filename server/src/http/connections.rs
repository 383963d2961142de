//! Tenant AWS connections: tenant admins create, change, test and delete
//! them, and read the tenant's external id and trust policy; every member
//! can list them (to pick one). Secrets are write-only. Every connection
//! assumes a role; static keys only where the platform allows them.

use super::doc::{Forbidden, Invalid, NotFound, TenantPath, Unauthorized};
use super::json::Json;
use crate::access::{AdminAccess, TenantAccess};
use crate::aws;
use crate::db::connections::{self, Fields, Stored};
use crate::outbound;
use crate::state::AppState;
use crate::{Error, Result};
use app::api::access::AuditAction;
use app::api::connections::{Connection, ConnectionInput, ConnectionTest, ExternalId};
use app::api::{FieldError, Problem};
use app::types::ConnectionId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(external_id))
        .routes(routes!(read, replace, remove))
        .routes(routes!(test))
}

fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|name| !name.is_empty())
}

/// Checks the input; answers the fields to store (secrets sealed), keeping
/// `current`'s secrets where the input leaves them out.
async fn fields(
    state: &AppState,
    access: &TenantAccess,
    input: ConnectionInput,
    current: Option<&Stored>,
) -> Result<Fields> {
    let mut errors = Vec::new();
    let name = input.name.trim().to_owned();
    if !(1..=100).contains(&name.chars().count()) {
        errors.push(FieldError::new("name", "length", "1 to 100 characters"));
    }
    if !is_region(&input.region) {
        errors.push(FieldError::new(
            "region",
            "pattern",
            "an AWS region such as `eu-west-1`",
        ));
    }
    let role_arn = input
        .role_arn
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_default();
    if role_arn.is_empty() {
        errors.push(FieldError::new(
            "role_arn",
            "required",
            "a role for Trellis to assume, trusting it with this tenant's external id: \
             Trellis never uses its own AWS identity for a tenant's work",
        ));
    } else if !is_role_arn(&role_arn) {
        errors.push(FieldError::new(
            "role_arn",
            "pattern",
            "a role ARN such as `arn:aws:iam::123456789012:role/trellis`",
        ));
    }
    let session_seconds = input.session_duration_seconds.unwrap_or(3600);
    if !(900..=43_200).contains(&session_seconds) {
        errors.push(FieldError::new(
            "session_duration_seconds",
            "range",
            "between 900 and 43200 seconds",
        ));
    }
    let cluster_id = input.cluster_id.trim().to_owned();
    let cluster_ok = cluster_id
        .strip_prefix("j-")
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !cluster_ok {
        errors.push(FieldError::new(
            "cluster_id",
            "pattern",
            "an EMR cluster id such as `j-2AXXXXXXGAPLF`",
        ));
    }
    if input.airflow_conn_id.is_some() {
        errors.push(FieldError::new(
            "airflow_conn_id",
            "read_only",
            "Trellis names and keeps this connection's Airflow connection itself \
             (trellis_<tenant>_<connection>); leave airflow_conn_id out",
        ));
    }
    let endpoint_url = input
        .endpoint_url
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty());
    if let Some(url) = endpoint_url.as_deref() {
        let shaped = (url.starts_with("https://") || url.starts_with("http://"))
            && !url.contains(char::is_whitespace);
        let checked = if shaped {
            state.engine.outbound().check_reachable(url).await
        } else {
            Err(outbound::Refusal::NotHttp(url.to_owned()))
        };
        match checked {
            Ok(()) => {}
            Err(outbound::Refusal::NotHttp(_)) => errors.push(FieldError::new(
                "endpoint_url",
                "pattern",
                "an http(s) URL, or empty for AWS's own endpoints",
            )),
            Err(refusal) => errors.push(FieldError::new(
                "endpoint_url",
                "refused",
                refusal.to_string(),
            )),
        }
    }
    let context = access.tenant.as_str();
    let sealer = state.engine.sealer();
    let access_key_id = input
        .access_key_id
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty());
    let given_secret = input.secret_access_key.map(|v| v.filter(|v| !v.is_empty()));
    let (access_key_id, secret_access_key) = if state.engine.aws().allow_static_keys {
        if access_key_id.as_deref().is_some_and(|k| {
            !(16..=128).contains(&k.len()) || !k.bytes().all(|b| b.is_ascii_alphanumeric())
        }) {
            errors.push(FieldError::new(
                "access_key_id",
                "pattern",
                "an access key id such as `AKIA…` (16 to 128 letters and digits)",
            ));
        }
        let secret = match given_secret {
            None => current.and_then(|c| c.secret_access_key.clone()),
            Some(v) => v.map(|v| sealer.seal(context, &v)),
        };
        if access_key_id.is_some() != secret.is_some() {
            errors.push(FieldError::new(
                "secret_access_key",
                "required",
                "static keys need both the access key id and the secret access key",
            ));
        }
        (access_key_id, secret)
    } else {
        // Keys stored while they were allowed go with the next change.
        if access_key_id.is_some() || given_secret.flatten().is_some() {
            errors.push(FieldError::new(
                "access_key_id",
                "not_allowed",
                "static AWS keys are not allowed on this platform: leave them out; \
                 Trellis assumes the role with its own identity and this tenant's external id",
            ));
        }
        (None, None)
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(Fields {
        name,
        region: input.region,
        role_arn,
        session_seconds,
        cluster_id,
        endpoint_url,
        access_key_id,
        secret_access_key,
    })
}

async fn load(state: &AppState, access: &TenantAccess, id: &ConnectionId) -> Result<Stored> {
    connections::get(&state.db, &access.tenant, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("connection `{id}`")))
}

/// The tenant's connections (no secrets).
#[utoipa::path(get, path = "/tenants/{tenant}/connections", tag = "connections",
    params(TenantPath), responses(
    (status = 200, body = [Connection]),
    Unauthorized,
    NotFound))]
async fn list(
    State(state): State<AppState>,
    access: TenantAccess,
) -> Result<axum::Json<Vec<Connection>>> {
    let all = connections::list(&state.db, &access.tenant).await?;
    Ok(axum::Json(all.into_iter().map(|c| c.public).collect()))
}

/// Creates a connection (tenant admins).
#[utoipa::path(post, path = "/tenants/{tenant}/connections", tag = "connections", request_body = ConnectionInput,
    params(TenantPath), responses(
    (status = 201, body = Connection),
    Unauthorized,
    Forbidden,
    NotFound,
    (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
    Invalid))]
async fn create(
    State(state): State<AppState>,
    access: AdminAccess,
    Json(input): Json<ConnectionInput>,
) -> Result<(StatusCode, axum::Json<Connection>)> {
    let f = fields(&state, &access, input, None).await?;
    let id = connections::insert(&state.db, &access.tenant, &f)
        .await
        .map_err(|e| {
            Error::taken(
                e,
                "name",
                format!("a connection named `{}` already exists", f.name),
            )
        })?;
    state
        .engine
        .keep_airflow_connection(&access.tenant, &access.slug, &id);
    access
        .audit(
            &state.db,
            AuditAction::ConnectionCreate,
            id.as_str(),
            Some(serde_json::json!({ "name": f.name })),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        axum::Json(load(&state, &access, &id).await?.public),
    ))
}

/// The tenant's external id (made by Trellis, sent with every
/// `AssumeRole` into the tenant's roles) and the trust policy to give each
/// role, naming the Trellis principal and demanding that id (tenant admins).
#[utoipa::path(get, path = "/tenants/{tenant}/connections/external-id", tag = "connections",
    params(TenantPath), responses(
    (status = 200, body = ExternalId),
    Unauthorized,
    Forbidden,
    NotFound))]
async fn external_id(
    State(state): State<AppState>,
    access: AdminAccess,
) -> Result<axum::Json<ExternalId>> {
    let external_id = crate::db::tenants::aws_external_id(&state.db, &access.tenant).await?;
    let principal_arn = state.engine.aws().principal_arn.clone();
    Ok(axum::Json(ExternalId {
        trust_policy: app::api::connections::trust_policy(principal_arn.as_deref(), &external_id),
        external_id,
        principal_arn,
    }))
}

/// A connection (no secrets).
#[utoipa::path(get, path = "/tenants/{tenant}/connections/{connection}", tag = "connections",
    params(TenantPath, ("connection" = String, Path, description = "The connection's id")),
    responses(
    (status = 200, body = Connection),
    Unauthorized,
    NotFound))]
async fn read(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, ConnectionId)>,
) -> Result<axum::Json<Connection>> {
    Ok(axum::Json(load(&state, &access, &id).await?.public))
}

/// Replaces a connection (tenant admins). Leave out `secret_access_key` to
/// keep it; send `null` to remove it. Its cached credentials go: the next
/// call through it uses the new settings.
#[utoipa::path(put, path = "/tenants/{tenant}/connections/{connection}", tag = "connections", request_body = ConnectionInput,
    params(TenantPath, ("connection" = String, Path, description = "The connection's id")),
    responses(
    (status = 200, body = Connection),
    Unauthorized,
    Forbidden,
    NotFound,
    (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
    Invalid))]
async fn replace(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((_, id)): Path<(String, ConnectionId)>,
    Json(input): Json<ConnectionInput>,
) -> Result<axum::Json<Connection>> {
    let current = load(&state, &access, &id).await?;
    let f = fields(&state, &access, input, Some(&current)).await?;
    connections::update(&state.db, &access.tenant, &id, &f)
        .await
        .map_err(|e| {
            Error::taken(
                e,
                "name",
                format!("a connection named `{}` already exists", f.name),
            )
        })?;
    state.engine.connection_changed(&access.tenant, &id);
    state
        .engine
        .keep_airflow_connection(&access.tenant, &access.slug, &id);
    access
        .audit(
            &state.db,
            AuditAction::ConnectionChange,
            id.as_str(),
            Some(serde_json::json!({ "name": f.name })),
        )
        .await;
    Ok(axum::Json(load(&state, &access, &id).await?.public))
}

/// Deletes a connection (tenant admins). Its use stops at once: watches of
/// its steps fail, and nothing calls AWS with it again.
#[utoipa::path(delete, path = "/tenants/{tenant}/connections/{connection}", tag = "connections",
    params(TenantPath, ("connection" = String, Path, description = "The connection's id")),
    responses(
    (status = 204, description = "Deleted"),
    Unauthorized,
    Forbidden,
    NotFound))]
async fn remove(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((_, id)): Path<(String, ConnectionId)>,
) -> Result<StatusCode> {
    let current = load(&state, &access, &id).await?;
    connections::delete(&state.db, &access.tenant, &id).await?;
    state.engine.connection_deleted(&access.tenant, &id);
    state
        .engine
        .drop_airflow_connection(&current.public.airflow_conn_id);
    access
        .audit(
            &state.db,
            AuditAction::ConnectionDelete,
            id.as_str(),
            Some(serde_json::json!({ "name": current.public.name })),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Tests a connection: assumes its role (with the tenant's external id) and
/// describes its cluster with the role's credentials. A connection the
/// platform will not use (no role, static keys not allowed) answers 422; a
/// failure on the AWS side answers 502; both name the field to look at.
#[utoipa::path(post, path = "/tenants/{tenant}/connections/{connection}/test", tag = "connections",
    params(TenantPath, ("connection" = String, Path, description = "The connection's id")),
    responses(
    (status = 200, body = ConnectionTest),
    Unauthorized,
    Forbidden,
    NotFound,
    Invalid,
    (status = 502, description = "AWS refused or could not be reached; `errors` names the field and why", body = Problem, content_type = "application/problem+json")))]
async fn test(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((_, id)): Path<(String, ConnectionId)>,
) -> Result<axum::Json<ConnectionTest>> {
    let current = load(&state, &access, &id).await?;
    let external_id = crate::db::tenants::aws_external_id(&state.db, &access.tenant).await?;
    let opening = aws::Opening {
        tenant: &access.tenant,
        external_id,
        session_name: format!("trellis-{}", access.slug),
        sealer: state.engine.sealer(),
        outbound: state.engine.outbound(),
        platform: state.engine.aws(),
    };
    let target = aws::Target::open(&current, &opening).map_err(|refused| {
        Error::Validation(vec![FieldError::new(
            refused.field,
            refused.code,
            refused.message,
        )])
    })?;
    match aws::test(&target).await {
        Ok(found) => Ok(axum::Json(found)),
        Err(failure) => Err(Error::Upstream(FieldError::new(
            failure.field,
            failure.code,
            failure.message,
        ))),
    }
}

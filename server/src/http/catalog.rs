//! The component catalog: every member reads it; platform admins edit it.

use super::doc::{Conflict, Forbidden, Invalid, NotFound, TenantPath, Unauthorized};
use super::json::Json;
use crate::access::{PlatformAdmin, TenantAccess};
use crate::db::catalog;
use crate::state::AppState;
use crate::{Error, Result};
use app::api::FieldError;
use app::types::component::ComponentType;
use app::types::ComponentKey;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(create))
        .routes(routes!(update))
}

/// The component catalog.
#[utoipa::path(get, path = "/tenants/{tenant}/components", tag = "catalog", params(TenantPath),
    responses((status = 200, body = [ComponentType]), Unauthorized, NotFound))]
async fn list(
    State(state): State<AppState>,
    _access: TenantAccess,
) -> Result<axum::Json<Vec<ComponentType>>> {
    Ok(axum::Json(catalog::list(&state.db).await?))
}

fn validated(component: &ComponentType) -> Result<()> {
    let errors = app::validate::validate_component(component);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// Adds a catalog entry (platform admins).
#[utoipa::path(post, path = "/admin/components", tag = "catalog", request_body = ComponentType,
    responses((status = 201, body = ComponentType), Unauthorized, Forbidden, Conflict, Invalid))]
async fn create(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    Json(component): Json<ComponentType>,
) -> Result<(StatusCode, axum::Json<ComponentType>)> {
    validated(&component)?;
    if !catalog::insert(&state.db, &component).await? {
        return Err(Error::Conflict {
            field: Some("key".into()),
            message: format!("component `{}` already exists", component.key),
        });
    }
    Ok((StatusCode::CREATED, axum::Json(component)))
}

/// Replaces a catalog entry (platform admins).
#[utoipa::path(put, path = "/admin/components/{key}", tag = "catalog", request_body = ComponentType,
    params(("key" = String, Path, description = "The component key")),
    responses((status = 200, body = ComponentType), Unauthorized, Forbidden, NotFound, Invalid))]
async fn update(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    Path(key): Path<ComponentKey>,
    Json(component): Json<ComponentType>,
) -> Result<axum::Json<ComponentType>> {
    if component.key != key {
        return Err(Error::Validation(vec![FieldError::new(
            "key",
            "mismatch",
            format!(
                "the body's key `{}` differs from the path's `{key}`",
                component.key
            ),
        )]));
    }
    validated(&component)?;
    if !catalog::update(&state.db, &component).await? {
        return Err(Error::NotFound(format!("component `{key}`")));
    }
    Ok(axum::Json(component))
}

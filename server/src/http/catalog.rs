//! The component catalog: every member reads it; platform admins edit it.

use super::json::Json;
use crate::auth::{Caller, TenantAccess};
use crate::db::catalog;
use crate::state::AppState;
use crate::{Error, Result};
use app::api::FieldError;
use app::types::component::ComponentType;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants/{tenant}/components", get(list))
        .route("/admin/components", post(create))
        .route("/admin/components/{key}", put(update))
}

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

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(component): Json<ComponentType>,
) -> Result<(StatusCode, axum::Json<ComponentType>)> {
    caller.require_platform_admin()?;
    validated(&component)?;
    if !catalog::insert(&state.db, &component, true).await? {
        return Err(Error::Conflict {
            field: Some("key".into()),
            message: format!("component `{}` already exists", component.key),
        });
    }
    Ok((StatusCode::CREATED, axum::Json(component)))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    Json(component): Json<ComponentType>,
) -> Result<axum::Json<ComponentType>> {
    caller.require_platform_admin()?;
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

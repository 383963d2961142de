//! What many routes share in the OpenAPI document, written once: the
//! `{tenant}` path parameter and the problem responses every guarded route
//! can give. The types are only described, never built.
#![allow(dead_code)]

use app::api::Problem;

/// The `{tenant}` path segment.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TenantPath {
    /// The tenant's slug
    tenant: String,
}

/// 401: no credentials, or ones that are unknown, revoked or expired.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 401,
    description = "Not signed in",
    content_type = "application/problem+json"
)]
pub struct Unauthorized(Problem);

/// 403: the caller's role is below what the route needs.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 403,
    description = "The role is too low",
    content_type = "application/problem+json"
)]
pub struct Forbidden(Problem);

/// 404: no such object here; also what another tenant's objects answer.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 404,
    description = "No such object, or another tenant's",
    content_type = "application/problem+json"
)]
pub struct NotFound(Problem);

/// 409: the request conflicts with the current state.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 409,
    description = "Conflict",
    content_type = "application/problem+json"
)]
pub struct Conflict(Problem);

/// 422: the request is malformed; every problem is listed.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 422,
    description = "Invalid request; every problem is listed",
    content_type = "application/problem+json"
)]
pub struct Invalid(Problem);

/// 429: the caller already has as many live streams open as a user may.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 429,
    description = "The user has as many live streams open as allowed (`TRELLIS_MAX_STREAMS_PER_USER`); close one",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))
)]
pub struct TooManyStreams(Problem);

//! What many routes share in the OpenAPI document, written once: the
//! `{tenant}` path parameter, the problem responses every guarded route can
//! give, and the ones a whole class of routes gives (added by [`complete`]).
//! The types are only described, never built.
#![allow(dead_code)]

use app::api::Problem;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::OpenApi;
use utoipa::openapi::RefOr;
use utoipa::IntoResponses;

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

/// 400: the request does not parse: the body is not JSON, or a query
/// string or path segment is not of its type.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 400,
    description = "Malformed: the body is not valid JSON, or the query string or a path segment does not parse",
    content_type = "application/problem+json"
)]
pub struct BadRequest(Problem);

/// 413: the body is over the server's limit (`TRELLIS_MAX_BODY_BYTES`).
#[derive(utoipa::IntoResponses)]
#[response(
    status = 413,
    description = "The body is larger than the server accepts",
    content_type = "application/problem+json"
)]
pub struct PayloadTooLarge(Problem);

/// 415: a body sent as something other than JSON.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 415,
    description = "The body is not sent as application/json",
    content_type = "application/problem+json"
)]
pub struct UnsupportedMediaType(Problem);

/// 429: a limit was reached; `Retry-After` says when to try again.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 429,
    description = "Too many attempts; try again after Retry-After seconds",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))
)]
pub struct TooManyRequests(Problem);

/// Adds what a whole class of routes can answer, so that no route can
/// forget it: every route with a JSON body can answer 400 (not JSON), 413
/// (too large), 415 (not sent as JSON) and 422 (not of its shape); every
/// route with a path or query parameter can answer 400 (does not parse),
/// every route with a query parameter 422 (one holds the NUL character).
/// A route's own description of a status wins. An optional header is
/// absent or a value, never `null` (a header cannot be null; the derive
/// marks an `Option` as nullable).
pub fn complete(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let has_parameters = operation.parameters.as_ref().is_some_and(|p| {
                p.iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query))
            });
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in == ParameterIn::Header {
                    if let Some(RefOr::T(Schema::Object(object))) = &mut parameter.schema {
                        if let SchemaType::Array(types) = &object.schema_type {
                            let types: Vec<Type> = types
                                .iter()
                                .filter(|t| **t != Type::Null)
                                .cloned()
                                .collect();
                            object.schema_type = match types.as_slice() {
                                [one] => SchemaType::Type(one.clone()),
                                _ => SchemaType::Array(types),
                            };
                        }
                    }
                }
            }
            let has_query = operation
                .parameters
                .as_ref()
                .is_some_and(|p| p.iter().any(|p| p.parameter_in == ParameterIn::Query));
            let mut shared = Vec::new();
            if has_query {
                // A text parameter holding the NUL character (`query::Query`).
                shared.push(Invalid::responses());
            }
            if operation.request_body.is_some() {
                shared.extend([
                    BadRequest::responses(),
                    PayloadTooLarge::responses(),
                    UnsupportedMediaType::responses(),
                    Invalid::responses(),
                ]);
            } else if has_parameters {
                shared.push(BadRequest::responses());
            }
            for (status, response) in shared.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .entry(status)
                    .or_insert(response);
            }
        }
    }
}

/// 429: the caller already has as many live streams open as a user may.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 429,
    description = "The user has as many live streams open as allowed (`TRELLIS_MAX_STREAMS_PER_USER`); close one",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))
)]
pub struct TooManyStreams(Problem);

/// One server-sent event as a stream carries it (`text/event-stream`):
/// `data` is one JSON-encoded [`app::api::runs::RunEvent`], `id` its number.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SseEvent {
    /// The event's number (`seq`), for `Last-Event-ID`.
    id: Option<String>,
    /// Always `message`.
    event: Option<String>,
    /// A `RunEvent` as JSON.
    data: String,
}

//! The HTTP surface: the REST API under `/api`, health probes, and the
//! server-rendered pages. Each module owns its `router()`; this one merges
//! them and adds the layers every response goes through.

mod admin;
mod airflow;
mod alerts;
mod backfills;
mod catalog;
mod connections;
mod csp;
mod datasets;
mod definitions;
mod doc;
mod files;
mod health;
pub mod json;
mod live;
mod members;
mod oidc;
mod problem;
mod processes;
mod query;
mod retry;
mod runs;
mod schedules;
mod session;
mod templates;
mod versions;

use crate::state::AppState;
use crate::Error;
use axum::extract::{DefaultBodyLimit, OriginalUri, Request};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::Response;
use axum::routing::{any, get};
use axum::{middleware, Json, Router};
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeader;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Trellis API", description = "Self-service data-pipeline orchestration. \
        Errors are RFC 9457 problem details (application/problem+json)."),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Sign-in sessions and single sign-on"),
        (name = "admin", description = "Platform administration: tenants and users"),
        (name = "members", description = "A tenant's members and audit log"),
        (name = "tokens", description = "API tokens for automation"),
        (name = "connections", description = "Tenant AWS connections (secrets write-only)"),
        (name = "catalog", description = "The component catalog"),
        (name = "processes", description = "Processes and their drafts; copies, definition files (export and import)"),
        (name = "templates", description = "The template gallery: built-in templates and the tenant's own"),
        (name = "versions", description = "Immutable published versions"),
        (name = "runs", description = "Runs, stops, retries and live events"),
        (name = "schedules", description = "When processes run by themselves"),
        (name = "backfills", description = "One run per fire time over a range"),
        (name = "datasets", description = "Datasets the data components wrote"),
        (name = "files", description = "The tenant's data folder: files the data components read"),
        (name = "alerts", description = "Alert channels, rules and deliveries (tenant admins)"),
    ),
    // Enums that only query parameters name (by `value_type`).
    components(schemas(
        app::api::runs::StopMode,
        app::api::backfills::CancelMode,
        app::api::timing::CronExpression,
        app::api::timing::TimeZoneName,
        app::api::query::AuditActionFilter,
        app::api::query::RunStates,
        app::api::query::RunOrigins
    ))
)]
struct ApiDoc;

/// Every documented route, and the OpenAPI document that describes exactly them.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .merge(session::router())
        .merge(admin::router())
        .merge(members::router())
        .merge(oidc::router())
        .merge(connections::router())
        .merge(catalog::router())
        .merge(processes::router())
        .merge(definitions::router())
        .merge(templates::router())
        .merge(versions::router())
        .merge(runs::router())
        .merge(live::router())
        .merge(retry::router())
        .merge(airflow::router())
        .merge(schedules::router())
        .merge(backfills::router())
        .merge(datasets::router())
        .merge(files::router())
        .merge(alerts::router());
    let (routes, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .nest("/api/v1", v1)
        .split_for_parts();
    doc::complete(&mut openapi);
    (routes, openapi)
}

/// The whole application, exactly as production serves it.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = api();
    let openapi = Arc::new(openapi);

    let routes = generate_route_list(app::App);
    let leptos = state.leptos.clone();
    let bundle = bundle(&leptos);
    let limit = state.http.max_body_bytes;
    let https = state.http.auth.secure_cookies;

    Router::new()
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(openapi.as_ref().clone()) }),
        )
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .route("/metrics", get(metrics_text))
        .route_service(
            &leptos_axum::site_pkg_dir_service_route_path(&leptos),
            bundle,
        )
        .leptos_routes(&state, routes, move || csp::shell(leptos.clone()))
        .route_layer(middleware::from_fn(count_request))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            csp::shell,
        ))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(middleware::map_response(move |r: Response| {
                    security_headers(r, https)
                }))
                .layer(middleware::from_fn(problem::normalize))
                .layer(middleware::from_fn(refuse_nul))
                .layer(CatchPanicLayer::new())
                .layer(middleware::from_fn(move |req: Request, next| {
                    limit_body(limit, req, next)
                }))
                .layer(DefaultBodyLimit::max(limit)),
        )
}

/// Bounds every request body by the API's limit (413 past it), except an
/// upload's, which its handler bounds by the upload limit as it streams.
async fn limit_body(limit: usize, req: Request, next: axum::middleware::Next) -> Response {
    use axum::response::IntoResponse;
    if files::is_upload(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return crate::Error::PayloadTooLarge(format!(
            "the request body is larger than {limit} bytes"
        ))
        .into_response();
    }
    next.run(req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, limit))))
        .await
}

/// Counts every answered request by its route's template (`/api/v1/
/// tenants/{tenant}/runs/{run}`, never the ids in it) and status.
async fn count_request(req: Request, next: axum::middleware::Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    // Names the request's span (exported as a trace, see `telemetry`) by
    // its route.
    let span = tracing::Span::current();
    span.record("route", route.as_str());
    span.record("otel.name", format!("{method} {route}").as_str());
    let began = std::time::Instant::now();
    let response = next.run(req).await;
    span.record("status", response.status().as_u16());
    crate::metrics::http_request(&method, &route, response.status().as_u16(), began.elapsed());
    response
}

/// The server's metrics in Prometheus's text format; with
/// `TRELLIS_METRICS_TOKEN` set, only for `Authorization: Bearer <token>`.
async fn metrics_text(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    use axum::response::IntoResponse;
    use sha2::{Digest, Sha256};
    if let Some(token) = &state.http.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compared as digests: equal lengths, nothing learnt from timing.
        if Sha256::digest(given.as_bytes()) != Sha256::digest(token.as_bytes()) {
            return Error::Unauthorized("the metrics token is missing or wrong".into())
                .into_response();
        }
    }
    crate::metrics::db_pool(&state.db);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::handle().render(),
    )
        .into_response()
}

/// The NUL character, which PostgreSQL cannot store or compare, never
/// reaches a handler from the URL's path: a segment holding one names no
/// object (404). Bodies: [`json::parse`]; query strings: [`query::Query`].
async fn refuse_nul(req: Request, next: axum::middleware::Next) -> Response {
    use axum::response::IntoResponse;
    if req.uri().path().to_ascii_lowercase().contains("%00") {
        return Error::NotFound("an object whose name holds the NUL character".into())
            .into_response();
    }
    next.run(req).await
}

/// Headers every answer carries: no framing by other sites, no content-type
/// sniffing, no full URLs leaking to other origins, and (when Trellis is
/// reached over https) a promise to browsers to keep it that way.
async fn security_headers(mut response: Response, https: bool) -> Response {
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    // Pages set their own, fuller policy with the response's script nonce.
    set(header::CONTENT_SECURITY_POLICY, csp::SHORT);
    set(header::REFERRER_POLICY, "strict-origin-when-cross-origin");
    if https {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    response
}

/// The browser bundle under `/pkg/`, precompressed files first. Its files
/// keep their names from one build to the next (`trellis.wasm`,
/// `chunk_12.wasm`) and the parts a page loads must all come from the same
/// build: browsers revalidate them on every use (`no-cache`; a 304 while
/// unchanged) instead of guessing from their age that an old copy is still
/// good, which after an upgrade would pair an old first load with a new
/// page part.
fn bundle(
    options: &leptos::config::LeptosOptions,
) -> SetResponseHeader<tower_http::services::ServeDir, HeaderValue> {
    SetResponseHeader::if_not_present(
        leptos_axum::site_pkg_dir_service(options),
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    )
}

async fn api_not_found(method: Method, OriginalUri(uri): OriginalUri) -> Error {
    Error::NotFound(format!("API endpoint {method} {}", uri.path()))
}

fn request_span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id,
        route = tracing::field::Empty, status = tracing::field::Empty,
        otel.name = tracing::field::Empty, otel.kind = "server")
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::RefOr;

    /// The shared pieces in `doc` reach every tenant route: the `{tenant}`
    /// parameter first, and the 401 and 404 problems.
    #[test]
    fn every_tenant_route_documents_its_tenant_and_problems() {
        let (_, doc) = super::api();
        let mut checked = 0;
        for (path, item) in &doc.paths.paths {
            if !path.contains("{tenant}") {
                continue;
            }
            let operations = [&item.get, &item.put, &item.post, &item.delete, &item.patch];
            for operation in operations.into_iter().flatten() {
                let parameters = operation.parameters.as_deref().unwrap_or_default();
                let first = parameters.first().expect("parameters");
                assert_eq!(first.name, "tenant", "{path}");
                assert!(matches!(first.parameter_in, ParameterIn::Path), "{path}");
                assert_eq!(first.description.as_deref(), Some("The tenant's slug"));
                for status in ["401", "404"] {
                    let Some(RefOr::T(response)) = operation.responses.responses.get(status) else {
                        panic!("{path} documents {status}");
                    };
                    assert!(
                        response.content.contains_key("application/problem+json"),
                        "{path} {status}"
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 30, "{checked} tenant routes");
    }
}

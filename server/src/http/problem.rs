//! Makes every error response a problem+json body carrying the request id —
//! including the ones produced outside our handlers (413 from the body limit,
//! 405 from the router, 500 from a caught panic, extractor rejections).
//! HTML error pages of the UI are left alone.

use crate::error::problem_response;
use app::api::problem::{Problem, PROBLEM_JSON};
use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

/// Error bodies are small; anything longer is cut before it becomes `detail`.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn normalize(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type.starts_with("text/html") {
        return response;
    }

    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let parsed = (content_type == PROBLEM_JSON)
        .then(|| serde_json::from_slice::<Problem>(&bytes).ok())
        .flatten();
    let mut problem = parsed.unwrap_or_else(|| {
        let problem = Problem::new(
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
        );
        match String::from_utf8_lossy(&bytes).trim() {
            "" => problem,
            text => problem.with_detail(text),
        }
    });
    problem.request_id = request_id;

    let mut out = problem_response(&problem);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

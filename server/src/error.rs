//! The server's one error type. Every variant answers its true HTTP status
//! with an RFC 9457 `application/problem+json` body; internal details are
//! logged once under a reference and never sent to the client.

use app::api::problem::{FieldError, Problem, PROBLEM_JSON};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    #[error("the request is invalid")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    /// AWS (or another service Trellis calls) refused or could not be reached.
    #[error("{}", .0.message)]
    Upstream(FieldError),
    #[error("{message}; try again in {retry_after} s")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Upstream(_) => StatusCode::BAD_GATEWAY,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(e) if unique_violation(e) => StatusCode::CONFLICT,
            Error::Database(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let base = Problem::new(
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
        );
        match self {
            Error::NotFound(_)
            | Error::Unauthorized(_)
            | Error::Forbidden(_)
            | Error::PayloadTooLarge(_)
            | Error::UnsupportedMediaType(_)
            | Error::BadRequest(_)
            | Error::TooManyRequests { .. }
            | Error::Unavailable(_) => base.with_detail(self.to_string()),
            Error::Conflict { field, message } => {
                let errors = field
                    .iter()
                    .map(|f| FieldError::new(f.clone(), "conflict", message.clone()))
                    .collect();
                base.with_kind("/problems/conflict")
                    .with_detail(message.clone())
                    .with_errors(errors)
            }
            Error::Upstream(error) => base
                .with_kind("/problems/upstream")
                .with_detail(error.message.clone())
                .with_errors(vec![error.clone()]),
            Error::Validation(errors) => base
                .with_kind("/problems/validation")
                .with_detail(format!("{} problem(s) in the request", errors.len()))
                .with_errors(errors.clone()),
            Error::Database(e) if unique_violation(e) => base
                .with_kind("/problems/conflict")
                .with_detail("an object with the same unique value already exists"),
            Error::Database(_) | Error::Internal(_) => {
                let reference = uuid::Uuid::new_v4();
                tracing::error!(%reference, error = ?self, "internal error");
                base.with_detail(format!("internal error; reference {reference}"))
            }
        }
    }
}

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Error {
    /// `e` as a 409 on `field` saying `message` when it broke a unique
    /// constraint (a name or key taken); any other database error as is.
    pub fn taken(e: sqlx::Error, field: &str, message: impl Into<String>) -> Error {
        if unique_violation(&e) {
            Error::Conflict {
                field: Some(field.into()),
                message: message.into(),
            }
        } else {
            e.into()
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = problem_response(&self.problem());
        if let Error::TooManyRequests { retry_after, .. } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
        }
        response
    }
}

/// Renders a problem with its status and media type.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_true() {
        assert_eq!(
            Error::NotFound("process `x`".into()).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            Error::Validation(vec![]).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            Error::Conflict {
                field: Some("revision".into()),
                message: "stale".into()
            }
            .status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            Error::Database(sqlx::Error::RowNotFound).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn internal_details_stay_inside() {
        let problem = Error::Internal(anyhow::anyhow!("SELECT secret FROM x failed")).problem();
        let detail = problem.detail.unwrap();
        assert!(detail.starts_with("internal error; reference "), "{detail}");
        assert!(!detail.contains("SELECT"));
    }

    #[test]
    fn conflicts_name_their_field() {
        let problem = Error::Conflict {
            field: Some("revision".into()),
            message: "revision 3 is stale".into(),
        }
        .problem();
        assert_eq!(problem.status, 409);
        assert_eq!(problem.errors[0].field, "revision");
    }
}

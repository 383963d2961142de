//! A query-string extractor: axum's, plus the rule the JSON bodies follow
//! (`json::refuse_nul`): a parameter the route reads never holds the NUL
//! character, which PostgreSQL cannot compare; it is a 422 naming the
//! parameter. Parameters a route does not read are not looked at.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Serialize, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        let read = serde_json::to_value(&value).unwrap_or_default();
        super::json::refuse_nul(&read).map_err(IntoResponse::into_response)?;
        Ok(Query(value))
    }
}

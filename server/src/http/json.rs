//! A JSON body extractor whose rejections are problem+json and name the field:
//! malformed JSON is 400, a body of the wrong shape 422 (with the path of the
//! offending field), a missing content type 415, an oversized body 413.

use crate::Error;
use app::api::FieldError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !is_json {
            return Err(Error::UnsupportedMediaType(
                "send the body as application/json".into(),
            ));
        }
        let bytes =
            Bytes::from_request(req, state)
                .await
                .map_err(|e| match e.status().as_u16() {
                    413 => Error::PayloadTooLarge(e.body_text()),
                    _ => Error::BadRequest(e.body_text()),
                })?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            // serde would read a struct from an array of its fields in
            // order; every body of this API is an object.
            return Err(Error::Validation(vec![FieldError::new(
                "",
                "type",
                "the body must be a JSON object",
            )]));
        }
        parse(&bytes).map(Json)
    }
}

/// Integral numbers written with a fraction (`813.0`) become integers, as
/// JSON Schema counts them (so an `integer` field takes them).
fn integral(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| !n.is_i64() && !n.is_u64()) {
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    *n = serde_json::Number::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral),
        Value::Object(map) => map.values_mut().for_each(integral),
        _ => {}
    }
}

/// The path (as serde names it) of the first string or key holding the NUL
/// character, which PostgreSQL cannot store and SQLite's `length()` stops
/// at: refused everywhere, so that no table or JSON column meets one.
fn nul_at(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => Some(path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(path.to_owned())
            } else {
                nul_at(item, &join(key))
            }
        }),
        _ => None,
    }
}

/// A 422 naming the first field of `value` whose text holds NUL (request
/// bodies here, query strings in `query::Query`).
pub(super) fn refuse_nul(value: &serde_json::Value) -> Result<(), Error> {
    match nul_at(value, "") {
        Some(field) => Err(Error::Validation(vec![FieldError::new(
            field,
            "nul",
            "text cannot hold the NUL character (U+0000)",
        )])),
        None => Ok(()),
    }
}

/// Parses `bytes` as `T`, naming the field on a shape error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::BadRequest(format!("the body is not valid JSON: {e}")))?;
    refuse_nul(&value)?;
    integral(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Error::BadRequest(format!("the body is not valid JSON: {inner}"))
        } else {
            let message = inner.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            let parent = if path == "." { String::new() } else { path };
            // serde reports a missing field on its parent; name the field itself.
            let (field, code) = match message
                .strip_prefix("missing field `")
                .and_then(|m| m.split_once('`'))
            {
                Some((name, _)) if parent.is_empty() => (name.to_owned(), "required"),
                Some((name, _)) => (format!("{parent}.{name}"), "required"),
                None => (parent, "invalid"),
            };
            Error::Validation(vec![FieldError::new(field, code, message)])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Body {
        n: i64,
        f: f64,
        any: serde_json::Value,
    }

    #[test]
    fn integral_numbers_with_a_fraction_are_integers() {
        let body: Body = parse(br#"{"n": 813.0, "f": 2.5, "any": [1.0, 1e300, 0.5]}"#).unwrap();
        assert_eq!(body.n, 813);
        assert_eq!(body.f, 2.5);
        assert_eq!(body.any, serde_json::json!([1, 1e300, 0.5]));
        let Err(Error::Validation(errors)) = parse::<Body>(br#"{"n": 1.5, "f": 1, "any": null}"#)
        else {
            panic!("1.5 is no integer")
        };
        assert_eq!(errors[0].field, "n");
        assert!(matches!(parse::<Body>(b"{"), Err(Error::BadRequest(_))));
    }

    #[test]
    fn the_nul_character_is_refused_where_it_is() {
        let Err(Error::Validation(errors)) =
            parse::<Body>(br#"{"n": 1, "f": 1, "any": {"a": [1, "x\u0000y"]}}"#)
        else {
            panic!("a NUL is refused")
        };
        assert_eq!(
            (errors[0].field.as_str(), errors[0].code.as_str()),
            ("any.a[1]", "nul")
        );
    }
}

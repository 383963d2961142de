//! How the browser talks to the API: JSON over `fetch` (the session cookie
//! goes along) and server-sent events. On the server these calls are never
//! made — pages start in a loading state and fetch once hydrated — so the
//! server build answers every call with an error.

use crate::api::Problem;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A failed call: the status and, when the API sent one, its problem.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub problem: Option<Problem>,
}

impl ApiError {
    /// What to show the user.
    pub fn message(&self) -> String {
        match &self.problem {
            Some(p) if !p.errors.is_empty() => p
                .errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
            Some(p) => p.detail.clone().unwrap_or_else(|| p.title.clone()),
            None if self.status == 0 => "the server cannot be reached".into(),
            None => format!("the server answered {}", self.status),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON text as `T`, the one way browser code reads JSON: parsed into a
/// `serde_json::Value` first, then read as `T`. The parse is compiled once;
/// reading straight from the text compiles the parser into every type's
/// decoder (issue 24: ~3 KB per API type in the bundle).
pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    T::deserialize(serde_json::from_str::<serde_json::Value>(text)?)
}

/// The API path for `rest` in `tenant`: `/api/v1/tenants/<tenant>/<rest>`.
pub fn tenant_path(tenant: &str, rest: &str) -> String {
    format!("/api/v1/tenants/{tenant}/{rest}")
}

#[cfg(feature = "hydrate")]
mod imp {
    use super::*;
    use gloo_net::http::{Request, RequestBuilder, Response};

    /// A request that got no answer (the server could not be reached).
    fn no_answer() -> ApiError {
        ApiError {
            status: 0,
            problem: None,
        }
    }

    /// A request on its way: the answer's status and body text.
    type Exchange =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<(u16, String), ApiError>>>>;

    /// One request and its answer: the status and the body's text. Not
    /// generic, and boxed, so that every call shares this code: the browser
    /// bundle carries one copy of sending, not one per answer type.
    fn exchange(method: &'static str, path: &str, body: Option<(&str, String)>) -> Exchange {
        let path = path.to_owned();
        let body = body.map(|(content_type, text)| (content_type.to_owned(), text));
        Box::pin(async move {
            let builder: RequestBuilder = match method {
                "POST" => Request::post(&path),
                "PUT" => Request::put(&path),
                "PATCH" => Request::patch(&path),
                "DELETE" => Request::delete(&path),
                _ => Request::get(&path),
            };
            let builder = if method == "GET" {
                builder
            } else {
                builder.header("X-CSRF-Token", &csrf_token())
            };
            let sent = match body {
                Some((content_type, text)) => {
                    match builder.header("Content-Type", &content_type).body(text) {
                        Ok(request) => request.send().await,
                        Err(e) => Err(e),
                    }
                }
                None => builder.send().await,
            };
            let response: Response = sent.map_err(|_| no_answer())?;
            Ok((response.status(), response.text().await.unwrap_or_default()))
        })
    }

    /// An answer's body as `T` (an empty body as `null`), or the API's
    /// problem when the status is not a success.
    fn decode<T: DeserializeOwned>(status: u16, text: &str) -> ApiResult<T> {
        if (200..300).contains(&status) {
            let text = if text.is_empty() { "null" } else { text };
            super::from_json(text).map_err(|_| ApiError {
                status,
                problem: None,
            })
        } else {
            Err(ApiError {
                status,
                problem: super::from_json::<Problem>(text).ok(),
            })
        }
    }

    /// The session's CSRF token, from the cookie the server set at sign-in.
    fn csrf_token() -> String {
        use leptos::wasm_bindgen::JsCast;
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.dyn_into::<web_sys::HtmlDocument>().ok())
            .and_then(|d| d.cookie().ok())
            .and_then(|cookies| {
                cookies
                    .split("; ")
                    .find_map(|c| c.strip_prefix("trellis_csrf=").map(str::to_owned))
            })
            .unwrap_or_default()
    }

    pub async fn call<B: Serialize, T: DeserializeOwned>(
        method: &'static str,
        path: &str,
        body: Option<&B>,
    ) -> ApiResult<T> {
        let body = match body {
            Some(body) => Some((
                "application/json",
                serde_json::to_string(body).map_err(|_| no_answer())?,
            )),
            None => None,
        };
        let (status, text) = exchange(method, path, body).await?;
        decode(status, &text)
    }

    /// POSTs `text` as a body of `content_type`.
    pub async fn post_text<T: DeserializeOwned>(
        path: &str,
        content_type: &str,
        text: String,
    ) -> ApiResult<T> {
        let (status, text) = exchange("POST", path, Some((content_type, text))).await?;
        decode(status, &text)
    }

    /// Sends `file` as the `file` part of a multipart POST to `path`,
    /// telling `progress` the fraction sent as it goes, then `done` the
    /// answer.
    pub fn upload<T: DeserializeOwned + 'static>(
        path: &str,
        file: web_sys::File,
        progress: impl Fn(f64) + 'static,
        done: impl FnOnce(ApiResult<T>) + 'static,
    ) {
        use leptos::wasm_bindgen::closure::Closure;
        use leptos::wasm_bindgen::JsCast;
        let (Ok(xhr), Ok(form)) = (web_sys::XmlHttpRequest::new(), web_sys::FormData::new()) else {
            return done(Err(no_answer()));
        };
        if form.append_with_blob("file", &file).is_err()
            || xhr.open("POST", path).is_err()
            || xhr
                .set_request_header("X-CSRF-Token", &csrf_token())
                .is_err()
        {
            return done(Err(no_answer()));
        }
        let on_progress =
            Closure::<dyn Fn(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
                if e.length_computable() && e.total() > 0.0 {
                    progress(e.loaded() / e.total());
                }
            });
        if let Ok(upload) = xhr.upload() {
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        let done = std::cell::RefCell::new(Some(done));
        let request = xhr.clone();
        let on_end = Closure::<dyn Fn()>::new(move || {
            let Some(done) = done.borrow_mut().take() else {
                return;
            };
            let status = request.status().unwrap_or(0);
            let text = request.response_text().ok().flatten().unwrap_or_default();
            // Status 0 (no answer) is a failure without a problem, as decoded.
            done(decode(status, &text));
        });
        xhr.set_onloadend(Some(on_end.as_ref().unchecked_ref()));
        // They live as long as the page: one upload at a time is small.
        on_progress.forget();
        on_end.forget();
        // A send that cannot start ends at once, through `loadend`.
        let _ = xhr.send_with_opt_form_data(Some(&form));
    }

    pub async fn text(path: &str) -> ApiResult<String> {
        let (status, text) = exchange("GET", path, None).await?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            decode(status, &text)
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    use super::*;

    fn offline() -> ApiError {
        ApiError {
            status: 0,
            problem: None,
        }
    }

    pub async fn call<B: Serialize, T: DeserializeOwned>(
        _method: &'static str,
        _path: &str,
        _body: Option<&B>,
    ) -> ApiResult<T> {
        Err(offline())
    }

    pub async fn text(_path: &str) -> ApiResult<String> {
        Err(offline())
    }

    pub async fn post_text<T: DeserializeOwned>(
        _path: &str,
        _content_type: &str,
        _text: String,
    ) -> ApiResult<T> {
        Err(offline())
    }
}

pub async fn get<T: DeserializeOwned>(path: &str) -> ApiResult<T> {
    imp::call::<(), T>("GET", path, None).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> ApiResult<T> {
    imp::call("POST", path, Some(body)).await
}

pub async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> ApiResult<T> {
    imp::call("PUT", path, Some(body)).await
}

pub async fn patch<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> ApiResult<T> {
    imp::call("PATCH", path, Some(body)).await
}

pub async fn delete<T: DeserializeOwned>(path: &str) -> ApiResult<T> {
    imp::call::<(), T>("DELETE", path, None).await
}

/// POSTs `text` as the body, of type `content_type` (a file's text).
pub async fn post_text<T: DeserializeOwned>(
    path: &str,
    content_type: &str,
    text: String,
) -> ApiResult<T> {
    imp::post_text(path, content_type, text).await
}

/// Uploads a file with progress (in the browser only).
#[cfg(feature = "hydrate")]
pub use imp::upload;

/// A plain-text resource, such as a task log.
pub async fn get_text(path: &str) -> ApiResult<String> {
    imp::text(path).await
}

/// Calls `on_event` with the data of every event on the stream at `path`
/// until the returned handle is dropped or aborted, or the server ends the
/// stream (a run's ends with the run; open it again after a retry).
pub fn subscribe(
    path: String,
    on_event: impl Fn(String) + 'static,
) -> futures::future::AbortHandle {
    let (handle, registration) = futures::future::AbortHandle::new_pair();
    #[cfg(feature = "hydrate")]
    {
        use futures::StreamExt;
        let task = async move {
            let Ok(mut source) = gloo_net::eventsource::futures::EventSource::new(&path) else {
                return;
            };
            let Ok(mut stream) = source.subscribe("message") else {
                return;
            };
            while let Some(Ok((_, message))) = stream.next().await {
                if let Some(data) = message.data().as_string() {
                    on_event(data);
                }
            }
            source.close();
        };
        leptos::task::spawn_local(async move {
            let _ = futures::future::Abortable::new(task, registration).await;
        });
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (path, on_event, registration);
    }
    handle
}

#[cfg(test)]
mod tests {
    use super::from_json;
    use crate::types::component::ComponentType;

    /// Reading through a `Value` gives what reading the text does, and a
    /// bad document still names what is wrong.
    #[test]
    fn from_json_reads_as_from_str() {
        // Every built-in component, with its parameters of every kind.
        for component in crate::catalog::builtin() {
            let text = serde_json::to_string(&component).unwrap();
            let direct = serde_json::from_str::<ComponentType>(&text).unwrap();
            assert_eq!(from_json::<ComponentType>(&text).unwrap(), direct);
            assert_eq!(direct, component);
        }
        let missing = from_json::<ComponentType>(r#"{"key": "k"}"#).unwrap_err();
        assert!(missing.to_string().contains("missing field"), "{missing}");
        let syntax = from_json::<ComponentType>("{\"key\": ").unwrap_err();
        assert!(syntax.to_string().contains("line 1"), "{syntax}");
    }
}

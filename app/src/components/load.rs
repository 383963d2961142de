//! The one way a page loads data: a signal that stays empty while the request
//! is on its way and then holds the answer, and one way to show it (a loading
//! line, the API's problem as an alert, or the content).

use crate::client::{ApiError, ApiResult};
use leptos::prelude::*;
use std::future::Future;

/// Data a page fetched: `None` until the answer arrives.
pub type Loaded<T> = RwSignal<Option<ApiResult<T>>>;

/// An empty [`Loaded`].
pub fn loaded<T: Send + Sync + 'static>() -> Loaded<T> {
    RwSignal::new(None)
}

/// Runs `request` and puts its answer into `into`. The old answer stays until
/// the new one arrives, so a reload does not flash "Loading…". On the server
/// nothing is fetched (see [`crate::client`]).
pub fn fetch<T: Send + Sync + 'static>(
    into: Loaded<T>,
    request: impl Future<Output = ApiResult<T>> + 'static,
) {
    leptos::task::spawn_local(async move {
        let answer = request.await;
        // The page may have gone while the request was on its way.
        let _ = into.try_set(Some(answer));
    });
}

/// The line shown while data loads.
pub fn loading() -> AnyView {
    view! { <p class="muted" data-testid="loading">"Loading…"</p> }.into_any()
}

/// A failed request, as an alert.
pub fn problem(error: &ApiError) -> AnyView {
    alert(error.message())
}

/// A message the user must see, as an alert.
pub fn alert(message: String) -> AnyView {
    view! { <p class="error" role="alert">{message}</p> }.into_any()
}

/// An alert that tests find by `testid`, such as a form's error.
pub fn alert_with(testid: &'static str, message: String) -> AnyView {
    view! { <p class="error" role="alert" data-testid=testid>{message}</p> }.into_any()
}

/// Shows `data`: loading, its problem, or `content` of it.
pub fn show<T, V>(
    data: Loaded<T>,
    content: impl Fn(T) -> V + Send + Sync + 'static,
) -> impl Fn() -> AnyView + Send + Sync + 'static
where
    T: Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    move || match data.get() {
        None => loading(),
        Some(Err(e)) => problem(&e),
        Some(Ok(value)) => content(value).into_any(),
    }
}

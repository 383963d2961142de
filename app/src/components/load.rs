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

/// The errors a problem named for a form's `field`, each under its input
/// (`data-testid="error-<field>"`).
pub fn field_error(
    errors: RwSignal<Vec<crate::api::FieldError>>,
    field: &'static str,
) -> impl IntoView {
    move || {
        errors
            .get()
            .into_iter()
            .filter(|e| e.field == field)
            .map(|e| view! { <span class="error" data-testid=format!("error-{field}")>{e.message}</span> })
            .collect_view()
    }
}

/// A failed request as a form's field errors; one without them as an
/// error of the whole form (field `""`).
pub fn field_errors(e: ApiError) -> Vec<crate::api::FieldError> {
    match e.problem {
        Some(p) if !p.errors.is_empty() => p.errors,
        _ => vec![crate::api::FieldError::new("", "error", e.message())],
    }
}

/// Sends a form: `busy` while `request` is on its way, then `done` with the
/// answer (the form's errors cleared), or the API's problem as the form's
/// field errors (see [`field_errors`]). The page may have gone meanwhile:
/// nothing is set then.
pub fn send_form<T: 'static>(
    busy: RwSignal<bool>,
    errors: RwSignal<Vec<crate::api::FieldError>>,
    request: impl Future<Output = ApiResult<T>> + 'static,
    done: impl FnOnce(T) + 'static,
) {
    busy.set(true);
    leptos::task::spawn_local(async move {
        let answer = request.await;
        let _ = busy.try_set(false);
        match answer {
            Ok(value) => {
                let _ = errors.try_set(Vec::new());
                done(value)
            }
            Err(e) => {
                let _ = errors.try_set(field_errors(e));
            }
        }
    });
}

/// The errors that belong to none of a form's `fields`, as one alert.
pub fn other_errors(
    errors: RwSignal<Vec<crate::api::FieldError>>,
    fields: &'static [&'static str],
    testid: &'static str,
) -> impl IntoView {
    move || {
        let rest: Vec<String> = errors
            .get()
            .into_iter()
            .filter(|e| !fields.iter().any(|f| *f == e.field))
            .map(|e| e.message)
            .collect();
        (!rest.is_empty()).then(|| alert_with(testid, rest.join("; ")))
    }
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

/// Calls `reload` whenever a run of `tenant` changes state, at most once a
/// second however busy the tenant is, while the calling page is open.
pub fn on_tenant_change(tenant: &str, reload: impl Fn() + Clone + 'static) {
    let tenant = tenant.to_owned();
    Effect::new(move |_| {
        let pending = StoredValue::new(false);
        let reload = reload.clone();
        let handle = crate::api::routes::tenant_events(&tenant, move |_| {
            if pending.try_get_value() != Some(false) {
                return;
            }
            pending.set_value(true);
            let reload = reload.clone();
            set_timeout(
                move || {
                    if pending.try_set_value(false).is_none() {
                        reload();
                    }
                },
                std::time::Duration::from_secs(1),
            );
        });
        on_cleanup(move || handle.abort());
    });
}

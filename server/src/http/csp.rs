//! The Content-Security-Policy. A page may run only its own scripts (the
//! inline hydration scripts carry this response's nonce) and WebAssembly,
//! and load styles, images and data only from this site; every other
//! answer keeps the short policy that forbids framing, plugins and foreign
//! form targets.

use axum::http::{header, HeaderValue};
use leptos::nonce::{use_nonce, Nonce};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

/// The policy of answers that are not pages (JSON, problems, static files).
pub const SHORT: &str =
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

/// The policy of a page whose inline scripts carry `nonce`.
///
/// - `script-src`: the bundle from this site, the inline hydration and
///   resource scripts by nonce, and `'wasm-unsafe-eval'` to instantiate the
///   app's WebAssembly (no `eval` of text).
/// - `style-src 'self'`: the stylesheet only; the app has no inline styles.
/// - `connect-src 'self'`: API calls, the WebAssembly fetch and the live
///   event streams are same-origin. With `reload_port` (`cargo leptos
///   watch`), the auto-reload websocket on that port too.
/// - `form-action 'self'`: single sign-on starts at this site's
///   `/api/v1/auth/oidc/login`, whose redirect to the provider is a
///   navigation the policy does not restrict.
pub fn page_policy(nonce: &str, reload_port: Option<u32>) -> String {
    let reload = reload_port
        .map(|port| format!(" ws://*:{port} wss://*:{port}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'{reload}; \
         {SHORT}"
    )
}

/// The app's shell with this response's policy: the header names the same
/// nonce that leptos_axum generated for the page's scripts.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let nonce = use_nonce().unwrap_or_else(|| {
        let nonce = Nonce::new();
        provide_context(nonce.clone());
        nonce
    });
    // `AutoReload` renders its script only under `cargo leptos watch`,
    // which it recognises by this variable; the policy follows it.
    let reload = std::env::var_os("LEPTOS_WATCH")
        .map(|_| options.reload_external_port.unwrap_or(options.reload_port));
    match (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(&page_policy(&nonce, reload)),
    ) {
        (Some(response), Ok(policy)) => {
            response.insert_header(header::CONTENT_SECURITY_POLICY, policy)
        }
        _ => tracing::error!("a page is served without its Content-Security-Policy"),
    }
    app::shell(options)
}

#[cfg(test)]
mod tests {
    use super::page_policy;

    #[test]
    fn a_page_policy_allows_only_its_own_scripts_and_styles() {
        let policy = page_policy("abc", None);
        let directive = |name: &str| {
            policy
                .split(';')
                .map(str::trim)
                .find(|d| d.split(' ').next() == Some(name))
                .unwrap_or_else(|| panic!("{name} in {policy}"))
                .to_owned()
        };
        assert_eq!(
            directive("script-src"),
            "script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"
        );
        assert_eq!(directive("style-src"), "style-src 'self'");
        assert_eq!(directive("connect-src"), "connect-src 'self'");
        assert_eq!(directive("frame-ancestors"), "frame-ancestors 'none'");
        assert_eq!(directive("object-src"), "object-src 'none'");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert!(
            page_policy("abc", Some(3001)).contains("connect-src 'self' ws://*:3001 wss://*:3001")
        );
    }
}

//! The browser entry point: hydrates the server-rendered Trellis shell.

// The release build (one codegen unit, LTO) walks the whole view type of the
// app at once; the default limit of 128 is too small for it.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Pages after the first are loaded when visited (see `app`'s
    // `lazy_page!`): hydration waits for the current route's part, then the
    // page is marked live (`app::live`) and starts loading its data.
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document()
            .body()
            .expect("the page has a body");
        leptos::mount::hydrate_from_async(body, app::App)
            .await
            .forget();
        app::live::mark_live();
    });
}

//! The browser entry point: hydrates the server-rendered Trellis shell.

// The release build (one codegen unit, LTO) walks the whole view type of the
// app at once; the default limit of 128 is too small for it.
#![recursion_limit = "256"]

/// Room in the constant data for the bundle splitter (issue 24). The splitter
/// moves each page's constants (its text, mostly) into that page's part, each
/// part's run of them aligned; when the aligned runs add up to more than the
/// linked data segment, it gives up and leaves every constant of the app in
/// the first load (it did, short by 68 bytes: 215 KB raw, 48 KB of the 289 KB
/// first load with brotli). Nothing reads these bytes, so no part carries them;
/// they only make the linked segment long enough for the aligned runs.
#[used]
static SPLIT_DATA_SLACK: [u8; 4096] = [0xa5; 4096];

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

//! The browser entry point: hydrates the server-rendered Trellis shell.

// The release build (one codegen unit, LTO) walks the whole view type of the
// app at once; the default limit of 128 is too small for it.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

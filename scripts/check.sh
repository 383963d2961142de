#!/usr/bin/env bash
# Static checks: formatting, then clippy with warnings denied on both builds
# of the UI crate — the server's (`ssr`) and the browser's (`hydrate`, wasm32).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

ensure_check_tools

say "formatting (cargo fmt --check)"
cargo fmt --all -- --check
say "clippy, server build (ssr)"
cargo clippy -p app --features ssr --all-targets -- -D warnings
cargo clippy -p server --all-targets -- -D warnings
say "clippy, browser build (hydrate, wasm32)"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p app --features hydrate --target wasm32-unknown-unknown -- -D warnings

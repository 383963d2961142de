#!/usr/bin/env bash
# Runs every test: unit and integration (SQLite and a throwaway PostgreSQL),
# then the browser tests against the built server in Debian's Chromium.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

ensure_build_tools
ensure_test_tools

say "unit tests: app"
cargo test -p app --features ssr
say "unit and integration tests: server (SQLite and PostgreSQL)"
cargo test -p server
say "building the site for the browser tests"
cargo leptos build
say "browser tests (Playwright + Chromium)"
cd end2end
TRELLIS_BIN="$CARGO_TARGET_DIR/debug/trellis" TRELLIS_SITE_ROOT="$ROOT/target/site" npx playwright test

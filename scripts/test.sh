#!/usr/bin/env bash
# Runs every check and test: formatting and clippy (scripts/check.sh), unit
# and integration tests (SQLite and a throwaway PostgreSQL), the parity of
# the PySpark scripts with the local steps (spark/parity.py), the API fuzzer
# (scripts/fuzz.sh, with a fixed seed), the release bundle's size budgets
# per route (scripts/bundle-size.sh), then the browser
# tests in Debian's Chromium against the debug build and again against the
# release build (optimised bundle, as deployed).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

"$ROOT/scripts/check.sh"

ensure_build_tools
ensure_test_tools

say "unit tests: app"
cargo test -p app --features ssr
say "unit and integration tests: server (SQLite and PostgreSQL)"
# The log is kept; when a test fails, each failure's first lines are
# printed again at the very end, where a truncated CI log still shows them.
server_log="$CARGO_TARGET_DIR/server-tests.log"
if ! cargo test -p server 2>&1 | tee "$server_log"; then
  say "failed server tests (the whole log: $server_log)"
  grep -A3 "panicked at" "$server_log" | grep -v "^stack backtrace:" | cut -c1-600 >&2
  exit 1
fi
say "the PySpark scripts against the local steps (spark/vectors, Spark in local mode)"
"$TRELLIS_SPARK_PYTHON" spark/parity.py --trellis "$CARGO_TARGET_DIR/debug/trellis"
say "building the site for the browser tests"
cargo leptos build --split
say "fuzzing the API from its OpenAPI document (schemathesis; fixed seed, 20 examples per operation)"
FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-20}" "$ROOT/scripts/fuzz.sh" --seed "${FUZZ_SEED:-20261130}"
say "browser tests (Playwright + Chromium), debug build"
# (the accessibility checks, @a11y, run once, on the release build below)
(cd end2end && TRELLIS_BIN="$CARGO_TARGET_DIR/debug/trellis" TRELLIS_SITE_ROOT="$ROOT/target/site" npx playwright test --grep-invert @a11y)
say "building the release site (split by route, precompressed as deployed)"
cargo leptos build --release --split --precompress
say "the release bundle against its size budget"
"$ROOT/scripts/bundle-size.sh"
say "browser tests (Playwright + Chromium), release build"
(cd end2end && TRELLIS_BIN="$CARGO_TARGET_DIR/release/trellis" TRELLIS_SITE_ROOT="$ROOT/target/site" npx playwright test)

#!/usr/bin/env bash
# The inner loop: unit tests of app and server and the server's integration
# tests on SQLite only — no PostgreSQL, no Airflow, no browser. The tests
# that need those print a "skipped" line instead (`make test` runs them all).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

prune_target
ensure_aws_emulator # the EMR tests run against it on SQLite too

say "unit tests: app"
cargo test -p app --features ssr
say "unit and integration tests: server (SQLite only)"
TRELLIS_TEST_BACKENDS=sqlite TRELLIS_TEST_SKIP_AIRFLOW=1 cargo test -p server

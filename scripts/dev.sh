#!/usr/bin/env bash
# Serves Trellis at http://127.0.0.1:3000 on SQLite under data/ (the demo
# tenant on first start) through `cargo leptos watch`, which rebuilds and
# restarts it whenever a source file changes.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

ensure_build_tools
say "watching (cargo leptos watch --split)"
exec cargo leptos watch --split -- serve --site-root "$ROOT/target/site" --data-dir "$ROOT/data" "$@"

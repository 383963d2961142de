#!/usr/bin/env bash
# Builds Trellis and starts it at http://127.0.0.1:3000 on SQLite under data/.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

ensure_build_tools
say "building (cargo leptos build --split)"
cargo leptos build --split
say "starting"
exec "$CARGO_TARGET_DIR/debug/trellis" serve --site-root "$ROOT/target/site" --data-dir "$ROOT/data" "$@"

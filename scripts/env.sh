# Shared by the scripts: where builds go and how to install what is missing.
# Sourced, not run. Every ensure_* is idempotent and quick when all is there.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Builds live outside the clone so fresh clones (and CI) reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trellis/target}"
# Tools installed from npm (binaryen's wasm-opt) live here, first on PATH.
TOOLS="$HOME/.cache/trellis/tools"
export PATH="$TOOLS/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Never let a tool download a browser; tests use Debian's Chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

CARGO_LEPTOS_VERSION=0.3.10
# The wasm-opt cargo-leptos asks for. Debian's (108) predates the reference
# types wasm-bindgen now emits and produces a bundle that fails at start-up.
BINARYEN_VERSION=123

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_apt PACKAGE... installs the Debian packages that are not installed.
ensure_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]} (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# Every edit and every clone path leaves another copy of the workspace crates
# in the shared build cache; when the disk runs low, drop those copies (the
# third-party dependencies, the slow part, stay).
prune_target() {
    local dir="$CARGO_TARGET_DIR/debug"
    [ -d "$dir" ] || return 0
    local free_kb
    free_kb=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $4 }')
    [ "$free_kb" -ge $((20 * 1024 * 1024)) ] && return 0
    say "less than 20 GiB free: pruning stale workspace builds in $CARGO_TARGET_DIR"
    rm -rf "$dir/incremental"
    # The crates, the binary, each crate's one integration test binary `it`,
    # and the benches.
    local names=(server app frontend trellis it) f
    for f in "$ROOT"/*/benches/*.rs; do
        names+=("$(basename "$f" .rs)")
    done
    for f in "${names[@]}"; do
        rm -f "$dir/deps/lib$f-"* "$dir/deps/$f-"*
    done
}

# What `make check` needs: rustfmt, clippy and the wasm target (for the
# browser build's clippy), all from rustup.
ensure_check_tools() {
    local installed
    installed="$(rustup component list --installed 2>/dev/null)"
    local component
    for component in rustfmt clippy; do
        if ! grep -q "^$component" <<<"$installed"; then
            say "adding the $component component"
            rustup component add "$component"
        fi
    done
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        say "adding the wasm32-unknown-unknown target"
        rustup target add wasm32-unknown-unknown
    fi
}

# What building Trellis needs: the check tools, cargo-leptos, wasm-bindgen-cli
# at the Cargo.lock version, and wasm-opt (release builds; from npm).
ensure_build_tools() {
    prune_target
    ensure_check_tools
    if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
        say "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes ~15 minutes, once)"
        cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION"
    fi
    local want
    want="$(wasm_bindgen_version)"
    if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
        say "installing wasm-bindgen-cli $want (takes ~4 minutes, once)"
        # not --locked: a locked dependency of 0.2.130 is yanked
        cargo install wasm-bindgen-cli --version "$want" --force
    fi
    if [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" != "$BINARYEN_VERSION" ]; then
        command -v npm >/dev/null || ensure_apt nodejs npm
        say "installing wasm-opt (binaryen $BINARYEN_VERSION, from npm)"
        mkdir -p "$TOOLS"
        npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION"
    fi
}

# What the tests need besides the build tools: PostgreSQL 15 server binaries,
# The AWS emulator the tests run (moto's server, wrapped by
# server/tests/emulator/aws.py), in a virtualenv of its own.
MOTO_VERSION=5.2.5
export TRELLIS_EMULATOR_PYTHON="$TOOLS/moto-venv/bin/python"
ensure_aws_emulator() {
    if ! "$TRELLIS_EMULATOR_PYTHON" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
        command -v python3 >/dev/null || ensure_apt python3 python3-venv
        say "installing the AWS emulator (moto $MOTO_VERSION, from PyPI)"
        python3 -m venv "$TOOLS/moto-venv"
        "$TOOLS/moto-venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    fi
}

# The real Airflow that imports the generated DAG files, in its own virtualenv.
AIRFLOW_VERSION=3.3.2
AIRFLOW_AMAZON_VERSION=9.39.0
export TRELLIS_AIRFLOW_PYTHON="$TOOLS/airflow-venv/bin/python"
ensure_airflow() {
    if ! "$TRELLIS_AIRFLOW_PYTHON" - "$AIRFLOW_VERSION" "$AIRFLOW_AMAZON_VERSION" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
sys.exit(version("apache-airflow") != sys.argv[1] or version("apache-airflow-providers-amazon") != sys.argv[2])
PY
    then
        command -v python3 >/dev/null || ensure_apt python3 python3-venv
        say "installing Airflow $AIRFLOW_VERSION with the Amazon provider (from PyPI, takes a few minutes once)"
        python3 -m venv "$TOOLS/airflow-venv"
        "$TOOLS/airflow-venv/bin/pip" install --quiet --disable-pip-version-check \
            "apache-airflow==$AIRFLOW_VERSION" "apache-airflow-providers-amazon==$AIRFLOW_AMAZON_VERSION"
    fi
}

# PySpark (Spark in local mode, on the machine's Java 17) for the parity of
# the data components' scripts with the local steps (spark/parity.py).
PYSPARK_VERSION=3.5.7
export TRELLIS_SPARK_PYTHON="$TOOLS/spark-venv/bin/python"
ensure_spark() {
    command -v java >/dev/null || ensure_apt openjdk-17-jre-headless
    if ! "$TRELLIS_SPARK_PYTHON" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null; then
        command -v python3 >/dev/null || ensure_apt python3 python3-venv
        say "installing PySpark $PYSPARK_VERSION (from PyPI)"
        python3 -m venv "$TOOLS/spark-venv"
        "$TOOLS/spark-venv/bin/pip" install --quiet --disable-pip-version-check "pyspark==$PYSPARK_VERSION"
    fi
}

# Debian's Chromium, Node.js and the end2end packages.
ensure_test_tools() {
    ensure_aws_emulator
    ensure_airflow
    ensure_spark
    [ -x /usr/lib/postgresql/15/bin/initdb ] || ensure_apt postgresql-15
    command -v chromium >/dev/null || ensure_apt chromium
    command -v npm >/dev/null || ensure_apt nodejs npm
    local e2e="$ROOT/end2end"
    if [ ! -f "$e2e/node_modules/.package-lock.json" ] || [ "$e2e/package-lock.json" -nt "$e2e/node_modules/.package-lock.json" ]; then
        say "installing end2end packages (npm ci)"
        (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}

# The API fuzzer `make fuzz` runs (schemathesis, driven by the OpenAPI
# document), in a virtualenv of its own.
SCHEMATHESIS_VERSION=4.32.5
ensure_fuzz_tools() {
    if ! "$TOOLS/fuzz-venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
        command -v python3 >/dev/null || ensure_apt python3 python3-venv
        say "installing schemathesis $SCHEMATHESIS_VERSION (from PyPI)"
        python3 -m venv "$TOOLS/fuzz-venv"
        "$TOOLS/fuzz-venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
    fi
}

# The commands of the README. What they do lives in scripts/.
.PHONY: run test check test-fast dev fuzz bundle-size spark-parity

## Build Trellis and start it at http://127.0.0.1:3000 on SQLite (demo tenant).
run:
	@scripts/run.sh

## Run every check and test: make check, unit, integration (SQLite +
## PostgreSQL, Airflow) and browser. This is what CI runs.
test:
	@scripts/test.sh

## Formatting and clippy (warnings denied) on the server and browser builds.
check:
	@scripts/check.sh

## The inner loop: unit tests and server integration tests on SQLite only.
test-fast:
	@scripts/test-fast.sh

## Serve on SQLite (demo tenant), rebuilding and restarting on every change.
dev:
	@scripts/dev.sh

## Fuzz every API operation from the OpenAPI document (schemathesis) against
## a throwaway server on SQLite.
fuzz:
	@scripts/fuzz.sh

## The browser bundle's sizes (raw, gzip, brotli) per route against their
## budgets; run after `cargo leptos build --release --split`.
bundle-size:
	@scripts/bundle-size.sh

## The data components' PySpark scripts against the local steps on the shared
## vectors (spark/vectors), Spark in local mode; needs the debug build.
spark-parity:
	@bash -c 'source scripts/env.sh && ensure_spark && "$$TRELLIS_SPARK_PYTHON" spark/parity.py'

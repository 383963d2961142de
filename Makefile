# The two commands of the README. Everything else lives in scripts/.
.PHONY: run test

## Build Trellis and start it at http://127.0.0.1:3000 on SQLite (demo tenant).
run:
	@scripts/run.sh

## Run every test: unit, integration (SQLite + PostgreSQL) and browser.
test:
	@scripts/test.sh

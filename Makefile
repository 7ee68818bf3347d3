# One entry point per chore, the same locally and in CI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := src/fincare/web/static/vendor
CHROMIUM := /usr/bin/chromium

.PHONY: install assets run serve migrate lint test test-fast bench bench-tools browser clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

assets: $(VENDOR)/htmx.min.js $(VENDOR)/echarts.min.js

$(VENDOR)/htmx.min.js $(VENDOR)/echarts.min.js: node_modules/.package-lock.json
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts.min.js

# Starts FinCare with a demo institution on SQLite at http://127.0.0.1:8000 and prints the logins.
run: install assets
	$(BIN)/fincare demo

serve: install assets
	$(BIN)/fincare serve

migrate: install
	$(BIN)/fincare migrate

# Debian's Chromium drives the browser tests (Playwright cannot download its own browser here);
# a CJK font makes their screenshots of the Chinese console readable.
browser:
	@(test -x $(CHROMIUM) && fc-list :lang=zh | grep -q .) || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) \
	  || echo "warning: could not install Debian's chromium; browser tests will be skipped"

lint: install
	$(BIN)/ruff check src tests benchmarks migrations
	$(BIN)/mypy
	$(BIN)/lint-imports

# ruff, mypy (strict on src/), import-linter, then pytest on SQLite and (when reachable) PostgreSQL.
test: install assets browser lint
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/pytest -x -q -m "not e2e" $(PYTEST_ARGS)

# wrk drives the HTTP load benchmarks; pgbench (postgresql-contrib) gives the raw INSERT baseline.
bench-tools:
	@(command -v wrk >/dev/null && command -v pgbench >/dev/null) || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk postgresql-contrib >/dev/null) \
	  || echo "warning: could not install wrk/pgbench; the load benchmarks will fail"

bench: install bench-tools
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache

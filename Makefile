# The two commands of the README are `make run` and `make test`; everything else is a helper.
SHELL := /bin/bash
CACHE ?= $(HOME)/.cache/datoferum
UV := $(or $(shell command -v uv 2>/dev/null),$(CACHE)/bootstrap/bin/uv)
UV_VERSION := 0.13.9
RUN := $(UV) run --locked --no-sync

.PHONY: run test lint typecheck unit sync bench clean web

# Built aside and renamed into place, so two first runs at once cannot share a half-made one.
$(CACHE)/bootstrap/bin/uv:
	@mkdir -p $(CACHE)
	@set -e; aside=$$(mktemp -d $(CACHE)/bootstrap.XXXXXX); \
	python3 -m venv $$aside/venv; \
	$$aside/venv/bin/pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'; \
	mv -T $$aside/venv $(CACHE)/bootstrap 2>/dev/null || test -x $(CACHE)/bootstrap/bin/uv; \
	rm -rf $$aside

sync: $(UV)
	@$(UV) sync --locked --quiet

run: sync web  ## Start the server on the embedded defaults (http://127.0.0.1:8000, data in ./data)
	$(RUN) datoferum serve

# The web UI (web/, see docs/web.md) is built only when its sources are newer than web/dist.
# Without npm the server still runs: the API works and / says how to get the UI.
NPM_CACHE := $(CACHE)/npm
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts \
	web/tsconfig.json web/package.json web/package-lock.json

web:  ## Build the web UI into web/dist if it is missing or older than its sources
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) -s --no-print-directory web/dist/index.html; \
	else \
		echo "web UI not built: install Node.js 20+ and npm, then run 'make web' (the server and API work without it)"; \
	fi

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --cache $(NPM_CACHE) --no-audit --no-fund --loglevel=error

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build --silent
	@touch $@

lint: sync
	$(RUN) ruff check src tests bench
	$(RUN) ruff format --check src tests bench

typecheck: sync
	$(RUN) mypy

unit: sync
	$(RUN) pytest -n 2 $(PYTEST_ARGS)

test: lint typecheck unit  ## Lint, type-check and run the whole test suite

bench: $(UV)  ## Benchmarks against reference servers (see docs/benchmarks.md); BENCH_ARGS=--help
	@$(UV) sync --locked --quiet --group bench
	$(RUN) python -m bench $(BENCH_ARGS)

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache web/dist web/node_modules

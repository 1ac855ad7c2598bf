# The two commands of the README are `make run` and `make test`; everything else is a helper.
SHELL := /bin/bash
CACHE ?= $(HOME)/.cache/datoferum
UV := $(or $(shell command -v uv 2>/dev/null),$(CACHE)/bootstrap/bin/uv)
UV_VERSION := 0.13.9
RUN := $(UV) run --locked --no-sync

.PHONY: run test lint typecheck unit sync bench clean

$(CACHE)/bootstrap/bin/uv:
	python3 -m venv $(CACHE)/bootstrap
	$(CACHE)/bootstrap/bin/pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'

sync: $(UV)
	@$(UV) sync --locked --quiet

run: sync  ## Start the server on the embedded defaults (http://127.0.0.1:8000, data in ./data)
	$(RUN) datoferum serve

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
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache

# The two commands of the quick start are `make run` and `make test`; everything installs into .venv.
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8000

.PHONY: install run test lint bench lock migrate seed clean

.venv/.installed: requirements.lock scripts/bootstrap
	@scripts/bootstrap
	@touch $@

install: .venv/.installed

# Migrate, seed the demo tenant and its 20 orders (idempotent), then run web + worker + beat.
run: install
	@$(PY) manage.py migrate --no-input -v 0
	@$(PY) manage.py seed_demo
	@PORT=$(PORT) $(PY) scripts/run_all.py

# Finds (or starts) PostgreSQL, Redis and RabbitMQ, then runs the whole suite against them.
test: install
	@scripts/ensure-chromium
	@scripts/with-test-services $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .
	.venv/bin/lint-imports --no-cache

bench: install
	@scripts/with-test-services $(PY) -m pytest benchmarks -p no:cacheprovider -s

# Re-resolve the locks from pyproject.toml: requirements.lock (with the dev tools, used by
# make) and requirements-prod.lock (runtime only, used by the Dockerfile).
lock: install
	$(PY) -m uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet -o requirements.lock
	$(PY) -m uv pip compile pyproject.toml --universal --python-version 3.11 \
		--generate-hashes --quiet -o requirements-prod.lock

clean:
	rm -rf .venv var .pytest_cache .mypy_cache .ruff_cache

# The two commands of the quick start are `make run` and `make test`; everything installs into .venv.
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8000

.PHONY: install run test lint bench lock migrate seed clean samples messages compile

.venv/.installed: requirements.lock scripts/bootstrap
	@scripts/bootstrap
	@touch $@

install: .venv/.installed

# Migrate, seed the demo tenant and its 20 orders (idempotent), then run web + worker + beat.
run: install
	@scripts/ensure-fonts || echo "make run: carrying on; names in non-Latin scripts print as boxes until the fonts are installed"
	@$(PY) manage.py migrate --no-input -v 0
	@$(PY) manage.py seed_demo
	@PORT=$(PORT) $(PY) scripts/run_all.py

# Finds (or starts) PostgreSQL, Redis and RabbitMQ, then runs the whole suite against them.
test: install
	@scripts/ensure-chromium
	@scripts/ensure-fonts
	@scripts/with-test-services $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .
	.venv/bin/lint-imports --no-cache

# Renders the sample invoices (every language, script and VAT treatment, huge amounts, long
# invoices) to var/samples/, a PDF and a PNG per page, for people to look at.
samples: install
	@scripts/ensure-fonts
	@$(PY) scripts/samples.py

# Prints performance figures (README, "Throughput"); BENCH_ARGS="-k throughput" runs only the
# pipeline's throughput benchmark (BENCH_ORDERS, BENCH_RUNS, BENCH_PAIR_RUNS size it).
bench: install
	@scripts/ensure-fonts
	@scripts/with-test-services $(PY) -m pytest benchmarks -p no:cacheprovider -s $(BENCH_ARGS)

# Re-resolve the locks from pyproject.toml: requirements.lock (with the dev tools, used by
# make) and requirements-prod.lock (runtime only, used by the Dockerfile).
lock: install
	$(PY) -m uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet -o requirements.lock
	$(PY) -m uv pip compile pyproject.toml --universal --python-version 3.11 \
		--generate-hashes --quiet -o requirements-prod.lock

# The customer's languages (README, "Languages"): locale/<lang>/LC_MESSAGES/django.po, with the
# English texts of the code as msgids. `make messages` re-extracts them from the code (Django's
# makemessages, which needs GNU gettext: apt-get install gettext) and compiles; `make compile`
# writes the .mo files (pure Python, Babel). Both files are committed; a test checks they agree.
LANGUAGES := de fr it es nl pl pt sv cs da
messages: install
	@command -v xgettext >/dev/null || { echo "make messages needs GNU gettext (e.g. sudo apt-get install gettext)" >&2; exit 1; }
	$(PY) manage.py makemessages $(addprefix -l ,$(LANGUAGES)) --add-location=file --no-obsolete \
		--ignore=var --ignore=tests --ignore=benchmarks --ignore=scripts --ignore=test-artifacts
	$(PY) scripts/compile_messages.py

compile: install
	$(PY) scripts/compile_messages.py

clean:
	rm -rf .venv var .pytest_cache .mypy_cache .ruff_cache

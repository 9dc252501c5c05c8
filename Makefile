# One-command entry points. `make run` serves the app; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# Tests always target real services; override with DATABASE_URL / REDIS_URL.
TEST_DATABASE_URL := $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/postgres)
TEST_REDIS_URL := $(or $(REDIS_URL),redis://127.0.0.1:6379/15)
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/13
# Prometheus multiprocess mode: every web and worker process of `make run`
# writes its metrics here; emptied at each start (see README, Metrics).
PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/var/prometheus

.PHONY: install run test lint format bench migrate clean chromium

# Browser tests drive the system Chromium and the pooling tests PgBouncer
# (Debian packages); installed if missing.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

# Without DATABASE_URL and REDIS_URL: SQLite, projections in-process, one
# gunicorn. With both (in the environment or .env): web, Celery worker and
# beat (Procfile) under honcho. HOST and PORT say where to listen. Ctrl-C
# stops them all (honcho then exits 130: not an error here). honcho reads no
# .env (-e /dev/null): it would put .env's values over the environment's,
# and the processes read .env themselves, the environment winning.
run: $(STAMP)
	$(PY) manage.py init_pii_master_key
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo
	@mkdir -p var "$(PROMETHEUS_MULTIPROC_DIR)" && rm -f "$(PROMETHEUS_MULTIPROC_DIR)"/*.db
	@export PROMETHEUS_MULTIPROC_DIR="$(PROMETHEUS_MULTIPROC_DIR)"; \
	if [ "$$($(PY) -m config.run_shape)" = services ]; then \
		HOST=$(HOST) WEB_PORT=$(PORT) $(VENV)/bin/honcho start -e /dev/null -f Procfile || [ $$? -eq 130 ]; \
	else \
		$(PY) -m gunicorn -c config/gunicorn.py config.wsgi:application --bind $(HOST):$(PORT) --workers 2 --threads 4; \
	fi

# Browser tests drive Chromium; the pooling tests start a PgBouncer of their own.
chromium:
	@{ command -v chromium && { command -v pgbouncer || test -x /usr/sbin/pgbouncer; }; } >/dev/null 2>&1 || { \
		echo "Installing Chromium and PgBouncer for the end-to-end tests..."; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium pgbouncer >/dev/null; }

# The whole suite on PostgreSQL, then the unit and integration tests again on
# the embedded SQLite default (those that need PostgreSQL skip themselves).
test: $(STAMP) chromium
	DATABASE_URL='$(TEST_DATABASE_URL)' REDIS_URL='$(TEST_REDIS_URL)' $(PY) -m pytest $(PYTEST_ARGS)
	@echo "=== again on SQLite (make run's default database)"
	env -u DATABASE_URL -u DATABASE_DIRECT_URL REDIS_URL= VAR_DIR="$$(mktemp -d)" \
		$(PY) -m pytest -q tests/unit tests/integration $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	@for suite in eventstore projections commands http scale; do \
		DATABASE_URL='$(TEST_DATABASE_URL)' REDIS_URL='$(BENCH_REDIS_URL)' $(PY) manage.py bench $$suite --json || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

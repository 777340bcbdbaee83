# Two commands: `make run` serves the site on embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app wsgi

.PHONY: run serve test audit bench bench-quick venv services clean functions-package

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

# Embedded mode: SQLite files in instance/ and an in-process Redis, unless REDIS_URL,
# DATABASE_URL and USERS_DATABASE_URL name real servers.
run: venv
	APP_ENV=development $(FLASK) db upgrade
	APP_ENV=development $(FLASK) demo load
	APP_ENV=development SITE_ORIGIN=$(or $(SITE_ORIGIN),http://127.0.0.1:$(PORT)) $(FLASK) run --host 127.0.0.1 --port $(PORT) --no-reload --with-threads

# The production request path on this machine: nginx on PORT (default 8080) in front of gunicorn,
# against the local PostgreSQL and Redis (or DATABASE_URL, USERS_DATABASE_URL, REDIS_URL).
serve: venv services
	$(BIN)/python -m deploy.stack --port $(or $(SERVE_PORT),8080)

services:
	scripts/ensure-services.sh

# A deployable Functions app folder in build/functions_app, proved by importing it in a fresh
# Python process and listing its functions.
functions-package: venv
	$(BIN)/python scripts/stage_functions.py build/functions_app

test: venv services
	$(BIN)/python -m pytest
	BIN=$(BIN) scripts/audit.sh

# bandit over our code and pip-audit over the pinned dependencies; see scripts/audit.sh.
audit: venv
	BIN=$(BIN) scripts/audit.sh

# Benchmarks (BENCHMARKS.md): the full suite takes about 75 minutes here; the quick one under a
# minute. Results go to bench/results/*.json.
bench: venv services
	$(BIN)/python -m bench

bench-quick: venv services
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis build

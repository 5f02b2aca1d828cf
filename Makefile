# Two commands matter: `make run` (the app on embedded defaults) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: install env run test lint cycles bench chaos migrate demo sandbox clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# Writes .env once with fresh keys; on later runs only adds a demo admin password if it has none.
env: $(BIN)/activate
	$(PY) bin/bootstrap_env.py

migrate: install env
	$(PY) manage.py migrate --no-input

demo: migrate
	$(PY) manage.py setup_demo

# Web + worker + beat + the sandbox shop, on SQLite and the filesystem broker.
run: demo
	$(BIN)/honcho -f Procfile.dev start

test: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

# App pairs that import each other and cross-app import cycles (function-level imports included).
cycles: install
	$(PY) bin/import_cycles.py

bench: install
	@for script in $(filter-out bench/chaos.py bench/copy_reference.py,$(wildcard bench/*.py)); do echo "== $$script"; $(PY) $$script || exit 1; done

# Fault scenarios (broker and database cut or hung, workers killed) against real processes; needs DATABASE_URL
# (PostgreSQL) and REDIS_URL, and uses a database and a Redis db of its own.
chaos: install
	$(PY) bench/chaos.py

clean:
	rm -rf $(VENV) var db.sqlite3 staticfiles

# The two commands a new machine needs: `make run` and `make test`. Both set up .venv first.
# The interpreter .venv is built with: the fastest CPython 3.11+ found (scripts/python_pick says
# how it chooses); `make PYTHON=/path/to/python3` picks another. An existing .venv is kept:
# `make clean` first to rebuild it with another interpreter.
PYTHON ?= $(shell sh scripts/python_pick)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The web port (`make run PORT=8001`); honcho hands it to the Procfile's web process.
PORT ?= 8000
export PORT

.PHONY: run test bench lint typecheck format migrate superuser clean var

$(STAMP): pyproject.toml
	@test -x $(PY) || echo "Building $(VENV) with $(PYTHON)"
	@test -x $(PY) || $(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# A fresh SECRET_KEY and Fernet key, written once; .env is git-ignored and never overwritten.
.env: | $(STAMP)
	$(PY) -c "import secrets; from cryptography.fernet import Fernet; \
	open('.env', 'x').write('SECRET_KEY=' + secrets.token_urlsafe(50) + '\n' \
	+ 'FIELD_ENCRYPTION_KEYS=' + Fernet.generate_key().decode() + '\n')"
	chmod 600 .env

# The filesystem broker's folders (settings: CELERY_BROKER_TRANSPORT_OPTIONS) and the file cache.
var:
	@mkdir -p var/celery-broker var/celery-processed var/celery-control var/cache

migrate: $(STAMP) .env var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_model_catalog
	$(PY) manage.py setup_schedules

# The port is checked before anything starts; the catalog and schedules are reloaded only when
# what they depend on changed (scripts/devrun.py); Ctrl-C stops all three processes.
run: $(STAMP) .env var
	@$(PY) scripts/devrun.py check-port $(PORT)
	@$(PY) scripts/devrun.py prepare
	@$(VENV)/bin/honcho start -f Procfile; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 130 ] || exit $$rc

superuser: $(STAMP) .env var
	$(PY) manage.py createsuperuser

test: $(STAMP)
	$(VENV)/bin/pytest --cov --cov-report=term $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/pytest benchmarks -q -s -p no:randomly $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Type check of the application packages (pyproject.toml [tool.mypy]: files, plugins, overrides).
typecheck: $(STAMP)
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var .coverage .coverage.* .mypy_cache

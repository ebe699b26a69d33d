# Two commands on a fresh machine: `make run` and `make test` (see README).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

# Django 6 needs Python >= 3.12: take python3 if new enough, else a versioned or pyenv interpreter.
PYTHON ?= $(shell \
	for p in python3 python3.13 python3.12 $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3 \
	         $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	    command -v $$p; break; fi; done)

# Development defaults; production sets these in its environment (see README).
export DJANGO_DEBUG ?= 1
export DJANGO_SECRET_KEY ?= dev-only-insecure-key-for-make-run-and-tests

.PHONY: run prod test install install-checkers demo lint format typecheck messages clean

$(STAMP):
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.12 or newer is needed (3.13 recommended); none found." >&2; exit 1; fi
	@echo "Creating $(VENV) with $(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -r requirements/dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

# HTML and accessibility checkers (vnu-jar, axe-core) for the page-quality tests; without npm
# those tests are skipped locally (CI requires them). --ignore-scripts: vnu-jar's postinstall
# would download a JDK; the machine's Java is used instead.
NODE_STAMP := node_modules/.installed-$(shell cat package-lock.json | cksum | cut -d' ' -f1)
$(NODE_STAMP):
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && touch $@; \
	else echo "npm not found: HTML validity and accessibility tests will be skipped."; fi

install: $(STAMP)

install-checkers: $(NODE_STAMP)

demo: install
	@$(BIN)/python manage.py migrate --noinput -v 0
	@$(BIN)/python manage.py load_demo

run: demo
	@echo ""
	@echo "  Reader page:  http://$(HOST):$(PORT)/live/wahlabend-demo/"
	@echo "  Editors' desk: http://$(HOST):$(PORT)/admin/   login: redaktion / liveblog-demo"
	@echo ""
	@$(BIN)/daphne -b $(HOST) -p $(PORT) liveblog.asgi:application

# The production shape on this machine (scripts/prodlike): nginx with TLS in front of one Daphne
# worker per core, a throwaway PostgreSQL database (dropped at exit) and redis-server, production
# settings. Needs Debian's nginx, redis-server and PostgreSQL on 127.0.0.1:5432 (user postgres).
# `make prod PROD_ARGS="--workers 4 --port 9443"`; Ctrl-C stops everything.
prod: install
	@$(BIN)/python -m scripts.prodlike $(PROD_ARGS)

test: install install-checkers
	@$(BIN)/python manage.py collectstatic --noinput -v 0
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

# Files the checks look at: tracked and new (not ignored) ones.
PY_FILES = git ls-files -z --cached --others --exclude-standard -- '*.py'
TEMPLATES = git ls-files -z --cached --others --exclude-standard -- 'templates/*.html'

# Checks only, changes nothing (CI runs this); runs every check and fails if any failed.
lint: install
	@status=0; \
	echo "== ruff check"; $(BIN)/ruff check . || status=1; \
	echo "== ruff format --check"; $(BIN)/ruff format --check . || status=1; \
	echo "== django-upgrade --check"; \
	  $(PY_FILES) | xargs -0 $(BIN)/django-upgrade --target-version 6.0 --check || status=1; \
	echo "== djade --check (templates)"; \
	  $(TEMPLATES) | xargs -0 $(BIN)/djade --target-version 6.0 --check || status=1; \
	echo "== mypy"; $(BIN)/mypy || status=1; \
	exit $$status

# Fixes what the tools can fix: the hooks of .pre-commit-config.yaml over the whole tree.
format: install
	@$(BIN)/pre-commit run --all-files

typecheck: install
	@$(BIN)/mypy

messages: install
	@$(BIN)/python manage.py makemessages -l de -l en --ignore=.venv --ignore=node_modules --ignore=staticfiles --ignore=media
	@$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 .test_db.sqlite3 media staticfiles

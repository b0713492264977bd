# Two commands a newcomer needs: `make dev` and `make test`.
# Each creates .venv and installs what it needs on first use; later runs
# skip the install unless pyproject.toml changed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: dev test check lint install bench clean screenshots

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(VENV)/bin/ticketflow dev $(ARGS)

# `make bench` (full, 10-20 min) or `make bench ARGS=--quick`: numbers, not a test.
$(VENV)/.bench: $(STAMP)
	$(VENV)/bin/python -m pip install --quiet -e '.[test,bench]'
	touch $(VENV)/.bench

bench: $(VENV)/.bench
	$(VENV)/bin/python -m bench $(ARGS)

# Lint, format check and types: part of both `make check` and `make test`.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The fast loop (under a minute): lint, types, and the tests that start no
# server (engine, models, pack tools, history replay). tests/conftest.py marks
# every test that needs Postgres or a Temporal server `server`; tests that start
# processes or walk the whole tree are marked `slow`.
check: lint
	$(VENV)/bin/python -m pytest -q -m "not server and not slow" $(ARGS)

# The full suite, as CI runs it.
test: lint
	$(VENV)/bin/python -m pytest $(ARGS)

# Retake the manual's console screenshots (docs/img/) from the browser tests;
# plain test runs write theirs to a scratch directory.
screenshots: $(STAMP)
	UPDATE_SCREENSHOTS=1 $(VENV)/bin/python -m pytest -q tests/test_console_browser.py $(ARGS)

clean:
	rm -rf $(VENV) .ticketflow .pytest_cache

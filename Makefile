# Developer commands. `make run` and `make test` install whatever is missing first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
CATALOGS := $(patsubst %.po,%.mo,$(wildcard web/translations/*/LC_MESSAGES/messages.po))
RUNTIME_SYSTEM := python3-venv:python3-venv ffmpeg:ffmpeg espeak-ng:espeak-ng
TEST_SYSTEM := $(RUNTIME_SYSTEM) chromium:chromium nginx:nginx zbarimg:zbar-tools icecast2:icecast2 \
	alsa-utils:alsa-utils

.PHONY: run test lint bench audit chaos system-deps test-system-deps translations clean

run: system-deps $(RUNTIME_STAMP) translations
	$(PY) -m broadcaster init
	exec $(PY) -m broadcaster up

# Two workers: much of the suite waits on child processes, ffmpeg and sockets.
PYTEST_ARGS ?= -n 2

# The whole suite on SQLite, then again on PostgreSQL (a throwaway cluster the tests start
# and stop) wherever PostgreSQL is installed or this user may install it.
test: test-system-deps $(DEV_STAMP) translations
	$(PY) -m pytest $(PYTEST_ARGS)
	@if [ "$$(id -u)" -ne 0 ] && ! bin/ensure-system-packages postgresql:postgresql 2>/dev/null; then \
		echo "PostgreSQL is not installed (apt-get install postgresql): ran on SQLite only."; \
	else \
		bin/ensure-system-packages postgresql:postgresql && \
		echo "== the same suite on PostgreSQL" && \
		BROADCASTER_TEST_DATABASE=postgresql $(PY) -m pytest $(PYTEST_ARGS); \
	fi

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Known vulnerabilities in our pinned dependencies (pip-audit asks PyPI's vulnerability
# data at run time, so it needs the network and is not part of `make test`). --strict:
# a dependency that could not be checked fails the run instead of passing unseen.
audit: $(DEV_STAMP)
	$(VENV)/bin/pip-audit --strict --progress-spinner off -r requirements.txt -r requirements-dev.txt

bench: system-deps $(DEV_STAMP) translations
	@set -e; for b in bench/[!_]*.py; do echo "== $$b"; $(PY) $$b; done

# Fault scenarios against real processes (docs/CHAOS.md); CHAOS_ARGS="--seed N" replays a run.
chaos: system-deps $(DEV_STAMP) translations
	$(PY) -m chaos.run $(CHAOS_ARGS)

system-deps:
	@bin/ensure-system-packages $(RUNTIME_SYSTEM)

test-system-deps:
	@bin/ensure-system-packages $(TEST_SYSTEM)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt $(RUNTIME_STAMP)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

translations: $(CATALOGS)

web/translations/%/LC_MESSAGES/messages.mo: web/translations/%/LC_MESSAGES/messages.po $(RUNTIME_STAMP)
	$(VENV)/bin/pybabel compile --use-fuzzy -i $< -o $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Two commands for a fresh machine (Python 3.11+, make, git):  make demo  ·  make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast dev browser clean

setup: $(STAMP)

# The virtual environment, with the locked versions (requirements.lock) and the project editable.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $@

# Headless Chromium checks that reports render (Debian package `chromium`).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      echo "Installing chromium (Debian package) for the report rendering tests…"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else echo "chromium is missing: install the Debian package 'chromium' (report rendering tests need it)"; fi; }

demo: setup
	$(BIN)/mobility demo

test: setup browser
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not e2e and not slow"

# The Dagster UI on http://127.0.0.1:3000 (reads ./dagster.yaml; MOBILITY_HOME defaults to ./mobility_home).
dev: setup
	$(BIN)/dagster dev

clean:
	rm -rf $(VENV) mobility_home .dagster

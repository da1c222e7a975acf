# newsflow — `make demo` runs the pipeline on the embedded broker, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration e2e bench install clean deploy-tools

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "newsflow needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[broker,dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian tools the deploy tests run: promtool and a real Prometheus (package prometheus) and
# `docker-compose config` (package docker-compose). Installed only when one is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
deploy-tools:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null \
		&& command -v docker-compose >/dev/null \
		|| { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install \
			-y -qq --no-install-recommends prometheus docker-compose; }

demo: $(STAMP)
	$(BIN)/newsflow demo $(if $(FOLLOW),--follow,)

lint: $(STAMP)
	$(BIN)/ruff check services tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) deploy-tools
	$(BIN)/pytest tests/unit

integration: $(STAMP) deploy-tools
	$(BIN)/pytest tests/integration

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

test: lint typecheck deploy-tools
	$(BIN)/pytest

bench: $(STAMP)
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .newsflow .pytest_cache .mypy_cache .ruff_cache

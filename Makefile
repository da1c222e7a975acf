# newsflow — `make demo` runs the pipeline on the embedded broker, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration e2e bench install lock clean deploy-tools

# Installs exactly what the lock files pin, each file checked against its hash; newsflow itself
# goes in last without dependencies, built by the locked build backend.
$(STAMP): pyproject.toml requirements-dev.lock requirements-build.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "newsflow needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-build.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# Re-resolve the lock files from pyproject.toml (and requirements-build.in), newest allowed
# versions, every file hashed: requirements.lock is what the image installs (runtime only),
# requirements-dev.lock what `make install` and CI install (runtime, broker and dev extras).
# --universal: valid on every platform and Python >= 3.11, not only on the machine that ran it.
UV_COMPILE := $(BIN)/uv pip compile --universal --python-version 3.11 --generate-hashes --upgrade --quiet
lock: $(STAMP)
	$(UV_COMPILE) pyproject.toml -o requirements.lock
	$(UV_COMPILE) pyproject.toml --extra broker --extra dev -o requirements-dev.lock
	$(UV_COMPILE) requirements-build.in -o requirements-build.lock

# Debian tools the deploy tests run: promtool and a real Prometheus (package prometheus),
# amtool (package prometheus-alertmanager) and `docker-compose config` (package docker-compose).
# Installed only when one is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
deploy-tools:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null \
		&& command -v amtool >/dev/null && command -v docker-compose >/dev/null \
		|| { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install \
			-y -qq --no-install-recommends prometheus prometheus-alertmanager docker-compose; }

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

# The README's two commands: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: run test lint postgres-server bench bench-testmode bench-relay clean

# Reinstall only when pyproject.toml changes; extras are recorded in the stamp name.
$(VENV)/.installed-%: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[$*]"
	@touch $@

run: $(VENV)/.installed-speed
	$(BIN)/python -m amci.stack

test: lint postgres-server
	$(BIN)/python -m pytest -q

# The store and replica tests start a throwaway PostgreSQL cluster from the Debian server
# binaries (tests/conftest.py); a fresh machine gets the package first.
postgres-server:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "make test: the PostgreSQL server is missing; installing it (apt-get install -y postgresql)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
	fi

lint: $(VENV)/.installed-test
	$(BIN)/ruff check amci billing_client tests bench
	$(BIN)/mypy

bench: bench-testmode bench-relay

bench-testmode: $(VENV)/.installed-bench
	$(BIN)/python -m bench.testmode

bench-relay: $(VENV)/.installed-bench
	$(BIN)/python -m bench.relay

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# The README's two commands: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
NODE_DEPS := tests/node/node_modules/.package-lock.json

.PHONY: run test lint bench bench-testmode bench-relay bench-webhooks clean

# Reinstall only when pyproject.toml changes; extras are recorded in the stamp name.
$(VENV)/.installed-%: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[$*]"
	@touch $@

run: $(VENV)/.installed-speed
	$(BIN)/python -m amci.stack

test: lint $(NODE_DEPS)
	$(BIN)/python -m pytest -q

# stripe-node for the second-SDK test: installed from the lock file only when node_modules is
# missing or older than the lock (npm ci writes node_modules/.package-lock.json).
$(NODE_DEPS): tests/node/package-lock.json tests/node/package.json
	@echo "installing stripe-node for tests/node (npm ci: node_modules missing or stale)"
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint: $(VENV)/.installed-test
	$(BIN)/ruff check amci billing_client httpkit tests bench
	$(BIN)/mypy

bench: bench-testmode bench-relay bench-webhooks

bench-testmode: $(VENV)/.installed-bench
	$(BIN)/python -m bench.testmode

bench-relay: $(VENV)/.installed-bench
	$(BIN)/python -m bench.relay

bench-webhooks: $(VENV)/.installed-bench
	$(BIN)/python -m bench.webhooks

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# The README's two commands: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
NODE_DEPS := tests/node/node_modules/.package-lock.json
CHROMIUM  := /usr/bin/chromium

.PHONY: run test lint system-packages fuzz bench bench-testmode bench-relay bench-webhooks bench-replicas bench-burst clean

# Reinstall only when pyproject.toml changes; extras are recorded in the stamp name.
$(VENV)/.installed-%: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[$*]"
	@touch $@

run: $(VENV)/.installed-speed
	$(BIN)/python -m amci.stack

test: lint $(NODE_DEPS) system-packages
	$(BIN)/python -m pytest -q

# The store, replica and topology tests start a throwaway PostgreSQL cluster from the Debian
# server binaries (tests/conftest.py) and HAProxy in front of AMCI replicas
# (tests/e2e/test_topology.py); the browser tests (tests/billing_client/web) drive Debian's
# chromium with Playwright (executable_path: Playwright's own browser download is never used).
# A fresh machine gets the packages first; each install is said.
system-packages:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || missing="$$missing haproxy"; \
	if [ -n "$$missing" ]; then \
		echo "make test: installing the Debian packages the tests start:$$missing (apt-get install -y$$missing)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "make test: installing Debian's chromium for the browser tests ($(CHROMIUM) is missing): apt-get install -y chromium"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-liberation; \
	fi

# stripe-node for the second-SDK test: installed from the lock file only when node_modules is
# missing or older than the lock (npm ci writes node_modules/.package-lock.json).
$(NODE_DEPS): tests/node/package-lock.json tests/node/package.json
	@echo "installing stripe-node and axe-core for tests/node (npm ci: node_modules missing or stale)"
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint: $(VENV)/.installed-test
	$(BIN)/ruff check amci billing_client httpkit tests bench
	$(BIN)/mypy

# The suite's fuzzing test (tests/fuzz), longer: more examples per operation, figures printed.
# FUZZ_SEED=N for another fixed seed.
FUZZ_EXAMPLES ?= 150
fuzz: $(VENV)/.installed-test
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -s tests/fuzz

bench: bench-testmode bench-relay bench-webhooks bench-replicas bench-burst

bench-testmode: $(VENV)/.installed-bench
	$(BIN)/python -m bench.testmode

bench-relay: $(VENV)/.installed-bench
	$(BIN)/python -m bench.relay

bench-webhooks: $(VENV)/.installed-bench
	$(BIN)/python -m bench.webhooks

# AMCI on SQLite vs PostgreSQL, one replica and two (≈ 1 min; a throwaway PostgreSQL cluster).
bench-replicas: $(VENV)/.installed-bench system-packages
	$(BIN)/python -m bench.replicas

# A burst for one account through three replicas: upstream calls per second vs Stripe's limit,
# at rate_limit.headroom 0.90 and 0.95 (≈ 1.5 min).
bench-burst: $(VENV)/.installed-bench system-packages
	$(BIN)/python -m bench.burst

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

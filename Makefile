# Two commands do all the set-up on a fresh machine with Python 3.11: `make run`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

install: $(STAMP)

## Start embedded NATS + services + projections + dashboard, load the demo, serve until Ctrl-C.
run: install
	$(BIN)/sendx run --demo

## Install and run the whole test suite. It also installs Debian's chromium (browser test) and
## Node.js with npm (the partner example, examples/node/), fetches the docker compose v2 binary
## (compose file check) and starts a local PostgreSQL (PostgreSQL tests) when they are missing;
## the scripts are idempotent.
test: install
	deploy/local/ensure-chromium.sh
	deploy/local/ensure-node.sh
	SENDX_COMPOSE="$${SENDX_COMPOSE:-$$(deploy/local/ensure-compose.sh)}" \
	SENDX_TEST_POSTGRES_DSN="$${SENDX_TEST_POSTGRES_DSN:-$$(deploy/local/ensure-postgres.sh)}" \
		$(BIN)/python -m pytest

## The suite RUNS times in a row (default 3) with one core kept busy by a second process,
## stopping at the first failure (tests/under_load.sh): races show up as failures.
test-under-load: install
	SENDX_COMPOSE="$${SENDX_COMPOSE:-$$(deploy/local/ensure-compose.sh)}" \
	SENDX_TEST_POSTGRES_DSN="$${SENDX_TEST_POSTGRES_DSN:-$$(deploy/local/ensure-postgres.sh)}" \
	PYTHON=$(BIN)/python tests/under_load.sh $(or $(RUNS),3)

bench: install
	$(BIN)/python -m bench.partnership

clean:
	rm -rf $(VENV) .sendx

# Orderflow: `make up` runs the platform, `make test` runs every test. No Docker needed.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV = $(shell $(PYTHON) infra/uv_bootstrap.py)
VENV := .venv
PY := $(VENV)/bin/python
export UV_LINK_MODE := copy

.PHONY: help setup up down status test check lint typecheck unit integration asyncapi asyncapi-parser fuzz bench bench-compare bench-ingest bench-consumers bench-history bench-capacity faults browser clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## install what is missing: uv, the locked Python packages (PostgreSQL and a JDK among them), Kafka's and ElasticMQ's jars (cached once per machine)
	@uv="$$($(PYTHON) infra/uv_bootstrap.py)" || exit 1; \
	quiet=--quiet; [ -d $(VENV) ] || { quiet=; echo "make setup: installing the locked Python packages into $(VENV) (about 200 MB to download the first time on this machine)"; }; \
	$$uv sync --all-packages --locked $$quiet || { \
	  echo "make setup: uv sync failed (above); trying again with what uv's cache holds (--offline)" >&2; \
	  $$uv sync --all-packages --locked --quiet --offline; }
	@$(PY) -m devstack fetch

browser: ## Chromium for the dashboard's browser test: on the PATH, else Debian's package as root, else that test is skipped
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || [ -n "$$CHROMIUM" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make browser: installing Debian's chromium for the dashboard's browser test"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	      echo "make browser: apt-get could not install chromium: the dashboard's browser test will be skipped"; \
	  else \
	    echo "make browser: no chromium here: the dashboard's browser test will be skipped; fix: install chromium (sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium"; \
	  fi; }

up: setup ## start Kafka, PostgreSQL, ElasticMQ (SQS) and every service; prints URLs and API keys
	@$(PY) -m devstack up

down: ## stop everything `make up` started
	@$(PY) -m devstack down

status: ## what is running
	@$(PY) -m devstack status

lint: setup ## ruff lint and format check, and the import contracts between layers and services
	$(VENV)/bin/ruff check shared services infra testkit tests bench
	$(VENV)/bin/ruff format --check shared services infra testkit tests bench
	$(VENV)/bin/lint-imports --no-cache --no-logo

typecheck: setup ## mypy --strict on every package
	$(VENV)/bin/mypy --no-incremental shared/src infra/src testkit/src $(wildcard services/*/src) bench

check: lint typecheck ## lint and type check

test: setup browser check ## the whole suite (lint, types, unit, integration, e2e) on real Kafka and PostgreSQL
	$(VENV)/bin/pytest -q -p no:cacheprovider; status=$$?; [ $$status -eq 5 ] && { echo "no tests collected"; exit 1; }; exit $$status

unit: setup ## unit tests only (no I/O)
	$(VENV)/bin/pytest -q -m unit

integration: setup ## integration and end-to-end tests only
	$(VENV)/bin/pytest -q -m "integration or e2e"

asyncapi: setup ## regenerate docs/events/asyncapi.json (the event contract) from the event models
	$(PY) -m shared.events.asyncapi > docs/events/asyncapi.json.part && mv docs/events/asyncapi.json.part docs/events/asyncapi.json

asyncapi-parser: ## optional, needs Node: @asyncapi/parser in the cache, so make test also checks the event contract with it
	@command -v npm >/dev/null 2>&1 || { echo "make asyncapi-parser: needs npm (Node.js); make test validates without it"; exit 1; }
	npm install --prefix "$${ORDERFLOW_CACHE_DIR:-$$HOME/.cache/orderflow}/npm/asyncapi-parser" --no-audit --no-fund --silent @asyncapi/parser@3.6.0

fuzz: setup ## a longer schemathesis run against every service (FUZZ_EXAMPLES=200)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(VENV)/bin/pytest -q tests/e2e/test_fuzz_openapi.py

bench: setup ## benchmark the platform end to end against bare Kafka/PostgreSQL (BENCH_ORDERS=N, quick: 5000)
	@command -v py-spy >/dev/null 2>&1 || [ -x "$$HOME/.local/bin/py-spy" ] || $(UV) tool install --quiet py-spy || echo "py-spy unavailable: no profile"
	$(PY) -m bench.endtoend

faults: setup ## fault scenarios under load (kill -9, broker/database restart, rebalance); fails on any loss (FAULT_ORDERS=N)
	$(PY) -m bench.faults

bench-compare: setup ## paired runs of BENCH_BASE (a git revision) and this tree, in turn (BENCH_PAIRS, BENCH_ORDERS, ...)
	$(PY) -m bench.compare

bench-ingest: setup ## benchmark ingest: orders/s accepted and published, latency percentiles (BENCH_ORDERS=N)
	$(PY) -m bench.ingest

bench-consumers: setup ## benchmark each consumer's apply of orders.v1 in process (BENCH_ORDERS=N, BENCH_RUN=N)
	$(PY) -m bench.consumers

bench-history: setup ## the read routes' p50/p99 and rows read as one seller's history grows to BENCH_HISTORY_ORDERS (1,000,000; and as many over 1,000 others)
	$(PY) -m bench.history

bench-capacity: setup ## CPU an order by role, each role alone, on 12 and 1 partitions (BENCH_ORDERS, BENCH_REPEAT)
	$(PY) -m bench.capacity

clean: down ## stop everything and remove local data (.run/, and the clusters root keeps for it in /var/lib/orderflow)
	@[ ! -x $(PY) ] || $(PY) -m devstack clean
	rm -rf .run test-artifacts

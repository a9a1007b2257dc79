# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export GPUREG_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test lint typecheck fmt install clean db-init unit integration e2e

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## run: set up everything and run the registry (gRPC on 127.0.0.1:50051, SQLite store, projections live)
run: $(STAMP)
	$(BIN)/gpureg serve

## test: set up everything and run the whole suite (unit, integration on SQLite + PostgreSQL, e2e)
test: $(STAMP)
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

e2e: $(STAMP)
	$(BIN)/python -m pytest -q tests/e2e

## lint: ruff and mypy (strict on registry/ and projections/)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

db-init: $(STAMP)
	$(BIN)/gpureg db init

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

## bench-recorders: measure the library's recorders against eventsourcing-sqlalchemy (SQLite, PostgreSQL)
##   writes bench/results/recorders.json; `make bench-recorders BENCH_ARGS=--quick` for a smoke run
.PHONY: bench-recorders
bench-recorders: $(STAMP)
	$(BIN)/python -m bench.recorders $(BENCH_ARGS)

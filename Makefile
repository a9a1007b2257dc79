# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export GPUREG_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: demo run test lint typecheck fmt install clean db-init unit integration e2e tools proto proto-check

# buf (proto lint, `buf curl`) comes from the npm package @bufbuild/buf pinned in package.json,
# installed into ./node_modules; the generated Python lives in registry/api/v1 (see `make proto`).
NODE_STAMP := node_modules/.installed
BUF := node_modules/.bin/buf
PROTO_DIR := proto
PROTOS := $(wildcard $(PROTO_DIR)/registry/api/v1/*.proto)
GEN_DIR := registry/api/v1
PROTOC = $(BIN)/python -m grpc_tools.protoc -I$(PROTO_DIR) --python_out=$(1) --grpc_python_out=$(1) --pyi_out=$(1) $(PROTOS)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

## tools: install buf from npm into ./node_modules
tools: $(NODE_STAMP)

## run: set up everything and run the registry (gRPC on 127.0.0.1:50051, SQLite store, projections live)
run: $(STAMP)
	$(BIN)/gpureg serve

## test: set up everything and run the whole suite (unit, integration on SQLite + PostgreSQL, e2e)
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

e2e: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -q tests/e2e

## lint: ruff, mypy (strict on registry/ and projections/), buf lint, generated code is current
lint: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BUF) lint
	$(MAKE) --no-print-directory proto-check

## proto: regenerate registry/api/v1 from proto/ (committed; never edit the generated files)
proto: $(STAMP)
	rm -f $(GEN_DIR)/*_pb2.py $(GEN_DIR)/*_pb2.pyi $(GEN_DIR)/*_pb2_grpc.py
	$(call PROTOC,.)

## proto-check: fail when registry/api/v1 is not what `make proto` generates
proto-check: $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(call PROTOC,$$tmp) && \
	diff -r -x __init__.py -x __pycache__ "$$tmp/$(GEN_DIR)" $(GEN_DIR) && \
	echo "generated code in $(GEN_DIR) is current"

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## demo: load the seeded Korea deployment through the gRPC API into var/demo.db (SCALE=0.05 for 5%)
SCALE ?= 1.0
demo: $(STAMP)
	$(BIN)/gpureg demo --scale $(SCALE) --database-url sqlite:///var/demo.db

db-init: $(STAMP)
	$(BIN)/gpureg db init

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache node_modules

## bench-recorders: measure the library's recorders against eventsourcing-sqlalchemy (SQLite, PostgreSQL)
##   writes bench/results/recorders.json; `make bench-recorders BENCH_ARGS=--quick` for a smoke run
.PHONY: bench-recorders
bench-recorders: $(STAMP)
	$(BIN)/python -m bench.recorders $(BENCH_ARGS)

## bench: measure the registry against baselines in one run (SQLite, and PostgreSQL when reachable);
##   writes bench/results/latest.{json,md} and charts; `make bench BENCH_ARGS="--quick --no-postgres"`
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

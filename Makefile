# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export GPUREG_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: demo run test lint typecheck fmt install clean db-init unit integration e2e tools proto proto-check system-deps report-screenshot

# buf (proto lint, `buf curl`) comes from the npm package @bufbuild/buf pinned in package.json,
# installed into ./node_modules; the generated Python lives in registry/api/v1 (see `make proto`).
NODE_STAMP := node_modules/.installed
BUF := node_modules/.bin/buf
PROTO_DIR := proto
PROTOS := $(wildcard $(PROTO_DIR)/registry/api/v1/*.proto)
GEN_DIR := registry/api/v1
PROTOC = $(BIN)/python -m grpc_tools.protoc -I$(PROTO_DIR) --python_out=$(1) --grpc_python_out=$(1) --pyi_out=$(1) $(PROTOS)

# Debian packages: the DejaVu fonts reports are typeset in (needed at run time for PDF reports, laid out by
# ReportLab), WeasyPrint's libraries (the former PDF writer, `make bench`'s baseline for the PDF figures),
# pdftotext/pdftoppm, headless Chromium and tesseract OCR (report checks: a PDF's pages read as images). `make system-deps` installs the missing ones
# with apt-get (as root, no sudo); run, test, integration, e2e and report-screenshot depend on it only when
# one is missing (the check is one dpkg-query per package).
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils chromium \
	tesseract-ocr
SYSTEM_MISSING := $(shell command -v dpkg-query >/dev/null && for p in $(SYSTEM_PACKAGES); do \
	dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null | grep -qx installed || echo $$p; done)
SYSTEM_DEPS := $(if $(strip $(SYSTEM_MISSING)),system-deps)
# `make run` needs only the fonts (PDF reports); without root it warns instead of failing.
RUN_PACKAGES := fonts-dejavu-core
RUN_MISSING := $(filter $(RUN_PACKAGES),$(SYSTEM_MISSING))

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

## system-deps: apt-get install the Debian packages in SYSTEM_PACKAGES that are missing
system-deps:
	@if [ -z "$(strip $(SYSTEM_MISSING))" ]; then echo "Debian packages present: $(SYSTEM_PACKAGES)"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "missing Debian packages: $(SYSTEM_MISSING); as root: apt-get install -y $(SYSTEM_MISSING)" >&2; exit 1; fi; \
	echo "installing Debian packages: $(SYSTEM_MISSING)"; \
	apt-get -o DPkg::Lock::Timeout=600 update -q && \
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q $(SYSTEM_MISSING)

# Prometheus metrics of `make run` (override: make run METRICS_LISTEN=127.0.0.1:9999)
METRICS_LISTEN ?= 127.0.0.1:9464

## run: set up everything and run the registry (gRPC on 127.0.0.1:50051, SQLite store, projections live)
run: $(STAMP)
	@if [ -n "$(strip $(RUN_MISSING))" ]; then \
		if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory system-deps SYSTEM_MISSING="$(RUN_MISSING)"; \
		else echo "note: PDF reports need: apt-get install $(RUN_MISSING)" >&2; fi; fi
	$(BIN)/gpureg serve --metrics-listen $(METRICS_LISTEN)

## test: set up everything and run the whole suite (unit, integration on SQLite + PostgreSQL, e2e)
test: $(SYSTEM_DEPS) $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(SYSTEM_DEPS) $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

e2e: $(SYSTEM_DEPS) $(STAMP) $(NODE_STAMP)
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

## bench-journal: the journal's append overhead (with vs without the tree) and verify throughput alone
##   `make bench-journal BENCH_ARGS="--quick --no-postgres"` for a smoke run (`make bench` runs both too)
.PHONY: bench-journal
bench-journal: $(STAMP)
	$(BIN)/python -m bench.journal $(BENCH_ARGS)

## report-screenshot: load a small demo deployment (1%) in process, build its ownership report, open the HTML
##   in headless Chromium, save docs/report-sample.png (SCREENSHOT_ARGS= for the fixture report instead)
SCREENSHOT_ARGS ?= --demo 0.01
report-screenshot: $(SYSTEM_DEPS) $(STAMP)
	$(BIN)/python -m registry.reports.screenshot $(SCREENSHOT_ARGS) --out docs/report-sample.png --height 4020

## bench: measure the registry against baselines in one run (SQLite, and PostgreSQL when reachable);
##   writes bench/results/latest.{json,md} and charts; `make bench BENCH_ARGS="--quick --no-postgres"`
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

## fuzz: every RPC fuzzed from the proto descriptors against real servers, >= 10,000 requests per method
##   (FUZZ_ARGS="--per-method 500" for a shorter run); writes bench/results/fuzz.{json,md} and the
##   figures in docs/reliability.md; exit 1 on any INTERNAL/UNKNOWN, leaked exception text or write by a refusal
.PHONY: fuzz
FUZZ_ARGS ?=
fuzz: $(STAMP)
	$(BIN)/python -m bench.fuzz $(FUZZ_ARGS)

## chaos: the fault suite on loopback (kill -9 under load, PostgreSQL stopped mid-load, the SQLite disk full
##   (mounts a tmpfs: root), racing writers), on SQLite and PostgreSQL; CHAOS_ARGS="--rounds 5" for a shorter
##   run; writes bench/results/chaos.{json,md}
.PHONY: chaos
CHAOS_ARGS ?=
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

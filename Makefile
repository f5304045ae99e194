# Cephalon developer entry points. `make test` and `make demo` set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
MEMBERS := contracts policy operator gateway session_runtime devkit
SRC_DIRS := $(foreach m,$(MEMBERS),$(m)/src)
COPILOT_DIR := tools/copilot
STAMP := $(VENV)/.cephalon-setup
# Per-image pinned locks (folder=package), written by `make lock` for the Dockerfiles.
IMAGE_LOCKS := operator=cephalon-operator gateway=cephalon-gateway \
  session_runtime=cephalon-runtime devkit=cephalon-devkit
CHART_CRDS := charts/cephalon/crds
KIND_CLUSTER ?= cephalon

export PATH := $(VENV)/bin:$(CURDIR)/$(COPILOT_DIR)/node_modules/.bin:$(PATH)

.PHONY: help setup system-deps lock crds crds-check docs docs-check lint test unit smoke bench demo up kind-up e2e-kind kind-down clean

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	PYTHON=$(PYTHON) tools/bootstrap-uv.sh $(UV_VERSION)

$(STAMP): requirements.lock $(foreach m,$(MEMBERS),$(m)/pyproject.toml) | $(UV)
	@test -x $(PY) || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps $(foreach m,$(MEMBERS),-e ./$(m))
	@touch $@

$(COPILOT_DIR)/node_modules/.package-lock.json: $(COPILOT_DIR)/package-lock.json
	npm ci --prefix $(COPILOT_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

system-deps: ## install redis-server and npm from Debian's packages when absent
	@tools/ensure-system-deps.sh

setup: system-deps $(STAMP) $(COPILOT_DIR)/node_modules/.package-lock.json ## create .venv from requirements.lock, install the pinned Copilot CLI

lock: ## re-resolve dependencies and rewrite the URL-free pinned lock
	$(UV) lock
	$(UV) export --quiet --format requirements-txt --all-packages --all-groups \
	  --no-emit-workspace --frozen --no-header -o requirements.lock
	@set -e; for pair in $(IMAGE_LOCKS); do \
	  $(UV) export --quiet --format requirements-txt --package $${pair#*=} --no-dev \
	    --no-emit-workspace --frozen --no-header -o $${pair%%=*}/requirements.lock; done

crds: $(STAMP) ## regenerate crds/*.yaml from the contract models (and the chart's copy)
	$(PY) -m cephalon_contracts.crds --docs docs/crds.md crds/
	rm -f $(CHART_CRDS)/*.yaml && cp crds/*.yaml $(CHART_CRDS)/
	$(PY) tests/chart/test_values_schema.py

crds-check: $(STAMP) ## fail when committed CRDs differ from freshly generated ones
	$(PY) -m cephalon_contracts.crds --check --docs docs/crds.md crds/
	@diff -r -x samples crds $(CHART_CRDS) || { echo "$(CHART_CRDS) differs from crds/: run make crds" >&2; exit 1; }

docs: $(STAMP) ## regenerate docs/configuration.md from the settings classes
	$(PY) tools/config_docs.py docs/configuration.md

docs-check: $(STAMP)
	$(PY) tools/config_docs.py --check docs/configuration.md

lint: $(STAMP) crds-check docs-check ## ruff, mypy --strict, import-linter, secret guard, generated files
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy $(SRC_DIRS) tools/secret_guard.py tools/config_docs.py benchmarks/report.py
	$(VENV)/bin/lint-imports
	$(PY) tools/secret_guard.py

unit: setup ## run the test suite only
	$(PY) -m pytest

test: setup lint unit ## everything CI runs: setup, quality gates, tests

smoke: setup ## set up, then show and self-check the wire contracts
	$(PY) -m cephalon_contracts.smoke

bench: setup ## benchmarks (print a table, write bench-results/*.json)
	@set -e; for bench in benchmarks/bench_*.py; do echo "== $$bench" >&2; $(PY) $$bench; done

demo: setup ## the offline end-to-end demo: local mode, two tenants, a scripted conversation each
	$(VENV)/bin/cephalon demo

up: setup ## local mode until Ctrl-C (real Discord when the bot credentials are in the environment)
	$(VENV)/bin/cephalon dev up

kind-up: ## kind cluster, images built and loaded, the chart installed with a test tenant
	KIND_CLUSTER=$(KIND_CLUSTER) tests/e2e_kind/kind-up.sh

e2e-kind: setup kind-up ## end-to-end tests on the kind cluster (needs Docker, kind, kubectl, helm)
	KIND_CLUSTER=$(KIND_CLUSTER) $(PY) -m pytest -m e2e_kind tests/e2e_kind -v

kind-down: ## delete the kind cluster
	kind delete cluster --name $(KIND_CLUSTER)

clean: ## remove the virtualenv, tool caches and node_modules
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache $(COPILOT_DIR)/node_modules

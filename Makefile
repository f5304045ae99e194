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

export PATH := $(VENV)/bin:$(CURDIR)/$(COPILOT_DIR)/node_modules/.bin:$(PATH)

.PHONY: help setup system-deps lock crds crds-check docs docs-check lint test unit smoke bench demo clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

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

crds: $(STAMP) ## regenerate crds/*.yaml from the contract models
	$(PY) -m cephalon_contracts.crds --docs docs/crds.md crds/

crds-check: $(STAMP) ## fail when committed CRDs differ from freshly generated ones
	$(PY) -m cephalon_contracts.crds --check --docs docs/crds.md crds/

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

smoke: setup ## set up, then show and self-check the wire contracts (until local mode lands)
	$(PY) -m cephalon_contracts.smoke

bench: setup ## benchmarks (print a table, write bench-results/*.json)
	@set -e; for bench in benchmarks/bench_*.py; do echo "== $$bench" >&2; $(PY) $$bench; done

demo: setup ## the offline end-to-end demo (local mode)
	@echo "make demo: local mode is not built yet (it arrives with the local-mode issue)." >&2
	@echo "Until then, 'make smoke' shows and self-checks the wire contracts." >&2
	@exit 2

clean: ## remove the virtualenv, tool caches and node_modules
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache $(COPILOT_DIR)/node_modules

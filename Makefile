# The commands a person types. Everything bootstraps itself from python3 on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := .tools
HATCH := $(TOOLS)/bin/hatch
HATCH_VERSION := 1.18.2
UV_VERSION := 0.13.9
# hatch finds the pyenv interpreters for the 3.11-3.13 matrix without downloading any.
ifneq ($(shell command -v pyenv 2>/dev/null),)
export PYENV_VERSION ?= 3.11.7:3.12.1:3.13.0
endif
export HATCH_ENV_TYPE_VIRTUAL_UV_PATH := $(abspath $(TOOLS))/bin/uv
export HATCH_DATA_DIR := $(abspath .hatch)

.PHONY: help install test test-all lint fmt typecheck run bench deploy-check up down logs clean \
	dist dist-check docs

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(HATCH):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check \
		"hatch==$(HATCH_VERSION)" "uv==$(UV_VERSION)"

install: $(HATCH) ## create the development environment (every package editable)
	$(HATCH) run python -c "import platform_core"

test: install ## run every package's tests and tests/ on the default Python
	$(HATCH) run test

test-all: $(HATCH) ## run the hatch test matrix (3.11, 3.12, 3.13 x package)
	$(HATCH) test --all

dist: $(HATCH) ## build a wheel and an sdist of every package into dist/
	$(PYTHON) scripts/release.py build

dist-check: dist ## install each wheel alone, and each README's install line, in fresh venvs
	$(PYTHON) scripts/release.py check

docs: $(HATCH) ## build the documentation site into site/ (mkdocs --strict)
	$(HATCH) run docs:build

lint: $(HATCH) ## ruff check and format check
	$(HATCH) run lint:check

fmt: $(HATCH) ## apply ruff fixes and formatting
	$(HATCH) run lint:fmt

typecheck: $(HATCH) ## mypy --strict over packages/*/src and apps/*/src
	$(HATCH) run types:check

run: install ## start the stack on embedded defaults (Task Queue API :8080, worker, draft API :8000)
	@# The environment's python runs the launcher directly, so Ctrl-C reaches it without a wrapper.
	"$$($(HATCH) env find default)/bin/python" scripts/run_stack.py

bench: $(HATCH) ## run benchmarks/ and write benchmarks/results.md
	$(HATCH) run bench:run $(ARGS)

deploy-check: $(HATCH) ## check docker-compose.yml, the Dockerfiles and deploy/k8s (rendered, validated, checkov)
	$(HATCH) run deploy:check

up: ## start the production-shaped stack with docker compose
	docker compose up -d --build

down: ## stop the docker compose stack
	docker compose down

logs: ## follow the docker compose logs
	docker compose logs -f

clean: ## remove environments, caches and build output
	rm -rf $(TOOLS) .hatch .mypy_cache .ruff_cache .pytest_cache .hypothesis dist site
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

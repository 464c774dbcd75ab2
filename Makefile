# MovieMetric developer commands. Each target does its own setup.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up run serve test lint services bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## up: everything on this machine (embedded PostgreSQL, the TMDB sandbox over 8 days): the
## first run, then the API on http://127.0.0.1:8000 and the scheduler, until Ctrl+C
up: $(VENV)/.installed
	$(BIN)/moviemetric up

## run: load TMDB (default: the built-in sandbox), then build, test and publish the warehouse
run: $(VENV)/.installed
	$(BIN)/moviemetric run

## serve: the read-only API on http://127.0.0.1:8000 over what `make run` published
serve: $(VENV)/.installed
	$(BIN)/moviemetric serve

## test: lint, then the whole test suite against real PostgreSQL and Redis
test: $(VENV)/.installed services lint
	$(BIN)/pytest -n 2 --dist loadfile --durations=20

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

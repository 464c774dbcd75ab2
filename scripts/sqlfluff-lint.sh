#!/usr/bin/env bash
# Lint the dbt models with sqlfluff (postgres dialect, dbt templater; see .sqlfluff).
# The dbt templater compiles the project, so it needs a reachable warehouse: the
# test server unless libpq's PG* variables say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d dbt_project/models ] || { echo "no dbt models yet"; exit 0; }
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PGDATABASE="${PGDATABASE:-postgres}"
exec .venv/bin/sqlfluff lint dbt_project/models dbt_project/macros dbt_project/tests

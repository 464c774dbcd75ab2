"""Benchmark: the first build on a fresh embedded warehouse against a repeated full build.

For each catalog size, in one run, on a new MOVIEMETRIC_HOME (the embedded PostgreSQL,
no DATABASE_URL, as `make run` on a fresh machine):
  1. `moviemetric load` backfills a sandbox catalog;
  2. first build: `moviemetric transform` on the brand-new server and empty schemas;
  3. reference: `moviemetric transform --full-refresh`, twice, on the same data (a warm
     server, the tables replaced).
Reported: seconds for each, first / median repeated (target: at most 2), and the
slowest dbt nodes of the first and of the last build. Results go to
bench/results/first_build.json.

    python -m bench.first_build --movies 10000
"""

from __future__ import annotations

import os
import statistics
import tempfile

from bench._harness import (
    CATALOG_DATE,
    SEED,
    command_env,
    run_command,
    run_sizes,
    sandbox_env,
    sandbox_process,
)
from bench.build import _slowest_nodes


def _slowest_of_all(home: str) -> dict[str, float]:
    return _slowest_nodes(home, count=5, kinds=("model.", "test.", "unit_test."))


def bench_size(movies: int) -> dict:
    with tempfile.TemporaryDirectory() as home:
        os.chmod(home, 0o755)  # the embedded server runs as its own user when we are root
        env = command_env(None, home)
        with sandbox_process(movies, SEED, CATALOG_DATE) as base_url:
            run_command("load", {**env, **sandbox_env(base_url)})
        first = run_command("transform", env)
        first_nodes = _slowest_of_all(home)
        repeated = [run_command("transform", env, "--full-refresh") for _ in range(2)]
        repeated_nodes = _slowest_of_all(home)
    reference = statistics.median(repeated)
    return {
        "movies": movies,
        "first_build_s": round(first, 1),
        "repeated_full_builds_s": [round(seconds, 1) for seconds in repeated],
        "first_to_repeated": round(first / reference, 2),
        "first_build_slowest_nodes_s": first_nodes,
        "repeated_build_slowest_nodes_s": repeated_nodes,
    }


def main() -> None:
    run_sizes(__doc__.splitlines()[0], "first_build", bench_size)


if __name__ == "__main__":
    main()

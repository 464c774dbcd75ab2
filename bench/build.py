"""Benchmark: `moviemetric transform` (dbt build + tests + publish) at catalog scale.

For each catalog size, in one run and one fresh database:
  1. `moviemetric load` backfills a sandbox catalog (day D);
  2. reference: `create table as select *` of every raw table (read and write the raw
     data once: the floor any transformation pays);
  3. full build: `moviemetric transform` from empty schemas;
  4. the sandbox moves to day D+1 (popularity drifts for every movie, a share of movies
     changes), `moviemetric load` fetches the changes, and `moviemetric transform` runs
     the daily incremental build.
The recommendation models are also timed alone, so that no other model shares the
two cores with them: after step 3, `moviemetric transform --full-refresh --select
+movie_recommendations` (their ancestors run before them); after the day D+1 load,
the same selection without --full-refresh on a copy of
the database (the whole daily build then runs on the original), with the share of
movies whose recommendation list was rescored (up to 200,000 movies; above, they are
timed in the whole builds only).
Reported: the loads' seconds, peak memory, CPU and the database's size after them;
seconds for each build, the build/reference ratio, the slowest dbt nodes (from
dbt's run_results.json, including movie_recommendations), and the share of movies
whose details changed. Results go to bench/results/build.json.

    python -m bench.build --movies 10000 100000
    python -m bench.build --movies 1000000 --output build_1m
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from bench._harness import (
    CATALOG_DATE,
    SEED,
    ProcessRun,
    command_env,
    database_mib,
    run_command,
    run_command_measured,
    run_sizes,
    sandbox_env,
    sandbox_process,
    scratch_database,
)

# every model the recommendations are built from, and only those
RECOMMENDATION_MODELS = (
    "int_movie_features",
    "int_recommendation_terms",
    "int_recommendation_pools",
    "int_recommendation_priors",
    "int_movie_recommendation_content",
    "int_recommendation_pool_partners",
    "int_movie_recommendation_lists_part_0",
    "int_movie_recommendation_lists_part_1",
    "int_movie_recommendation_lists",
    "movie_recommendations",
)
# above this size the recommendation models are timed in the whole builds only: timing
# them alone (a full refresh and a copy of the warehouse) would double an hour's run
ALONE_UP_TO = 200_000
# the incremental tables behind the view int_movie_recommendation_lists
LIST_PARTS = ("int_movie_recommendation_lists_part_0", "int_movie_recommendation_lists_part_1")


def _raw_copy_seconds(url: str) -> float:
    """Copy every raw table once (create table as select), then drop the copies."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'raw_tmdb' and table_name not like '\\_dlt%%'"
            )
        ]
        conn.execute("create schema bench_copy")
        started = time.perf_counter()
        for table in tables:
            conn.execute(
                sql.SQL("create table bench_copy.{} as select * from raw_tmdb.{}").format(
                    sql.Identifier(table), sql.Identifier(table)
                )
            )
        seconds = time.perf_counter() - started
        conn.execute("drop schema bench_copy cascade")
    return seconds


def _slowest_nodes(
    home: str, count: int = 5, kinds: tuple[str, ...] = ("model.",)
) -> dict[str, float]:
    results = json.loads((Path(home) / "dbt" / "target" / "run_results.json").read_text())
    timings = {
        result["unique_id"].split(".")[
            -1 if result["unique_id"].startswith("model.") else 2
        ]: result["execution_time"]
        for result in results["results"]
        if result["unique_id"].startswith(kinds)
    }
    slowest = sorted(timings.items(), key=lambda item: item[1], reverse=True)[:count]
    return {name: round(seconds, 2) for name, seconds in slowest}


def _model_seconds(home: str, models: tuple[str, ...]) -> dict[str, float]:
    """dbt's own execution time of each of ``models`` in the last dbt run."""
    results = json.loads((Path(home) / "dbt" / "target" / "run_results.json").read_text())
    seconds = {
        result["unique_id"].split(".")[-1]: result["execution_time"]
        for result in results["results"]
        if result["unique_id"].startswith("model.")
    }
    missing = [model for model in models if model not in seconds]
    if missing:
        raise RuntimeError(f"dbt's run_results.json has no timing for {missing}")
    return {model: round(seconds[model], 2) for model in models}


def _model_wall_seconds(home: str, models: tuple[str, ...]) -> float:
    """Seconds from the start of the first of ``models`` to the end of the last, in the
    last dbt run: what waiting for them costs, with the tests dbt runs between them and
    with the parts dbt builds at the same time counted once."""
    results = json.loads((Path(home) / "dbt" / "target" / "run_results.json").read_text())
    spans = [
        (
            datetime.fromisoformat(timing["started_at"]),
            datetime.fromisoformat(timing["completed_at"]),
        )
        for result in results["results"]
        if result["unique_id"].startswith("model.") and result["unique_id"].split(".")[-1] in models
        for timing in result["timing"]
        if timing["name"] == "execute"
    ]
    return round(
        (max(end for _, end in spans) - min(start for start, _ in spans)).total_seconds(), 1
    )


def _recommendations_alone(env: dict[str, str], *options: str) -> dict:
    """Build only the recommendation models; their dbt timings, their sum and their wall
    time."""
    # with their ancestors, which run first: staging and marts must see the day's data
    run_command("transform", env, "--select", "+movie_recommendations", *options)
    home = env["MOVIEMETRIC_HOME"]
    models = _model_seconds(home, RECOMMENDATION_MODELS)
    return {
        "total_s": round(sum(models.values()), 1),
        "wall_s": _model_wall_seconds(home, RECOMMENDATION_MODELS),
        "models_s": models,
    }


def _list_versions(url: str) -> dict[int, str]:
    """Each movie's recommendation list version: the transaction that wrote it."""
    with psycopg.connect(url) as conn:
        parts = " union all ".join(
            f"select movie_id, xmin::text as version from intermediate.{part}"
            for part in LIST_PARTS
        )
        rows = conn.execute(
            f"select movie_id, min(version) from ({parts}) as lists group by movie_id"
        )
        return dict(rows.fetchall())


def _load_figures(run: ProcessRun, url: str) -> dict:
    """What a measured ``moviemetric load`` cost: seconds, peak memory, CPU, disk after."""
    return {
        "s": round(run.seconds, 1),
        "peak_rss_mib": round(run.peak_rss_mib),
        "cpu_s": round(run.cpu_seconds, 1),
        "database_mib_after": database_mib(url),
    }


def bench_size(movies: int) -> dict:
    alone = movies <= ALONE_UP_TO
    with scratch_database() as url, tempfile.TemporaryDirectory() as home:
        env = command_env(url, home)
        with sandbox_process(movies, SEED, CATALOG_DATE) as base_url:
            load = _load_figures(
                run_command_measured("load", {**env, **sandbox_env(base_url)}), url
            )
        reference = _raw_copy_seconds(url)
        full_build = run_command("transform", env)
        full_nodes = _slowest_nodes(home)
        in_build_full = _model_seconds(home, RECOMMENDATION_MODELS)
        wall_full = _model_wall_seconds(home, RECOMMENDATION_MODELS)
        database_after_full = database_mib(url)
        alone_full = _recommendations_alone(env, "--full-refresh") if alone else None
        with psycopg.connect(url) as conn:
            (catalog,) = conn.execute("select count(*) from raw_tmdb.movies").fetchone()
            (last_load,) = conn.execute(
                "select coalesce(max(_dlt_load_id), '') from raw_tmdb.movies"
            ).fetchone()
        with sandbox_process(movies, SEED, CATALOG_DATE + timedelta(days=1)) as base_url:
            daily_load = _load_figures(
                run_command_measured("load", {**env, **sandbox_env(base_url)}), url
            )
        with psycopg.connect(url) as conn:
            (changed,) = conn.execute(
                "select count(*) from raw_tmdb.movies where _dlt_load_id > %s", (last_load,)
            ).fetchone()
        alone_incremental = None
        if alone:
            with scratch_database(template=url) as copy_url:
                versions = _list_versions(copy_url)
                alone_incremental = _recommendations_alone({**env, "DATABASE_URL": copy_url})
                new_versions = _list_versions(copy_url)
            rescored = sum(
                1 for movie_id, version in new_versions.items() if versions.get(movie_id) != version
            )
            alone_incremental["rescored_share"] = round(rescored / max(len(new_versions), 1), 4)
        incremental_build = run_command("transform", env)
        incremental_nodes = _slowest_nodes(home)
        in_build_incremental = _model_seconds(home, RECOMMENDATION_MODELS)
        wall_incremental = _model_wall_seconds(home, RECOMMENDATION_MODELS)
        database_after_daily = database_mib(url)
    return {
        "movies": movies,
        "catalog_movies": catalog,
        "load": load,
        "load_movies_per_s": round(catalog / load["s"], 1),
        "reference_raw_copy_s": round(reference, 2),
        "full_build_s": round(full_build, 1),
        "full_build_to_reference": round(full_build / reference, 1),
        "full_build_slowest_models_s": full_nodes,
        "database_mib_after_full_build": database_after_full,
        "daily_load": daily_load,
        "changed_share": round(changed / catalog, 4),
        "incremental_build_s": round(incremental_build, 1),
        "incremental_build_slowest_models_s": incremental_nodes,
        "database_mib_after_daily_build": database_after_daily,
        "recommendation_models": {
            "alone_full": alone_full,
            "alone_incremental": alone_incremental,
            "in_build_full_s": round(sum(in_build_full.values()), 1),
            "in_build_full_wall_s": wall_full,
            "in_build_incremental_s": round(sum(in_build_incremental.values()), 1),
            "in_build_incremental_wall_s": wall_incremental,
        },
    }


def main() -> None:
    run_sizes(__doc__.splitlines()[0], "build", bench_size)


if __name__ == "__main__":
    main()

"""Benchmark: the daily transform over a year of popularity history.

In one run, at each --movies size (default 100,000):
  1. `moviemetric load` backfills the sandbox catalog (day D) into a fresh database;
  2. a copy of it gets a year of history, generated with SQL (not 365 loads): for each
     of the 364 days before D, one snapshot per loaded movie, its popularity drifting
     around the day-D value, loaded at noon of its day, into
     raw_tmdb.movie_popularity_snapshots (36.5M rows at 100,000 movies);
  3. on both warehouses: the full build (`moviemetric transform`, whose publish moves
     the history into the fact alone: raw keeps its last 45 days), then the sandbox
     moves to D+1, `moviemetric load`, and the daily build (`moviemetric transform`);
     the one-day warehouse is the reference: a daily build that reads only its window
     costs the same over a year of history as over a day (ratio near 1);
  4. around the year warehouse's daily build, what it read of the history tables
     (pg_stat_user_tables: rows read by sequential scans, rows fetched by index scans);
     after it, EXPLAIN (ANALYZE) of the models that read the history by date
     (genre_stats_daily with int_movie_state_daily, movie_trending_daily), from dbt's
     compiled SQL: the scans of the history and the rows each returned.
Reported: seconds of each build, the year/day ratio of the daily build, the history's
rows and size in raw and in the fact after each build, the rows read. Results go to
bench/results/history.json.

    python -m bench.history --movies 100000
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psycopg

from bench._harness import (
    CATALOG_DATE,
    SEED,
    command_env,
    run_command,
    run_sizes,
    sandbox_env,
    sandbox_process,
    scratch_database,
)

HISTORY_DAYS = 365
HISTORY_TABLES = (
    ("raw_tmdb", "movie_popularity_snapshots"),
    ("marts", "fct_movie_popularity_daily"),
)
# the models that read the history by date; int_movie_state_daily is ephemeral,
# compiled into genre_stats_daily
WINDOW_MODELS = ("genre_stats_daily", "movie_trending_daily")

# One snapshot per movie per day before D, from its day-D snapshot: popularity drifts
# by up to 30% a day around it (a deterministic hash of movie and day), votes are null
# as on a day the movie was not on the first discover pages.
GENERATE_HISTORY = """
insert into raw_tmdb.movie_popularity_snapshots
    (id, snapshot_date, popularity, vote_average, vote_count, _loaded_at, _dlt_load_id, _dlt_id)
select
    today.id,
    today.snapshot_date - days_back,
    round((today.popularity * (0.7 + 0.6 * (
        abs(hashtextextended(today.id::text || '/' || days_back::text, 0)) %% 1000
    ) / 1000.0))::numeric, 3)::double precision,
    null,
    null,
    (today.snapshot_date - days_back)::timestamp at time zone 'UTC' + interval '12 hours',
    'history',
    md5(today.id::text || '/' || days_back::text)
from raw_tmdb.movie_popularity_snapshots as today
cross join generate_series(1, %(days)s - 1) as days_back
"""


def _history_size(url: str) -> dict[str, dict[str, float]]:
    with psycopg.connect(url) as conn:
        return {
            f"{schema}.{table}": {
                "rows": conn.execute(f"select count(*) from {schema}.{table}").fetchone()[0],
                "mib": round(
                    conn.execute(
                        "select pg_total_relation_size(%s)", (f"{schema}.{table}",)
                    ).fetchone()[0]
                    / 2**20,
                    1,
                ),
            }
            for schema, table in HISTORY_TABLES
        }


def _reads(url: str) -> dict[str, tuple[int, int]]:
    """Per history table: (rows read by sequential scans, rows fetched by index scans)."""
    time.sleep(1.5)  # other backends flush their statistics at most once a second
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select schemaname || '.' || relname, coalesce(seq_tup_read, 0), "
            "coalesce(idx_tup_fetch, 0) from pg_stat_user_tables "
            "where (schemaname, relname) in (('raw_tmdb', 'movie_popularity_snapshots'), "
            "('marts', 'fct_movie_popularity_daily'))"
        ).fetchall()
    return {name: (seq, fetched) for name, seq, fetched in rows}


def _history_scans(plan: dict) -> list[dict]:
    """The plan's scans of the history tables: node, index, rows returned in all loops."""
    scans = []
    stack = [plan["Plan"]]
    while stack:
        node = stack.pop()
        stack.extend(node.get("Plans", []))
        if node.get("Relation Name") in {table for _schema, table in HISTORY_TABLES}:
            scans.append(
                {
                    "relation": node["Relation Name"],
                    "node": node["Node Type"],
                    "index": node.get("Index Name"),
                    "rows": int(node["Actual Rows"] * node["Actual Loops"]),
                    "loops": node["Actual Loops"],
                }
            )
    return scans


def _explain_window_models(url: str, home: str) -> dict[str, dict]:
    compiled = Path(home) / "dbt" / "target" / "compiled" / "moviemetric" / "models"
    explained = {}
    with psycopg.connect(url) as conn:
        conn.execute("set jit = off")
        for model in WINDOW_MODELS:
            statement = (compiled / "artifacts" / f"{model}.sql").read_text()
            # the build schema was published (renamed) since: read what was published
            statement = statement.replace('"artifacts__build".', '"artifacts".')
            (plan,) = conn.execute("explain (analyze, format json) " + statement).fetchone()[0]
            explained[model] = {
                "ms": round(plan["Execution Time"], 1),
                "history_scans": _history_scans(plan),
            }
    return explained


def _warehouse_days(url: str, home: str, movies: int, history: bool) -> dict:
    env = command_env(url, home)
    result: dict = {}
    if history:
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            conn.execute(GENERATE_HISTORY, {"days": HISTORY_DAYS})
            conn.commit()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze raw_tmdb.movie_popularity_snapshots")
        result["generate_s"] = round(time.perf_counter() - started, 1)
    result["full_build_s"] = round(run_command("transform", env), 1)
    # the transform's publish pruned raw to its last weeks (transform/history.py): on
    # the year warehouse, 318 days at once, as on the first publish after an upgrade;
    # the vacuum autovacuum would do next brings the daily build to the steady state
    result["history_after_full_build"] = _history_size(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze raw_tmdb.movie_popularity_snapshots")
    with sandbox_process(movies, SEED, CATALOG_DATE + timedelta(days=1)) as base_url:
        run_command("load", {**env, **sandbox_env(base_url)})
    before = _reads(url)
    result["daily_build_s"] = round(run_command("transform", env), 1)
    after = _reads(url)
    result["daily_reads"] = {
        table: {
            "seq_rows_read": after[table][0] - before.get(table, (0, 0))[0],
            "index_rows_fetched": after[table][1] - before.get(table, (0, 0))[1],
        }
        for table in after
    }
    result["history"] = _history_size(url)
    if history:
        result["window_models"] = _explain_window_models(url, home)
    return result


def bench_size(movies: int) -> dict:
    with scratch_database() as day_url, tempfile.TemporaryDirectory() as home:
        with sandbox_process(movies, SEED, CATALOG_DATE) as base_url:
            run_command("load", {**command_env(day_url, home), **sandbox_env(base_url)})
        with (
            scratch_database(template=day_url) as year_url,
            tempfile.TemporaryDirectory() as year_home,
        ):
            # the dlt state (the last load's day) lives in the warehouse and home
            shutil.copytree(home, year_home, dirs_exist_ok=True)
            year = _warehouse_days(year_url, year_home, movies, history=True)
        day = _warehouse_days(day_url, home, movies, history=False)
    return {
        "movies": movies,
        "history_days": HISTORY_DAYS,
        "year": year,
        "day": day,
        "daily_year_to_day": round(year["daily_build_s"] / day["daily_build_s"], 2),
    }


def main() -> None:
    run_sizes(__doc__.splitlines()[0], "history", bench_size)


if __name__ == "__main__":
    main()

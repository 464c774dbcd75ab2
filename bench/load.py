"""Benchmark: `moviemetric load` from the TMDB sandbox into PostgreSQL.

For each catalog size, in one run, ``--pairs`` times (3 by default) steps 2 then 3:
  1. the sandbox serves the catalog from its own process (as TMDB would);
  2. reference: a plain thread-pool HTTP client fetches the same details as the
     loader (/movie/{id}?append_to_response=keywords,credits for every movie of the
     day's ID export but the adult ones) with the loader's concurrency and discards
     them: the ceiling that the source and HTTP allow;
  3. `moviemetric load` (dlt: the ID export streamed, the top discover pages, every
     movie's details, one snapshot each, normalize, load into PostgreSQL) in a fresh
     database, in its own process (peak memory and CPU time from wait4).

Reported, for the pair with the median ratio (the lower middle one of an even number):
movies/s for both, their ratio, CPU-seconds per 1,000 movies of each, and the
warehouse's size after the load; the loader's highest peak memory of any pair; and
every pair's ratio (this machine's speed drifts over minutes,
so one pair can be off by a tenth either way). Results, every pair included, are
written to bench/results/load.json; bench/README.md records them.

    python -m bench.load --movies 10000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import psycopg

from bench._harness import (
    CATALOG_DATE,
    SEED,
    database_mib,
    run_command_measured,
    run_sizes,
    sandbox_env,
    sandbox_process,
    scratch_database,
)
from ingest.sandbox import DEFAULT_API_KEY

CONCURRENCY = 8

_REFERENCE_FETCH = r"""
import sys, time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
import requests
from ingest.sandbox import Catalog

base_url, api_key, movies, seed, day, workers = sys.argv[1:7]
ids = sorted(Catalog(int(movies), int(seed)).catalog_ids(date.fromisoformat(day)))
session = requests.Session()
adapter = requests.adapters.HTTPAdapter(pool_connections=int(workers), pool_maxsize=int(workers))
session.mount("http://", adapter)

def fetch(movie_id):
    response = session.get(
        f"{base_url}/movie/{movie_id}",
        params={"api_key": api_key, "append_to_response": "keywords,credits"},
        timeout=30,
    )
    response.raise_for_status()
    return len(response.content)

started, cpu_started = time.perf_counter(), time.process_time()
with ThreadPoolExecutor(int(workers)) as pool:
    total_bytes = sum(pool.map(fetch, ids))
print(len(ids), time.perf_counter() - started, time.process_time() - cpu_started, total_bytes)
"""


def _reference_fetch(base_url: str, movies: int) -> tuple[int, float, float]:
    """(movies fetched, seconds, CPU seconds) of the plain thread-pool fetch."""
    reference = subprocess.run(
        [
            sys.executable,
            "-c",
            _REFERENCE_FETCH,
            base_url,
            DEFAULT_API_KEY,
            str(movies),
            str(SEED),
            CATALOG_DATE.isoformat(),
            str(CONCURRENCY),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    fetched, seconds, cpu_seconds, _ = reference.stdout.split()
    return int(fetched), float(seconds), float(cpu_seconds)


def _load(base_url: str) -> dict:
    """``moviemetric load`` into a fresh database: its run, rows loaded and disk used."""
    with scratch_database() as url, tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "MOVIEMETRIC_HOME": home,
            **sandbox_env(base_url),
            "TMDB_REQUESTS_PER_SECOND": "1000000",
            "TMDB_CONCURRENCY": str(CONCURRENCY),
        }
        load = run_command_measured("load", env)
        with psycopg.connect(url) as conn:
            (loaded,) = conn.execute("select count(*) from raw_tmdb.movies").fetchone()
        return {"run": load, "loaded": loaded, "disk_mib": database_mib(url)}


def bench_size(movies: int, args: argparse.Namespace) -> dict:
    """``args.pairs`` pairs of (reference fetch, then load) against one sandbox: the
    machine's speed drifts over minutes, so each load is compared with the reference
    just before it, and the median pair is reported (every pair is kept)."""
    pairs = []
    with sandbox_process(movies, SEED, CATALOG_DATE) as base_url:
        for _ in range(args.pairs):
            fetched, fetch_seconds, fetch_cpu = _reference_fetch(base_url, movies)
            load = _load(base_url)
            run, loaded = load["run"], load["loaded"]
            load_rate = loaded / run.seconds
            fetch_rate = fetched / fetch_seconds
            pair = {
                "movies": movies,
                "movies_loaded": loaded,
                "load_seconds": round(run.seconds, 1),
                "load_movies_per_s": round(load_rate, 1),
                "load_peak_rss_mib": round(run.peak_rss_mib),
                "load_cpu_s_per_1000": round(run.cpu_seconds / loaded * 1000, 2),
                "reference_fetch_movies_per_s": round(fetch_rate, 1),
                "reference_cpu_s_per_1000": round(fetch_cpu / fetched * 1000, 2),
                "ratio_load_to_fetch": round(load_rate / fetch_rate, 3),
                "warehouse_mib": round(load["disk_mib"]),
            }
            print(json.dumps(pair), flush=True)
            pairs.append(pair)
    # the median pair; of an even number, the lower of the two middle ones
    median = sorted(pairs, key=lambda pair: pair["ratio_load_to_fetch"])[(len(pairs) - 1) // 2]
    return {
        **median,
        # memory: the most any pair's load took, not the median pair's
        "load_peak_rss_mib": max(pair["load_peak_rss_mib"] for pair in pairs),
        "pair_ratios": [pair["ratio_load_to_fetch"] for pair in pairs],
        "pairs": pairs,
    }


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pairs",
        type=_at_least_one,
        default=3,
        help="(reference fetch, load) pairs per size; the median pair is reported, with the "
        "highest peak memory of any pair (default 3)",
    )


def _at_least_one(value: str) -> int:
    pairs = int(value)
    if pairs < 1:
        raise argparse.ArgumentTypeError(f"--pairs must be at least 1, got {value}")
    return pairs


def main() -> None:
    results = run_sizes(__doc__.splitlines()[0], "load", bench_size, _add_arguments)
    print(
        "| movies | load movies/s | reference fetch movies/s | ratio | load CPU s / 1k"
        " | reference CPU s / 1k | peak RSS MiB | load s | warehouse MiB | every pair's ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    columns = (
        "movies",
        "load_movies_per_s",
        "reference_fetch_movies_per_s",
        "ratio_load_to_fetch",
        "load_cpu_s_per_1000",
        "reference_cpu_s_per_1000",
        "load_peak_rss_mib",
        "load_seconds",
        "warehouse_mib",
    )
    for row in results:
        ratios = ", ".join(f"{ratio:.3f}" for ratio in row["pair_ratios"])
        print("| " + " | ".join(f"{row[column]:,}" for column in columns) + f" | {ratios} |")


if __name__ == "__main__":
    main()

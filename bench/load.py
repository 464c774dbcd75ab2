"""Benchmark: `moviemetric load` from the TMDB sandbox into PostgreSQL.

For each catalog size, in one run:
  1. the sandbox serves the catalog from its own process (as TMDB would);
  2. reference: a plain thread-pool HTTP client fetches every dated movie's details
     (/movie/{id}?append_to_response=keywords) with the loader's concurrency and
     discards them: the ceiling that the source and HTTP allow;
  3. `moviemetric load` (dlt: discover sweep + details + snapshots, normalize, load into
     PostgreSQL) in a fresh database, in its own process (peak memory from wait4).

Reported: movies/s for both, their ratio, the loader's peak memory. Results are written
to bench/results/load.json; bench/README.md records them.

    python -m bench.load --movies 10000 100000
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import date

import psycopg

from bench._harness import (
    BIN,
    run_measured,
    run_sizes,
    sandbox_process,
    scratch_database,
)
from ingest.sandbox import DEFAULT_API_KEY

CATALOG_DATE = "2026-06-01"
SEED = 42
CONCURRENCY = 8

_REFERENCE_FETCH = r"""
import sys, time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
import requests
from ingest.sandbox import Catalog

base_url, api_key, movies, seed, day, workers = sys.argv[1:7]
ids = sorted(Catalog(int(movies), int(seed)).dated_movie_ids(date.fromisoformat(day)))
session = requests.Session()
adapter = requests.adapters.HTTPAdapter(pool_connections=int(workers), pool_maxsize=int(workers))
session.mount("http://", adapter)

def fetch(movie_id):
    response = session.get(
        f"{base_url}/movie/{movie_id}",
        params={"api_key": api_key, "append_to_response": "keywords"},
        timeout=30,
    )
    response.raise_for_status()
    return len(response.content)

started = time.perf_counter()
with ThreadPoolExecutor(int(workers)) as pool:
    total_bytes = sum(pool.map(fetch, ids))
print(len(ids), time.perf_counter() - started, total_bytes)
"""


def bench_size(movies: int) -> dict:
    with sandbox_process(movies, SEED, date.fromisoformat(CATALOG_DATE)) as base_url:
        reference = subprocess.run(
            [
                sys.executable,
                "-c",
                _REFERENCE_FETCH,
                base_url,
                DEFAULT_API_KEY,
                str(movies),
                str(SEED),
                CATALOG_DATE,
                str(CONCURRENCY),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        fetched, fetch_seconds, _ = reference.stdout.split()
        with scratch_database() as url, tempfile.TemporaryDirectory() as home:
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "MOVIEMETRIC_HOME": home,
                "TMDB_BASE_URL": base_url,
                "TMDB_API_KEY": DEFAULT_API_KEY,
                "TMDB_REQUESTS_PER_SECOND": "1000000",
                "TMDB_CONCURRENCY": str(CONCURRENCY),
            }
            load = run_measured([str(BIN / "moviemetric"), "load"], env)
            if load.returncode != 0:
                raise RuntimeError(f"moviemetric load failed: {load.stderr.strip()[-2000:]}")
            with psycopg.connect(url) as conn:
                (loaded,) = conn.execute("select count(*) from raw_tmdb.movies").fetchone()
    load_rate = loaded / load.seconds
    fetch_rate = int(fetched) / float(fetch_seconds)
    return {
        "movies": movies,
        "movies_loaded": loaded,
        "load_seconds": round(load.seconds, 1),
        "load_movies_per_s": round(load_rate, 1),
        "load_peak_rss_mib": round(load.peak_rss_mib),
        "reference_fetch_movies_per_s": round(fetch_rate, 1),
        "ratio_load_to_fetch": round(load_rate / fetch_rate, 3),
    }


def main() -> None:
    results = run_sizes(__doc__.splitlines()[0], "load", bench_size)
    print("| movies | load movies/s | reference fetch movies/s | ratio | peak RSS MiB | load s |")
    print("|---:|---:|---:|---:|---:|---:|")
    columns = (
        "movies",
        "load_movies_per_s",
        "reference_fetch_movies_per_s",
        "ratio_load_to_fetch",
        "load_peak_rss_mib",
        "load_seconds",
    )
    for row in results:
        print("| " + " | ".join(f"{row[column]:,}" for column in columns) + " |")


if __name__ == "__main__":
    main()

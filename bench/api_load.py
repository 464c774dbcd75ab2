"""Benchmark: the API's cached and uncached responses against bare ASGI apps.

In one run, each server under uvicorn (uvloop + httptools, one worker, no access log)
in its own process:
  (a) the MovieMetric API (``api_app``: ``create_app`` with the environment's settings)
      serving a cached endpoint (/movies/trending?limit=20);
  (b) the same API on /movies/{id} with a unique query per request, so every request
      misses the cache and reads PostgreSQL: the metrics, HEAD and cache layers, then
      ``api.fast_path`` (the query checked, a pooled connection, the SQL, the row
      validated and serialized by the route's pydantic model), the ETag, the entry stored;
  (c) a bare ASGI app that returns the bytes and headers of (a): the ceiling;
  (d) a bare ASGI app that answers /movies/{id} by running the API's SQL for a movie
      (``api.repositories.get_movie``) on the API's pool (``api.database.create_pool``:
      the same driver, pool size, role and check) and returning the row as JSON: the
      ceiling of (b).
The load generator is this process: asyncio (uvloop) over raw keep-alive sockets,
``--connections`` clients for ``--seconds`` after a warm-up, in ``--rounds`` rounds that
alternate the cases (the median round is reported; the ratio is the median of the
rounds' ratios, so load from elsewhere on the machine cancels out). On 2 cores the server
and the generator each get about one.

Reported: requests/s, p50 and p99 latency, the ratio cached/bare (target >= 0.5) and
the ratio uncached/bare SQL (target >= 0.7).
Results go to bench/results/api_load.json; bench/README.md ("API") records them.

The warehouse: ``--database-url`` names one with a published dataset (``moviemetric
run``); without it a scratch database is filled from the TMDB sandbox through the real
pipeline (the API tests' dataset: load for a few days, then transform) and dropped
afterwards.

    python -m bench.api_load [--database-url URL] [--seconds 3] [--rounds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psycopg

from bench._harness import RESULTS_DIR, free_port, scratch_database, wait_for_port

CACHED_PATH = "/movies/trending?limit=20"
SANDBOX_MOVIES = 2000
SANDBOX_DAYS = 3
CACHED = "api, cached hit"
UNCACHED = "api, uncached /movies/{id}"
BARE = "bare ASGI app, same bytes"
BARE_SQL = "bare ASGI app, same SQL and pool"


# --- (c) the ceiling: a bare ASGI app returning fixed bytes --------------------------


def _bare_response() -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = Path(os.environ["MOVIEMETRIC_BENCH_BODY"]).read_bytes()
    headers = json.loads(os.environ["MOVIEMETRIC_BENCH_HEADERS"])
    return body, [(name.encode(), value.encode()) for name, value in headers]


async def bare_app(scope, receive, send) -> None:
    """Answers every HTTP request with the cached endpoint's bytes and headers."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body, headers = BARE_RESPONSE
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


BARE_RESPONSE = _bare_response() if "MOVIEMETRIC_BENCH_BODY" in os.environ else (b"", [])


# --- (a), (b): the MovieMetric API, configured from the environment as `serve` is ----


def api_app():
    """The API as ``moviemetric serve`` builds it, for ``uvicorn --factory``."""
    from api.main import create_app
    from moviemetric.config import Settings

    return create_app(Settings())


# --- (d) the ceiling of an uncached read: the API's SQL on the API's pool -----------------


async def bare_sql_app(scope, receive, send) -> None:
    """Answers GET /movies/{id} with the row of ``repositories.get_movie`` as JSON."""
    from api import repositories
    from api.database import create_pool

    if scope["type"] == "lifespan":
        pool = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                pool = create_pool(os.environ["DATABASE_URL"])
                await pool.open(wait=True)
                BARE_SQL_POOL.append(pool)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if pool is not None:
                    await pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    movie_id = int(scope["path"].rsplit("/", 1)[-1])
    async with BARE_SQL_POOL[0].connection() as conn:
        row = await repositories.get_movie(conn, movie_id)
    body = json.dumps(row, default=str).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200 if row else 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})


BARE_SQL_POOL: list = []


# --- the load generator --------------------------------------------------------------


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float


async def _client(
    port: int,
    paths: Iterator[str],
    stop_at: float,
    record_from: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                return
            writer.write(f"GET {next(paths)} HTTP/1.1\r\nHost: bench\r\n\r\n".encode("latin-1"))
            head = await reader.readuntil(b"\r\n\r\n")
            length = -1
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            if length < 0:
                raise RuntimeError(f"response without content-length: {head[:200]!r}")
            await reader.readexactly(length)
            if started >= record_from:
                latencies.append(time.perf_counter() - started)
                if head[9:12] != b"200":
                    errors.append(int(head[9:12]))
    finally:
        writer.close()


async def _load(port: int, paths: Iterator[str], connections: int, seconds: float, warmup: float):
    latencies: list[float] = []
    errors: list[int] = []
    now = time.perf_counter()
    record_from, stop_at = now + warmup, now + warmup + seconds
    await asyncio.gather(
        *(_client(port, paths, stop_at, record_from, latencies, errors) for _ in range(connections))
    )
    return latencies, errors


def measure(name: str, port: int, paths: Iterator[str], args: argparse.Namespace) -> Result:
    import uvloop

    latencies, errors = uvloop.run(_load(port, paths, args.connections, args.seconds, 1.0))
    latencies.sort()
    cut = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(
        name=name,
        requests=len(latencies),
        errors=len(errors),
        seconds=args.seconds,
        requests_per_second=round(len(latencies) / args.seconds),
        p50_ms=round(cut[49] * 1000, 3),
        p99_ms=round(cut[98] * 1000, 3),
    )


# --- servers -------------------------------------------------------------------------


@contextmanager
def uvicorn_process(target: str, env: dict[str, str], factory: bool = False) -> Iterator[int]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if factory:
        command.append("--factory")
    server = subprocess.Popen(command, env=env)
    try:
        wait_for_port(port, timeout=60)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def published_warehouse(database_url: str | None) -> Iterator[str]:
    if database_url:
        yield database_url
        return
    from tests.api.published_dataset import publish_sandbox_dataset

    with scratch_database("mm_bench_api") as url, tempfile.TemporaryDirectory() as home:
        publish_sandbox_dataset(url, Path(home), movies=SANDBOX_MOVIES, days=SANDBOX_DAYS)
        yield url


def _warm_cache(port: int) -> httpx.Response:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        client.get(CACHED_PATH).raise_for_status()
        cached = client.get(CACHED_PATH)
    if cached.headers.get("x-cache") != "hit":
        raise SystemExit(f"{CACHED_PATH} is not served from the cache: {cached}")
    return cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="A warehouse with a published dataset.")
    parser.add_argument("--seconds", type=float, default=3.0, help="Per case and round.")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--redis-url", help="Serve the API's cache from Redis (default: memory).")
    args = parser.parse_args()

    with published_warehouse(args.database_url) as url:
        env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
        env["DATABASE_URL"] = url
        if args.redis_url:
            env["REDIS_URL"] = args.redis_url
        with psycopg.connect(url) as conn:
            movie_ids = [
                row[0] for row in conn.execute("select movie_id from artifacts.search_documents")
            ]
        with uvicorn_process("bench.api_load:api_app", env, factory=True) as api_port:
            cached = _warm_cache(api_port)
            body_file = RESULTS_DIR / "api_load_body.tmp"
            RESULTS_DIR.mkdir(exist_ok=True)
            body_file.write_bytes(cached.content)
            bare_headers = [
                [name, cached.headers[name]]
                for name in ("content-type", "content-length", "etag", "cache-control", "x-cache")
            ]
            bare_env = {
                **env,
                "MOVIEMETRIC_BENCH_BODY": str(body_file),
                "MOVIEMETRIC_BENCH_HEADERS": json.dumps(bare_headers),
            }
            with (
                uvicorn_process("bench.api_load:bare_app", bare_env) as bare_port,
                uvicorn_process("bench.api_load:bare_sql_app", env) as bare_sql_port,
            ):
                body_file.unlink()
                unique = (
                    f"/movies/{movie_id}?bench={n}"
                    for n, movie_id in enumerate(itertools.cycle(movie_ids))
                )
                # the same movie ids in the same order for the API and its SQL reference
                unique_bare = (
                    f"/movies/{movie_id}?bench={n}"
                    for n, movie_id in enumerate(itertools.cycle(movie_ids))
                )
                cases = {
                    BARE: (bare_port, itertools.repeat("/")),
                    CACHED: (api_port, itertools.repeat(CACHED_PATH)),
                    BARE_SQL: (bare_sql_port, unique_bare),
                    UNCACHED: (api_port, unique),
                }
                # Rounds alternate the cases, so load from elsewhere on the machine
                # hits all of them alike; each case reports its median round.
                rounds: dict[str, list[Result]] = {name: [] for name in cases}
                for _ in range(args.rounds):
                    for name, (port, paths) in cases.items():
                        rounds[name].append(measure(name, port, paths, args))
    results = [
        sorted(measured, key=lambda result: result.requests_per_second)[len(measured) // 2]
        for measured in rounds.values()
    ]

    # The ratio of each round's adjacent measurements, so drifting load cancels out.
    ratios = sorted(
        hit.requests_per_second / bare.requests_per_second
        for hit, bare in zip(rounds[CACHED], rounds[BARE], strict=True)
    )
    ratio = statistics.median(ratios)
    sql_ratios = sorted(
        api.requests_per_second / bare.requests_per_second
        for api, bare in zip(rounds[UNCACHED], rounds[BARE_SQL], strict=True)
    )
    sql_ratio = statistics.median(sql_ratios)
    print(f"\n{'case':32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for result in results:
        print(
            f"{result.name:32} {result.requests_per_second:>8} {result.p50_ms:>8} "
            f"{result.p99_ms:>8} {result.errors:>7}"
        )
    print(
        f"\ncached / bare = {ratio:.2f} (median of {len(ratios)} rounds, "
        f"range {ratios[0]:.2f}-{ratios[-1]:.2f}; target >= 0.5), "
        f"{args.connections} connections"
    )
    print(
        f"uncached / bare SQL = {sql_ratio:.2f} (median of {len(sql_ratios)} rounds, "
        f"range {sql_ratios[0]:.2f}-{sql_ratios[-1]:.2f}; target >= 0.7)"
    )
    summary = {
        "connections": args.connections,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "cached_body_bytes": len(cached.content),
        "cached_over_bare": round(ratio, 3),
        "cached_over_bare_per_round": [round(value, 3) for value in ratios],
        "uncached_over_bare_sql": round(sql_ratio, 3),
        "uncached_over_bare_sql_per_round": [round(value, 3) for value in sql_ratios],
        "results": [asdict(result) for result in results],
    }
    (RESULTS_DIR / "api_load.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Shared pieces of the benchmarks: scratch databases, child processes, peak memory."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import psycopg
from psycopg import sql

from ingest.sandbox import DEFAULT_API_KEY, exports_url_of

ADMIN_URL = os.environ.get(
    "MOVIEMETRIC_BENCH_DATABASE_URL",
    os.environ.get(
        "MOVIEMETRIC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    ),
)
RESULTS_DIR = Path(__file__).resolve().parent / "results"
# the sandbox catalog every pipeline bench loads: its day and seed
CATALOG_DATE = date(2026, 6, 1)
SEED = 42
BIN = Path(sys.executable).parent


@contextmanager
def scratch_database(prefix: str = "mm_bench", template: str | None = None) -> Iterator[str]:
    """A new database on the bench server (a copy of the database at URL ``template``
    when given, which nobody may be connected to), dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    statement = sql.SQL("create database {}").format(sql.Identifier(name))
    if template is not None:
        source = urlparse(template).path.lstrip("/")
        statement += sql.SQL(" template {}").format(sql.Identifier(source))
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement)
    try:
        yield urlparse(ADMIN_URL)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def database_mib(url: str) -> float:
    """The size of the database at ``url`` on disk, in MiB."""
    with psycopg.connect(url) as conn:
        (size,) = conn.execute("select pg_database_size(current_database())").fetchone()
    return round(size / 2**20, 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


@dataclass
class ProcessRun:
    seconds: float
    peak_rss_mib: float
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0


def run_measured(args: list[str], env: dict[str, str]) -> ProcessRun:
    """Run a child to completion: wall time, its own peak memory and CPU time (os.wait4
    rusage)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ProcessRun(
            seconds=seconds,
            peak_rss_mib=usage.ru_maxrss / 1024,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            returncode=proc.returncode,
            stdout=out.read(),
            stderr=err.read(),
        )


def command_env(url: str | None, home: str) -> dict[str, str]:
    """The environment of a ``moviemetric`` command on the warehouse at ``url`` (the
    embedded one when None) with home ``home``, fetching as fast as the sandbox answers."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    if url is not None:
        env["DATABASE_URL"] = url
    return env | {
        "MOVIEMETRIC_HOME": home,
        "TMDB_API_KEY": DEFAULT_API_KEY,
        "TMDB_REQUESTS_PER_SECOND": "1000000",
    }


def run_command(name: str, env: dict[str, str], *options: str) -> float:
    """``moviemetric NAME OPTIONS`` to completion; its seconds, or an error with its end."""
    return run_command_measured(name, env, *options).seconds


def run_command_measured(name: str, env: dict[str, str], *options: str) -> ProcessRun:
    """``moviemetric NAME OPTIONS`` to completion with its peak memory and CPU time, or an
    error with its end."""
    run = run_measured([str(BIN / "moviemetric"), name, *options], env)
    if run.returncode != 0:
        raise RuntimeError(f"moviemetric {name} failed: {run.stderr.strip()[-2000:]}")
    return run


def sandbox_env(base_url: str) -> dict[str, str]:
    """The variables that point ``moviemetric load`` at the sandbox at ``base_url``."""
    return {
        "TMDB_BASE_URL": base_url,
        "TMDB_API_KEY": DEFAULT_API_KEY,
        "TMDB_EXPORTS_URL": exports_url_of(base_url),
    }


@contextmanager
def sandbox_process(movies: int, seed: int, day: date) -> Iterator[str]:
    """The TMDB sandbox in its own process (as TMDB would be); yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "moviemetric"),
            "sandbox",
            "--port",
            str(port),
            "--movies",
            str(movies),
            "--seed",
            str(seed),
            "--day",
            day.isoformat(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/3"
    finally:
        proc.terminate()
        proc.wait(30)


def run_sizes(
    description: str,
    name: str,
    bench_size: Callable[..., dict],
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> list[dict]:
    """Parse ``--movies N ...``, run ``bench_size`` for each, save bench/results/<name>.json.
    With ``add_arguments`` (which adds a bench's own options), ``bench_size`` also gets the
    parsed arguments: ``bench_size(movies, args)``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--movies", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--output",
        default=name,
        help=f"results file name under bench/results/ (default: {name}); keeps a run at "
        "another size beside the usual one",
    )
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    results = []
    for movies in args.movies:
        started = time.perf_counter()
        result = bench_size(movies, args) if add_arguments is not None else bench_size(movies)
        result["bench_seconds"] = round(time.perf_counter() - started, 1)
        results.append(result)
        print(json.dumps(result), flush=True)
    RESULTS_DIR.mkdir(exist_ok=True)
    summary = {"date": date.today().isoformat(), "cores": os.cpu_count(), "results": results}
    (RESULTS_DIR / f"{args.output}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return results

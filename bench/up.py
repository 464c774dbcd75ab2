"""Benchmark: `moviemetric up` on a new MOVIEMETRIC_HOME until /movies/trending answers with
data, then a second `up` on the same home.

Each `up` runs in its own process with nothing configured (no DATABASE_URL, REDIS_URL,
MEILI_URL or TMDB key: the embedded PostgreSQL and the sandbox), as the Quickstart's
`make up` on a fresh machine after the install. Measured from the start of the process:
the first `GET /movies/trending` whose items are not empty, and for the first `up` also
the first `GET /lineage/` that answers 200 (the dbt docs site is built after the API
listens); then SIGTERM, and the seconds until the process has exited. The step lines
`up` prints give where the first one's time goes. Results go to bench/results/up.json.

    python -m bench.up [--movies N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import IO

import httpx

from bench._harness import BIN, RESULTS_DIR, free_port

SERVICE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "MEILI_URL",
    "TMDB_API_KEY",
    "TMDB_ACCESS_TOKEN",
    "MOVIEMETRIC_ADMIN_TOKEN",
)
TIMEOUT_SECONDS = 600
STEP_LINE = re.compile(r"^(?:(?P<day>\d{4}-\d\d-\d\d) )?(?P<step>\w+): .* \((?P<s>[\d.]+) s\)$")


def _has_trending_data(base_url: str) -> bool:
    try:
        response = httpx.get(f"{base_url}/movies/trending", params={"limit": 1}, timeout=5)
    except httpx.TransportError:
        return False
    return response.status_code == 200 and bool(response.json()["items"])


def _lineage_served(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/lineage/", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _wait(check, process: subprocess.Popen, errors: IO[str], started: float) -> float:
    while not check():
        if process.poll() is not None:
            errors.seek(0)
            raise RuntimeError(
                f"moviemetric up exited with status {process.returncode}: {errors.read()[-2000:]}"
            )
        if time.perf_counter() - started > TIMEOUT_SECONDS:
            raise TimeoutError(f"moviemetric up did not answer in {TIMEOUT_SECONDS} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def run_up(env: dict[str, str], *, wait_for_lineage: bool) -> dict:
    """One `moviemetric up` until it serves data (and /lineage), then SIGTERM."""
    with tempfile.TemporaryFile("w+") as errors:
        return _run_up(env, errors, wait_for_lineage=wait_for_lineage)


def _run_up(env: dict[str, str], errors: IO[str], *, wait_for_lineage: bool) -> dict:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "moviemetric"), "up", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        trending = _wait(lambda: _has_trending_data(base_url), process, errors, started)
        result: dict = {"to_trending_data_s": round(trending, 1)}
        if wait_for_lineage:
            lineage = _wait(lambda: _lineage_served(base_url), process, errors, started)
            result["to_lineage_s"] = round(lineage, 1)
        stopping = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        result["exit_status"] = process.wait(timeout=60)
        result["stop_s"] = round(time.perf_counter() - stopping, 1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=5)
    result["steps_s"] = _step_seconds(lines)
    result["reused_data"] = any(line.startswith("Reusing the data") for line in lines)
    return result


def _step_seconds(lines: list[str]) -> dict[str, float]:
    """Seconds per step from up's output; the sandbox days' loads add up under "load"."""
    totals: dict[str, float] = {}
    for line in lines:
        match = STEP_LINE.match(line.strip())
        if match:
            step = match["step"]
            totals[step] = round(totals.get(step, 0.0) + float(match["s"]), 1)
    return totals


def _machine() -> dict:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = found.group(1) if found else ""
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
    }


def bench_round(movies: int | None) -> dict:
    with tempfile.TemporaryDirectory() as home:
        os.chmod(home, 0o755)  # the embedded server runs as its own user when we are root
        env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
        env["MOVIEMETRIC_HOME"] = home
        if movies is not None:
            env["MOVIEMETRIC_SANDBOX_MOVIES"] = str(movies)
        load_before = os.getloadavg()
        first = run_up(env, wait_for_lineage=True)
        second = run_up(env, wait_for_lineage=False)
    return {
        "load_average_before": [round(value, 2) for value in load_before],
        "first": first,
        "second": second,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=None, help="default: up's own size")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    rounds = []
    for _ in range(args.rounds):
        result = bench_round(args.movies)
        print(json.dumps(result), flush=True)
        rounds.append(result)
    RESULTS_DIR.mkdir(exist_ok=True)
    summary = {
        "date": date.today().isoformat(),
        "machine": _machine(),
        "movies": args.movies,
        "rounds": rounds,
    }
    (RESULTS_DIR / "up.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""`moviemetric sandbox` serves the sandbox in the foreground and prints how to reach it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import httpx
import orjson
import pytest

from ingest.sandbox import Sandbox
from ingest.sandbox.faults import FAULT_KINDS
from moviemetric.errors import MovieMetricError

COMMAND = [sys.executable, "-m", "moviemetric.cli", "sandbox"]


@contextmanager
def running_sandbox(*arguments: str) -> Iterator[tuple[str, str, str]]:
    """``moviemetric sandbox ARGUMENTS`` in the foreground: (base URL, key, announcement)."""
    process = subprocess.Popen(
        [*COMMAND, "--port", "0", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not lines or not lines[-1].startswith("Press Ctrl+C"):
            line = process.stdout.readline()
            assert line, f"the sandbox ended: {process.stderr.read()}"
            lines.append(line)
        output = "".join(lines)
        url = re.search(r"TMDB_BASE_URL=(\S+)", output).group(1)
        key = re.search(r"TMDB_API_KEY=(\S+)", output).group(1)
        yield url, key, output
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def test_sandbox_command_prints_url_and_key_and_serves():
    process = subprocess.Popen(
        [*COMMAND, "--port", "0", "--movies", "200", "--seed", "3", "--day", "2026-02-01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        output = "".join(lines)
        url = re.search(r"TMDB_BASE_URL=(\S+)", output).group(1)
        key = re.search(r"TMDB_API_KEY=(\S+)", output).group(1)
        exports = re.search(r"TMDB_EXPORTS_URL=(\S+)", output).group(1)
        assert "200 movies" in output and "2026-02-01" in output
        export = httpx.get(f"{exports}/movie_ids_02_01_2026.json.gz", timeout=10)
        assert export.status_code == 200 and export.content[:2] == b"\x1f\x8b"  # gzip
        response = httpx.get(f"{url}/discover/movie", params={"api_key": key}, timeout=10)
        assert response.status_code == 200
        assert response.json()["total_results"] > 150
        assert "01 Feb 2026" in response.headers["date"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def test_bad_day_is_one_line_error():
    result = subprocess.run(
        [*COMMAND, "--day", "2026-02-31"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        "moviemetric: error: --day must be a date formatted YYYY-MM-DD, got '2026-02-31'"
    )


def test_busy_port_is_one_line_error():
    with subprocess.Popen(
        [*COMMAND, "--port", "0", "--movies", "100"], stdout=subprocess.PIPE, text=True
    ) as first:
        try:
            port = re.search(r":(\d+)/3", first.stdout.readline() + first.stdout.readline())
            result = subprocess.run(
                [*COMMAND, "--port", port.group(1), "--movies", "100"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            first.send_signal(signal.SIGINT)
            first.wait(timeout=20)
    assert result.returncode == 1
    assert "cannot listen on 127.0.0.1:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("port", [-1, 65536])
def test_out_of_range_port_is_refused_naming_it(port):
    sandbox = Sandbox(movies=100, seed=1, catalog_date=date(2026, 2, 1), port=port)
    with pytest.raises(MovieMetricError, match=f"got {port}"):
        sandbox.start()


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("rate_limit=1", "rate_limit"),
        ("server_error=1,seed=4", "server_error"),
        ("slow=1,slow_seconds=0.4", "slow"),
        ("malformed=1", "malformed"),
    ],
)
def test_faults_option_injects_each_kind(spec: str, kind: str):
    with running_sandbox("--movies", "100", "--faults", spec) as (url, key, announcement):
        started = time.perf_counter()
        response = httpx.get(f"{url}/discover/movie", params={"api_key": key}, timeout=10)
        elapsed = time.perf_counter() - started

    assert f"Faults: {kind}=" in announcement
    if kind == "rate_limit":
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert response.json()["status_code"] == 25
    elif kind == "server_error":
        assert response.status_code in (500, 502, 503)
    elif kind == "slow":
        assert response.status_code == 200 and elapsed >= 0.4
    else:
        assert response.status_code == 200
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(response.content)


def test_without_faults_none_are_announced_or_injected():
    with running_sandbox("--movies", "100") as (url, key, announcement):
        responses = [
            httpx.get(f"{url}/genre/movie/list", params={"api_key": key}, timeout=10)
            for _ in range(20)
        ]
    assert "Faults" not in announcement
    assert {response.status_code for response in responses} == {200}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("server_error=1.5", "--faults: server_error must be a share from 0 to 1, got '1.5'"),
        ("slow=often", "--faults: slow must be a share from 0 to 1, got 'often'"),
        ("rate_limit=-0.1", "--faults: rate_limit must be a share from 0 to 1, got '-0.1'"),
        ("malformed", "--faults: expected NAME=VALUE, got 'malformed'"),
        ("timeout=0.1", "--faults: unknown fault 'timeout'; use rate_limit, server_error, slow,"),
        ("slow_seconds=-2", "--faults: slow_seconds must be a number of seconds, 0 or more"),
        ("rate_limit_every=0", "--faults: rate_limit_every must be a whole number, 1 or more"),
        ("slow=0.1,slow=0.2", "--faults: slow is given twice"),
        ("", "--faults: no faults given"),
    ],
)
def test_a_bad_faults_value_is_a_one_line_error_naming_it(spec: str, message: str):
    result = subprocess.run(
        [*COMMAND, "--port", "0", "--movies", "100", "--faults", spec],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"moviemetric: error: {message}")
    assert result.stdout == ""


def test_help_lists_the_fault_kinds():
    result = subprocess.run(
        [*COMMAND, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "300", "TERM": "dumb"},
    )
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--faults" in text
    for name in (*FAULT_KINDS, "slow_seconds", "rate_limit_every", "rate_limit_per_second"):
        assert f"{name} " in text or f"{name}=" in text, name

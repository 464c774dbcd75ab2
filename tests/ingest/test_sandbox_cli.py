"""`moviemetric sandbox` serves the sandbox in the foreground and prints how to reach it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from datetime import date

import httpx
import pytest

from ingest.sandbox import Sandbox
from moviemetric.errors import MovieMetricError

COMMAND = [sys.executable, "-m", "moviemetric.cli", "sandbox"]


def test_sandbox_command_prints_url_and_key_and_serves():
    process = subprocess.Popen(
        [*COMMAND, "--port", "0", "--movies", "200", "--seed", "3", "--day", "2026-02-01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        output = "".join(lines)
        url = re.search(r"TMDB_BASE_URL=(\S+)", output).group(1)
        key = re.search(r"TMDB_API_KEY=(\S+)", output).group(1)
        assert "200 movies" in output and "2026-02-01" in output
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
    assert result.stderr.strip().splitlines() == [
        "moviemetric: error: --day must be a date formatted YYYY-MM-DD, got '2026-02-31'"
    ]


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

"""The Quickstart's main path end to end: `moviemetric up` on the embedded defaults.

No DATABASE_URL, REDIS_URL, MEILI_URL or TMDB key (the conftest clears them and gives a
fresh MOVIEMETRIC_HOME): the first `up` starts the embedded PostgreSQL, loads the
sandbox over 8 days, builds, publishes and serves; a second `up` on the same home
serves the same data without running the chain.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from moviemetric.config import get_settings
from tests.core.test_lifecycle import _postgres_processes
from tests.processes import OutputProcess

pytestmark = pytest.mark.slow

# A smaller catalog than up's own keeps the test near a minute; the 8 days stay.
SANDBOX_MOVIES = "1000"
READY_LINE = "Press Ctrl+C to stop."


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Up(OutputProcess):
    """`moviemetric up` in a subprocess, its stdout read line by line."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.port = port
        command = [sys.executable, "-m", "moviemetric.cli", "up", "--port", str(port)]
        super().__init__(command, env=env, separate_stderr=True)

    def url(self, name: str) -> str:
        """The URL printed after ``name`` in the banner (e.g. "search")."""
        for line in self.lines:
            words = line.split()
            if len(words) >= 2 and words[0] == name:
                return words[1]
        pytest.fail(f"no {name} URL in the output:\n" + "\n".join(self.lines))

    def stop(self, stop_signal: signal.Signals, timeout: float = 15) -> float:
        """Send ``stop_signal``; the seconds it took to exit (status 0)."""
        started = time.monotonic()
        status = self.signal_and_wait(stop_signal, timeout)
        assert status == 0, self.describe()
        return time.monotonic() - started


def _assert_no_embedded_server(pgdata: Path) -> None:
    deadline = time.monotonic() + 10
    while _postgres_processes(pgdata) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _postgres_processes(pgdata) == []
    assert not (pgdata / "postmaster.pid").exists()


def _get(url: str, **kwargs) -> httpx.Response:
    return httpx.get(url, timeout=30, **kwargs)


def test_up_serves_the_sandbox_over_8_days_then_a_second_up_reuses_the_data():
    home = get_settings().home_dir
    env = {**os.environ, "MOVIEMETRIC_SANDBOX_MOVIES": SANDBOX_MOVIES}
    started = time.monotonic()
    first = Up(env, _free_port())
    try:
        first.wait_for(re.escape(READY_LINE), timeout=420)  # minutes on a loaded machine
        first_ready = time.monotonic() - started
        api = first.url("API")
        assert api == f"http://127.0.0.1:{first.port}"
        assert any("8 days" in line for line in first.lines)

        today = datetime.now(UTC).date()
        trending = _get(f"{api}/movies/trending", params={"limit": 20}).json()
        assert trending["date"] == today.isoformat()
        assert trending["items"]
        assert all(item["avg_popularity_7d"] is not None for item in trending["items"])
        assert all(item["momentum"] is not None for item in trending["items"])

        week_before = (today - timedelta(days=7)).isoformat()
        series = _get(
            f"{api}/analytics/genre-stats", params={"from": week_before, "to": today.isoformat()}
        ).json()
        assert len({point["stat_date"] for point in series["items"]}) == 8

        top_genres = _get(f"{api}/analytics/top-genres")
        assert top_genres.status_code == 200 and top_genres.json()["items"]

        search = _get(first.url("search"))
        assert search.status_code == 200 and search.json()["items"]

        assert _get(first.url("dashboard")).status_code == 200
        deadline = time.monotonic() + 120  # the docs site is built once the API listens
        while (lineage := _get(first.url("lineage"))).status_code != 200:
            assert time.monotonic() < deadline, lineage.text
            time.sleep(1)
        assert "dbt" in lineage.text

        token_file = home / "admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert any(token in line for line in first.lines)
        jobs = _get(f"{api}/admin/jobs", headers={"Authorization": f"Bearer {token}"})
        assert jobs.status_code == 200, jobs.text
        assert _get(f"{api}/admin/jobs").status_code == 401

        assert first.stop(signal.SIGTERM) < 15
    finally:
        first.kill()
    _assert_no_embedded_server(home / "pgdata")

    started = time.monotonic()
    second = Up(env, _free_port())
    try:
        second.wait_for(re.escape(READY_LINE), timeout=60)
        second_ready = time.monotonic() - started
        assert any(line.startswith("Reusing the data") for line in second.lines)
        assert not any(" load: " in line for line in second.lines)
        assert any(token in line for line in second.lines)  # the same admin token
        again = _get(f"{second.url('API')}/movies/trending", params={"limit": 20}).json()
        assert again == trending
        assert second.stop(signal.SIGINT) < 15  # Ctrl+C
    finally:
        second.kill()
    _assert_no_embedded_server(home / "pgdata")
    print(f"first up ready in {first_ready:.1f} s, second in {second_ready:.1f} s")
    assert second_ready < first_ready


def test_a_signal_during_the_first_run_stops_up_and_the_embedded_postgresql():
    home = get_settings().home_dir
    up = Up({**os.environ, "MOVIEMETRIC_SANDBOX_MOVIES": SANDBOX_MOVIES}, _free_port())
    try:
        up.wait_for(" load: ", timeout=120)  # the first sandbox day is loaded
        status = up.signal_and_wait(signal.SIGTERM, timeout=15)
    finally:
        up.kill()
    assert status == 130, up.describe()
    assert any("moviemetric: interrupted" in line for line in up.errors), up.describe()
    _assert_no_embedded_server(home / "pgdata")

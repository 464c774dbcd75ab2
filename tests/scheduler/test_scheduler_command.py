"""``moviemetric scheduler`` as a process: its schedule at start, SIGTERM and SIGINT,
and with ``moviemetric serve`` beside it on one warehouse, the whole path of an admin
request (docs/design.md section 7; issue "The system runs itself", Done when):
``POST /admin/compute/all`` -> queued -> running -> succeeded -> the API serves the
new data version, its cache invalidated by the publish.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from moviemetric.config import Settings
from moviemetric.ops import RUN_LOCK_KEY
from moviemetric.warehouse import open_warehouse
from scheduler import run_kind
from tests.processes import OutputProcess
from tests.warehouse.raw_fixture import load_raw, make_catalog

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "done-when-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
LISTENING = re.compile(r"^MovieMetric API listening on (http://127\.0\.0\.1:\d+) ")


def moviemetric(*args: str, **env: str) -> OutputProcess:
    """A ``moviemetric`` subprocess, its stdout and stderr lines collected as they come."""
    return OutputProcess(
        [sys.executable, "-u", "-m", "moviemetric.cli", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_scheduler_command_prints_its_schedule_and_stops_on_a_signal_within_10_s(
    runs_url: str, tmp_path: Path, sig: signal.Signals
) -> None:
    service = moviemetric(
        "scheduler",
        DATABASE_URL=runs_url,
        MOVIEMETRIC_HOME=str(tmp_path),
        MOVIEMETRIC_SCHEDULE_INGEST="30 3 * * *",
    )
    try:
        service.wait_for("runs: claimed from ops.pipeline_runs")
        ingest = service.wait_for(r"ingest: cron '30 3 \* \* \*' UTC, next at (\S+)")
        assert ingest[1].endswith("T03:30:00+00:00")
        service.wait_for(r"full-refresh: cron '0 4 \* \* mon' UTC, next at \S+T04:00:00\+00:00")
        service.wait_for("leads: it fires cron")  # its own info lines are shown
        started = time.monotonic()
        service.process.send_signal(sig)
        returncode = service.process.wait(10)
        elapsed = time.monotonic() - started
    finally:
        service.kill()
    assert returncode == 0, "\n".join(service.lines)
    assert elapsed < 10
    assert service.lines[-1] == "scheduler: stopped"


def test_a_bad_cron_setting_is_one_error_line(runs_url: str, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "moviemetric.cli", "scheduler"],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "DATABASE_URL": runs_url,
            "MOVIEMETRIC_HOME": str(tmp_path),
            "MOVIEMETRIC_SCHEDULE_FULL_REFRESH": "0 4 * * 1",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stderr.startswith("moviemetric: error: MOVIEMETRIC_SCHEDULE_FULL_REFRESH=")
    assert "weekday by name" in completed.stderr


def test_scheduler_and_serve_run_an_admin_compute_request_and_serve_its_publish(
    make_database, tmp_path: Path
) -> None:
    url = make_database()
    load_raw(url, make_catalog(movies=120, days=8, seed=6), tmp_path / "dlt")
    run_kind(open_warehouse(Settings(database_url=url)), "compute:all")  # version 1
    env = {"DATABASE_URL": url, "MOVIEMETRIC_HOME": str(tmp_path / "home")}
    service = moviemetric("scheduler", **env)
    api = moviemetric("serve", "--port", "0", MOVIEMETRIC_ADMIN_TOKEN=TOKEN, **env)
    try:
        service.wait_for("runs: claimed from ops.pipeline_runs")
        base_url = api.wait_for(LISTENING.pattern)[1]
        with httpx.Client(base_url=base_url, timeout=30) as client:
            assert client.get("/health").json()["components"]["data_version"]["version"] == 1
            client.get("/movies/trending")
            cached = client.get("/movies/trending")
            assert cached.headers["x-cache"] == "hit"

            # Another replica's run holds the run lock: the request stays queued until
            # it ends, so the test sees "queued" before the scheduler claims it.
            with psycopg.connect(url, autocommit=True) as busy:
                busy.execute("select pg_advisory_lock(%s)", (RUN_LOCK_KEY,))
                response = client.post("/admin/compute/all", headers=AUTH)
                assert response.status_code == 202
                job_id = response.json()["job_id"]
                job = client.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
                assert (job["status"], job["kind"]) == ("queued", "compute:all")
                again = client.post("/admin/compute/trending", headers=AUTH).json()
                assert again == {"job_id": job_id}  # covered by the queued compute:all
            # the lock is released: the scheduler's next poll claims the run
            seen = ["queued"]
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                job = client.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
                if job["status"] != seen[-1]:
                    seen.append(job["status"])
                if job["status"] in ("succeeded", "failed"):
                    break
                time.sleep(0.2)
            assert seen == ["queued", "running", "succeeded"], job["error"]
            assert job["error"] is None
            steps = [step["step"] for step in job["steps"]]
            assert steps == ["freshness", "transform", "index", "publish"]
            assert job["steps"][-1]["version"] == 2

            def serving() -> dict:
                return client.get("/health").json()["components"]["data_version"]

            deadline = time.monotonic() + 30
            while serving()["serving_version"] != 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            health = client.get("/health").json()
            assert health["components"]["data_version"]["version"] == 2
            assert health["components"]["data_version"]["serving_version"] == 2
            assert health["components"]["runs"]["last_run"]["id"] == job_id
            after = client.get("/movies/trending")
            assert after.status_code == 200
            assert after.headers["x-cache"] == "miss"  # the publish invalidated the cache
            assert client.get("/movies/trending").headers["x-cache"] == "hit"
            metrics = client.get("/metrics").text
            assert 'moviemetric_run_last_success_timestamp_seconds{kind="compute:all"}' in metrics
    finally:
        api.process.send_signal(signal.SIGTERM)
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(10) == 0
        api.kill()
        service.kill()

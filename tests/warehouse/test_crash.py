"""A killed transform leaves nothing running: its dbt dies with it, and the next build succeeds."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import psycopg

from moviemetric.warehouse import open_warehouse
from tests.warehouse.conftest import ARTIFACTS, warehouse_settings
from tests.warehouse.raw_fixture import load_raw, make_catalog
from transform import run_transform


def _build_sessions(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            # this database's only: the other test worker runs builds of its own
            "select count(*) from pg_stat_activity"
            " where datname = current_database()"
            " and application_name like 'moviemetric-build-%%'"
        ).fetchone()[0]


def test_kill_9_of_a_transform_leaves_no_dbt_and_the_next_transform_succeeds(
    make_database, tmp_path
):
    url = make_database()
    load_raw(url, make_catalog(movies=300, days=10, seed=11), tmp_path / "dlt")
    env = {**os.environ, "DATABASE_URL": url, "MOVIEMETRIC_HOME": str(tmp_path / "home")}
    transform = subprocess.Popen(
        [sys.executable, "-m", "moviemetric.cli", "transform"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parent = psutil.Process(transform.pid)
    deadline = time.monotonic() + 120
    while not (parent.children(recursive=True) and _build_sessions(url)):
        assert transform.poll() is None, "the transform ended before dbt started building"
        assert time.monotonic() < deadline, "dbt never started building"
        time.sleep(0.2)
    time.sleep(2)  # well into the build
    dbt_processes = parent.children(recursive=True)
    assert dbt_processes

    transform.kill()
    transform.wait()

    _, alive = psutil.wait_procs(dbt_processes, timeout=2)
    assert alive == [], f"dbt outlived its transform: {[p.pid for p in alive]}"
    summary = run_transform(open_warehouse(warehouse_settings(url, tmp_path / "home")))
    assert summary.version >= 1
    assert set(summary.rows) >= set(ARTIFACTS)
    # a backend ends a moment after its client has gone (later on a loaded machine): give
    # dbt's up to 30 s
    deadline = time.monotonic() + 30
    while _build_sessions(url) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _build_sessions(url) == 0

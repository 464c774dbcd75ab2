"""The scheduler service: cron fired once by one leader, takeover, runs, SIGTERM.

Where the test is about the scheduler itself, services run as real processes
(``python -c``), so the advisory locks are really per process, with a fake ``execute``
(a step that succeeds at once, or sleeps); the failure test runs the real ``run_kind``
over fake chain steps.
"""

from __future__ import annotations

import re
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from apscheduler.triggers.cron import CronTrigger

from moviemetric.config import Settings
from moviemetric.errors import MovieMetricError
from moviemetric.steps import StepResult, utc_now
from moviemetric.warehouse import open_warehouse
from scheduler import chain, queue
from scheduler.service import (
    INTERRUPTED_ERROR,
    SchedulerService,
    StepFailedError,
    latest_fire_time,
    options_for,
    run_kind,
    steps_for,
)
from tests.processes import OutputProcess
from tests.warehouse.raw_fixture import load_raw, make_catalog

SERVICE = """
import logging, sys, time
from apscheduler.triggers.cron import CronTrigger
from moviemetric.config import Settings
from moviemetric.steps import StepResult, utc_now
from moviemetric.warehouse import open_warehouse
from scheduler.service import SchedulerService

url, mode = sys.argv[1], sys.argv[2]
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s", force=True)

def execute(warehouse, kind, on_step):
    started = utc_now()
    if mode == "slow":
        time.sleep(600)
    result = StepResult(step="load", started_at=started, ended_at=utc_now(), summary="fake")
    on_step(result)
    return [result]

settings = Settings(database_url=url, run_lease_seconds=5)
crons = {"ingest": CronTrigger(second="*", timezone="UTC")} if mode == "cron" else {}
service = SchedulerService(
    open_warehouse(settings), settings, execute=None if mode == "real" else execute, crons=crons,
    poll_seconds=0.5, leader_retry_seconds=0.5, misfire_grace_seconds=5,
)
service.run_until_signalled(echo=lambda line: print(line, flush=True))
"""

FIRED = re.compile(r"^cron: fired ingest for (\S+): run (\d+)$")


class Service(OutputProcess):
    """A scheduler service process (``mode`` of SERVICE above), its output read as it comes."""

    def __init__(self, url: str, mode: str) -> None:
        super().__init__([sys.executable, "-u", "-c", SERVICE, url, mode])

    def fires(self) -> list[str]:
        return [match[1] for line in self.lines if (match := FIRED.match(line))]

    def leads(self) -> bool:
        return any(line.endswith("leads: it fires cron") for line in self.lines)


def scalar(url: str, query: str, params: tuple = ()) -> object:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params or None).fetchone()[0]


def wait_until(condition, timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_services_fire_each_cron_time_once_and_a_follower_takes_over(
    runs_url: str,
) -> None:
    services = [Service(runs_url, "cron"), Service(runs_url, "cron")]
    try:
        for service in services:
            service.wait_for("runs: claimed from ops.pipeline_runs")  # printed its schedule
        time.sleep(6)
        leaders = [service for service in services if service.leads()]
        assert len(leaders) == 1
        (leader,) = leaders
        (follower,) = [service for service in services if service is not leader]
        fired = leader.fires() + follower.fires()
        assert len(fired) >= 4
        assert follower.fires() == []
        assert max(Counter(fired).values()) == 1  # every fire time fired once

        leader.kill()  # kill -9: no chance to clean up
        before = len(follower.fires())
        follower.wait_for("leads: it fires cron", timeout=10)
        wait_until(lambda: len(follower.fires()) >= before + 3, 15, "the new leader's fires")
        fired = leader.fires() + follower.fires()
        assert max(Counter(fired).values()) == 1
    finally:
        for service in services:
            service.kill()

    with psycopg.connect(runs_url) as conn:
        per_fire = conn.execute(
            "select scheduled_for, count(*) from ops.pipeline_runs"
            " where requested_by = 'cron' group by scheduled_for"
        ).fetchall()
    assert per_fire and all(count == 1 for _, count in per_fire)
    assert all(scheduled.microsecond == 0 for scheduled, _ in per_fire)


def test_sigterm_fails_the_running_run_as_interrupted_within_ten_seconds(
    runs_url: str,
) -> None:
    service = Service(runs_url, "slow")
    try:
        service.wait_for("runs: claimed from ops.pipeline_runs")
        with psycopg.connect(runs_url, autocommit=True) as conn:
            run_id = queue.enqueue(conn, "compute:all", "admin")
        service.wait_for(re.escape(f"run {run_id} (compute:all, by admin) started"), timeout=15)
        status = "select status from ops.pipeline_runs where id = %s"
        assert scalar(runs_url, status, (run_id,)) == "running"
        started = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        returncode = service.process.wait(10)
        elapsed = time.monotonic() - started
    finally:
        service.kill()
    assert returncode == 0, "\n".join(service.lines)
    assert elapsed < 10
    with psycopg.connect(runs_url) as conn:
        status, error, ended_at = conn.execute(
            "select status, error, ended_at from ops.pipeline_runs where id = %s", (run_id,)
        ).fetchone()
    assert (status, error) == ("failed", INTERRUPTED_ERROR)
    assert ended_at is not None


def test_a_killed_services_run_is_failed_by_the_next_service_once_its_lease_lapses(
    runs_url: str,
) -> None:
    killed = Service(runs_url, "slow")
    try:
        killed.wait_for("runs: claimed from ops.pipeline_runs")
        with psycopg.connect(runs_url, autocommit=True) as conn:
            run_id = queue.enqueue(conn, "ingest", "admin")
        killed.wait_for(re.escape(f"run {run_id} (ingest, by admin) started"), timeout=15)
    finally:
        killed.kill()  # kill -9 mid-run: its lease (5 s) is never renewed again
    version = scalar(runs_url, "select version from ops.data_version")
    successor = Service(runs_url, "fast")
    try:
        query = "select status, error from ops.pipeline_runs where id = %s"
        wait_until(
            lambda: scalar(runs_url, query.replace(", error", ""), (run_id,)) == "failed",
            20,
            "the lapsed run to be failed",
        )
    finally:
        successor.kill()
    with psycopg.connect(runs_url) as conn:
        assert conn.execute(query, (run_id,)).fetchone() == ("failed", queue.LAPSED_ERROR)
    assert scalar(runs_url, "select version from ops.data_version") == version


def fake_step(name: str, calls: list[str], error: Exception | None = None):
    def step(warehouse, options, sink):
        calls.append(name)
        if error is not None:
            raise error
        now = utc_now()
        return StepResult(step=name, started_at=now, ended_at=now, rows={name: 1})

    return step


def test_a_failed_step_stops_the_run_and_fails_it_with_that_steps_error(
    runs_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    steps = {
        "load": fake_step("load", calls),
        "transform": fake_step("transform", calls, MovieMetricError("dbt test x failed")),
        "publish": fake_step("publish", calls),
    }
    monkeypatch.setattr(chain, "STEPS", steps)
    settings = Settings(database_url=runs_url)
    service = SchedulerService(open_warehouse(settings), settings, crons={}, poll_seconds=0.5)
    service.start()
    try:
        with psycopg.connect(runs_url, autocommit=True) as conn:
            run_id = queue.enqueue(conn, "ingest", "cli")
        query = "select status from ops.pipeline_runs where id = %s"
        wait_until(lambda: scalar(runs_url, query, (run_id,)) == "failed", 15, "the run's end")
    finally:
        service.stop()
    assert calls == ["load", "transform"]  # publish never ran
    with psycopg.connect(runs_url) as conn:
        error, recorded = conn.execute(
            "select error, steps from ops.pipeline_runs where id = %s", (run_id,)
        ).fetchone()
    assert error == "step transform failed: dbt test x failed"
    assert [(step["step"], step["status"], step["error"]) for step in recorded] == [
        ("load", "succeeded", None),
        ("transform", "failed", "dbt test x failed"),
    ]
    assert recorded[0]["rows"] == {"load": 1}


def test_each_kind_maps_to_chain_steps_and_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chain, "STEPS", dict.fromkeys(("load", "transform", "index", "publish")))
    assert steps_for("ingest") == ("load", "transform", "index", "publish")
    assert steps_for("compute:trending") == ("transform", "index", "publish")
    assert options_for("full-refresh").full_refresh
    assert not options_for("ingest").full_refresh
    assert options_for("compute:all").select is None
    assert "+movie_recommendations " in options_for("compute:recommendations").select
    with pytest.raises(MovieMetricError, match="unknown kind of run"):
        steps_for("compute:everything")


def test_the_schedule_is_printed_with_next_fire_times_in_utc(runs_url: str) -> None:
    settings = Settings(database_url=runs_url)
    lines = SchedulerService(open_warehouse(settings), settings).describe_schedule()
    assert any("ingest: cron '0 2 * * *' UTC, next at" in line for line in lines)
    assert any("full-refresh: cron '0 4 * * mon' UTC, next at" in line for line in lines)
    with pytest.raises(MovieMetricError, match="MOVIEMETRIC_SCHEDULE_INGEST"):
        SchedulerService(open_warehouse(settings), Settings(schedule_ingest_cron="every day"))
    weekday_number = Settings(schedule_full_refresh_cron="0 4 * * 1")  # Tuesday to APScheduler
    with pytest.raises(MovieMetricError, match="weekday by name"):
        SchedulerService(open_warehouse(settings), weekday_number)


def test_the_latest_fire_time_within_the_grace() -> None:
    trigger = CronTrigger.from_crontab("0 2 * * *", timezone=UTC)
    fire = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    assert latest_fire_time(trigger, fire + timedelta(seconds=30), 600) == fire
    assert latest_fire_time(trigger, fire, 600) == fire
    assert latest_fire_time(trigger, fire + timedelta(minutes=11), 600) is None


def test_a_queued_compute_run_goes_through_the_real_chain(
    make_database, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_database()
    load_raw(url, make_catalog(movies=120, days=8, seed=3), tmp_path / "dlt")
    settings = Settings(database_url=url, moviemetric_home=tmp_path / "home")
    service = SchedulerService(open_warehouse(settings), settings, crons={}, poll_seconds=0.5)
    service.start()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            run_id = queue.enqueue(conn, "compute:all", "admin")
        query = "select status from ops.pipeline_runs where id = %s"
        wait_until(lambda: scalar(url, query, (run_id,)) in ("succeeded", "failed"), 300, "the run")
    finally:
        service.stop()
    with psycopg.connect(url) as conn:
        status, error, recorded = conn.execute(
            "select status, error, steps from ops.pipeline_runs where id = %s", (run_id,)
        ).fetchone()
        version = conn.execute("select version from ops.data_version").fetchone()[0]
    assert (status, error) == ("succeeded", None)
    names = [step["step"] for step in recorded]
    assert names == list(steps_for("compute:all"))
    assert "load" not in names
    transform = recorded[names.index("transform")]
    assert transform["models"] > 0 and transform["tests"] > 0
    assert version == 1
    assert recorded[-1]["version"] == 1


def published_state(url: str) -> tuple:
    """The data version, its build and the published schema's identity."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select version, build_id, (select oid from pg_namespace where nspname = 'artifacts')"
            " from ops.data_version"
        ).fetchone()


def test_kill_9_during_the_transform_fails_the_run_and_leaves_the_published_data(
    make_database, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_database()
    load_raw(url, make_catalog(movies=120, days=8, seed=4), tmp_path / "dlt")
    settings = Settings(database_url=url)
    run_kind(open_warehouse(settings), "compute:all")
    before = published_state(url)
    assert before[0] == 1

    killed = Service(url, "real")
    try:
        killed.wait_for("runs: claimed from ops.pipeline_runs")
        with psycopg.connect(url, autocommit=True) as conn:
            run_id = queue.enqueue(conn, "compute:all", "admin")
        building = (
            "select count(*) > 0 from pg_stat_activity"
            " where datname = current_database() and application_name like 'moviemetric-build-%'"
        )
        wait_until(lambda: scalar(url, building), 120, "dbt's build sessions")
    finally:
        killed.kill()  # kill -9 in the middle of dbt build
    successor = Service(url, "fast")
    try:
        query = "select status from ops.pipeline_runs where id = %s"
        wait_until(lambda: scalar(url, query, (run_id,)) == "failed", 30, "the lapsed run")
    finally:
        successor.kill()
    error = scalar(url, "select error from ops.pipeline_runs where id = %s", (run_id,))
    assert error == queue.LAPSED_ERROR
    assert published_state(url) == before


def test_an_index_run_is_the_chains_index_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    index = fake_step("index", calls)

    def rebuild(warehouse, *, sink, on_step):
        result = index(warehouse, None, sink)
        on_step(result)
        return [result]

    monkeypatch.setattr(chain, "run_index_rebuild", rebuild, raising=False)
    warehouse = open_warehouse(Settings(database_url="postgresql://unused@127.0.0.1/unused"))
    seen: list[str] = []
    results = run_kind(warehouse, "index", on_step=lambda result: seen.append(result.step))
    assert [result.step for result in results] == seen == ["index"]

    def broken(warehouse, *, sink, on_step):
        raise MovieMetricError("Meilisearch is unreachable")

    monkeypatch.setattr(chain, "run_index_rebuild", broken, raising=False)
    with pytest.raises(StepFailedError, match="step index failed: Meilisearch is unreachable"):
        run_kind(warehouse, "index")

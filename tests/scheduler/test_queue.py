"""The run queue (ops migration 3, scheduler.queue) against a real PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from moviemetric.ops import (
    API_ROLE,
    RECENT_RUNS_QUERY,
    REQUEST_RUN_QUERY,
    RUN_STATUS_QUERY,
    prepare_warehouse,
)
from moviemetric.steps import StepResult
from scheduler import queue


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def row(url: str, run_id: int) -> dict:
    with connect(url) as conn:
        cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
        return cursor.execute("select * from ops.pipeline_runs where id = %s", (run_id,)).fetchone()


def test_the_api_role_may_only_request_runs_and_read_their_status(runs_url: str) -> None:
    assert prepare_warehouse(runs_url) == 3  # idempotent
    with connect(runs_url) as conn:
        conn.execute(f"set role {API_ROLE}")
        (run_id,) = conn.execute("select ops.request_run('compute:all', 'admin')").fetchone()
        status = conn.execute(
            "select kind, status, requested_by from ops.pipeline_run_status where id = %s",
            (run_id,),
        ).fetchone()
        assert status == ("compute:all", "queued", "admin")
        # the queries the admin API runs
        (index_run,) = conn.execute(REQUEST_RUN_QUERY, ("index", "admin", None)).fetchone()
        assert conn.execute(RUN_STATUS_QUERY, (index_run,)).fetchone()[:3] == (
            index_run,
            "index",
            "queued",
        )
        assert conn.execute(RUN_STATUS_QUERY, (10**9,)).fetchone() is None
        recent = conn.execute(RECENT_RUNS_QUERY, {"status": None, "limit": 10}).fetchall()
        assert [r[0] for r in recent] == [index_run, run_id]
        queued = conn.execute(RECENT_RUNS_QUERY, {"status": "running", "limit": 10}).fetchall()
        assert queued == []
        forbidden = (
            "insert into ops.pipeline_runs (kind, requested_by) values ('ingest', 'admin')",
            "update ops.pipeline_runs set status = 'succeeded'",
            "delete from ops.pipeline_runs",
            "select * from ops.pipeline_runs",
            "update ops.pipeline_run_status set status = 'succeeded'",
        )
        for statement in forbidden:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown kind of run"):
            conn.execute("select ops.request_run('drop-everything', 'admin')")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown requester"):
            conn.execute("select ops.request_run('index', 'mallory')")  # even if deduped


def test_public_cannot_request_runs(runs_url: str) -> None:
    with connect(runs_url) as conn:
        conn.execute("create role mm_test_nobody nologin")
        try:
            conn.execute("set role mm_test_nobody")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select ops.request_run('ingest', 'admin')")
        finally:
            conn.execute("reset role")
            conn.execute("drop owned by mm_test_nobody")
            conn.execute("drop role mm_test_nobody")


def test_a_request_covered_by_a_queued_run_returns_that_run(runs_url: str) -> None:
    with connect(runs_url) as conn:
        trending = queue.enqueue(conn, "compute:trending", "admin")
        assert queue.enqueue(conn, "compute:trending", "cli") == trending
        every = queue.enqueue(conn, "compute:all", "admin")
        assert every != trending  # trending does not cover all
        assert queue.enqueue(conn, "compute:genre-stats", "admin") == every
        index = queue.enqueue(conn, "index", "admin")
        assert index not in (trending, every)  # compute does not cover the index alone

        full_refresh = queue.enqueue(conn, "full-refresh", "cron")
        assert queue.enqueue(conn, "ingest", "admin") == full_refresh
        # a load can fail and stop the chain: ingest covers no compute request
        assert queue.enqueue(conn, "compute:recommendations", "admin") == every

        # a running run is no longer queued work
        claimed = [queue.claim(conn, "worker", 60) for _ in range(4)]
        assert [run.id for run in claimed] == [trending, every, index, full_refresh]
        assert queue.enqueue(conn, "compute:all", "admin") not in (trending, every)

        (count,) = conn.execute("select count(*) from ops.pipeline_runs").fetchone()
        assert count == 5


def test_a_cron_fire_time_is_queued_once_even_after_it_ran(runs_url: str) -> None:
    fire = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    with connect(runs_url) as conn:
        first = queue.enqueue(conn, "full-refresh", "cron", scheduled_for=fire)
        queue.finish(conn, queue.claim(conn, "worker", 60).id)
        assert queue.enqueue(conn, "full-refresh", "cron", scheduled_for=fire) == first
        later = queue.enqueue(conn, "full-refresh", "cron", scheduled_for=fire + timedelta(7))
        assert later != first


def test_concurrent_requests_queue_one_run(runs_url: str) -> None:
    workers = 8
    barrier = threading.Barrier(workers)
    ids: list[int] = []

    def request() -> None:
        with connect(runs_url) as conn:
            barrier.wait()
            ids.append(queue.enqueue(conn, "compute:all", "admin"))

    threads = [threading.Thread(target=request) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == workers
    assert len(set(ids)) == 1
    with connect(runs_url) as conn:
        assert conn.execute("select count(*) from ops.pipeline_runs").fetchone() == (1,)


def test_two_claimers_skip_each_others_locked_run(runs_url: str) -> None:
    with connect(runs_url) as conn:
        first = queue.enqueue(conn, "ingest", "cron")
        second = queue.enqueue(conn, "index", "admin")
    with psycopg.connect(runs_url) as holder, connect(runs_url) as other:
        # the first claimer's transaction still holds the row lock on its run
        holder.execute("begin")
        mine = queue.claim(holder, "worker-a", 60)
        other.execute("set lock_timeout = '2s'")  # SKIP LOCKED never waits
        theirs = queue.claim(other, "worker-b", 60)
        holder.commit()
    assert (mine.id, mine.lease_owner) == (first, "worker-a")
    assert (theirs.id, theirs.lease_owner) == (second, "worker-b")
    with connect(runs_url) as conn:
        assert queue.claim(conn, "worker-c", 60) is None


def test_the_next_claimer_fails_a_run_whose_lease_lapsed(runs_url: str) -> None:
    with connect(runs_url) as conn:
        abandoned = queue.enqueue(conn, "ingest", "cron")
        queue.claim(conn, "killed-worker", 0.2)
        time.sleep(0.5)
        waiting = queue.enqueue(conn, "compute:all", "admin")
        claimed = queue.claim(conn, "next-worker", 60)
    assert claimed.id == waiting
    lapsed = row(runs_url, abandoned)
    assert lapsed["status"] == "failed"
    assert lapsed["error"] == queue.LAPSED_ERROR
    assert lapsed["ended_at"] is not None


def test_renewing_keeps_the_lease_and_only_its_owner_may(runs_url: str) -> None:
    with connect(runs_url) as conn:
        run_id = queue.enqueue(conn, "ingest", "cron")
        queue.claim(conn, "worker", 1)
        assert queue.renew(conn, run_id, "worker", 60)
        assert not queue.renew(conn, run_id, "somebody-else", 60)
        time.sleep(1.2)
        assert queue.fail_lapsed(conn) == []
        assert row(runs_url, run_id)["status"] == "running"


def test_steps_are_recorded_and_the_first_verdict_stands(runs_url: str) -> None:
    started = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    load = StepResult(
        step="load",
        started_at=started,
        ended_at=started + timedelta(seconds=3),
        rows={"movies": 400},
        summary="400 movies",
        details={"freshness": {"movies": "pass"}},
    )
    with connect(runs_url) as conn:
        run_id = queue.enqueue(conn, "ingest", "cron")
        queue.claim(conn, "worker", 60)
        assert queue.record_step(conn, run_id, load)
        failure = queue.failed_step_record(
            "transform", load.ended_at, load.ended_at + timedelta(seconds=1), "test failed"
        )
        assert queue.record_step(conn, run_id, failure)
        assert queue.finish(conn, run_id, error="step transform failed: test failed")
        assert not queue.finish(conn, run_id)  # already failed: it stays failed
        assert not queue.record_step(conn, run_id, load)
    run = row(runs_url, run_id)
    assert run["status"] == "failed"
    assert run["error"] == "step transform failed: test failed"
    assert [(step["step"], step["status"]) for step in run["steps"]] == [
        ("load", "succeeded"),
        ("transform", "failed"),
    ]
    assert run["steps"][0]["rows"] == {"movies": 400}
    assert run["steps"][0]["freshness"] == {"movies": "pass"}
    assert run["steps"][0]["seconds"] == 3
    assert run["steps"][1]["error"] == "test failed"


def test_prune_deletes_ended_runs_past_the_retention_only(runs_url: str) -> None:
    with connect(runs_url) as conn:
        old = queue.enqueue(conn, "ingest", "cron")
        queue.finish(conn, queue.claim(conn, "worker", 60).id)
        recent = queue.enqueue(conn, "compute:all", "admin")
        queue.finish(conn, queue.claim(conn, "worker", 60).id, error="step transform failed")
        queued = queue.enqueue(conn, "index", "admin")
        conn.execute(
            "update ops.pipeline_runs set requested_at = now() - interval '40 days'"
            " where id in (%s, %s)",
            (old, queued),
        )
        assert queue.prune(conn, timedelta(days=30)) == 1
        remaining = {r[0] for r in conn.execute("select id from ops.pipeline_runs")}
    assert remaining == {recent, queued}  # a queued run is work, not history


def test_wait_for_runs_wakes_on_a_new_run_and_times_out_without_one(runs_url: str) -> None:
    with connect(runs_url) as listener:
        started = time.monotonic()
        assert not queue.wait_for_runs(listener, 0.3)
        assert time.monotonic() - started >= 0.25

        def request() -> None:
            time.sleep(0.3)
            with connect(runs_url) as conn:
                queue.enqueue(conn, "ingest", "admin")

        threading.Thread(target=request).start()
        started = time.monotonic()
        assert queue.wait_for_runs(listener, 10)
        assert time.monotonic() - started < 5

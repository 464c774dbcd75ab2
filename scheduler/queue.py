"""The run queue in ``ops.pipeline_runs``: enqueue, claim, lease, record, finish, prune.

Every run takes this path (docs/design.md section 7): cron, the admin API and the CLI
enqueue through ``ops.request_run``; a worker claims the oldest queued run with
``FOR UPDATE SKIP LOCKED`` and holds a lease on it that it renews while the run works;
each finished step is appended to the run's ``steps``; the run ends ``succeeded`` or
``failed`` with the error text. A claimer first fails the runs whose lease lapsed (their
process stopped): what they published is untouched, since a publish is one transaction.

Each function runs in its own transaction (a savepoint inside an open one); the
connection for ``wait_for_runs`` must be in autocommit, since LISTEN takes effect and
notifications arrive only outside a transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from moviemetric.ops import OPS_SCHEMA, RUNS_CHANNEL, request_run
from moviemetric.steps import StepResult

LAPSED_ERROR = "lease lapsed: the process running it stopped"

_RUNS = sql.SQL("{}.pipeline_runs").format(sql.Identifier(OPS_SCHEMA))


@dataclass(frozen=True)
class Run:
    """A claimed run: what to do, and the lease its claimer holds."""

    id: int
    kind: str
    requested_by: str
    requested_at: datetime
    scheduled_for: datetime | None
    lease_owner: str
    lease_expires_at: datetime


def enqueue(
    conn: psycopg.Connection,
    kind: str,
    requested_by: str,
    *,
    scheduled_for: datetime | None = None,
) -> int:
    """Queue a run of ``kind``; the id of the queued run that already covers it, if any.

    ``scheduled_for`` is a cron fire time: a fire time is queued at most once per kind.
    """
    return request_run(conn, kind, requested_by, scheduled_for)


def fail_lapsed(conn: psycopg.Connection) -> list[int]:
    """Fail every running run whose lease lapsed; their ids."""
    return sorted(
        _update_runs(
            conn,
            "status = 'failed', ended_at = now(), error = %s",
            "status = 'running' and lease_expires_at < now()",
            (LAPSED_ERROR,),
        )
    )


def _update_runs(
    conn: psycopg.Connection, assignments: str, condition: str, params: tuple
) -> list[int]:
    """``update ops.pipeline_runs set ASSIGNMENTS where CONDITION`` in a transaction of
    its own; the ids of the runs it changed. Both clauses are literals of this module."""
    with conn.transaction():
        rows = conn.execute(
            sql.SQL(f"update {{}} set {assignments} where {condition} returning id").format(_RUNS),
            params,
        ).fetchall()
    return [row[0] for row in rows]


def claim(conn: psycopg.Connection, owner: str, lease_seconds: float) -> Run | None:
    """Claim the oldest queued run for ``owner`` with a lease; None when none is queued.

    Runs whose lease lapsed are failed first. Concurrent claimers get different runs.
    """
    fail_lapsed(conn)
    with conn.transaction():
        row = (
            conn.cursor(row_factory=dict_row)
            .execute(
                sql.SQL(
                    "with next_run as ("
                    " select id from {runs} where status = 'queued'"
                    " order by requested_at, id limit 1 for update skip locked)"
                    " update {runs} as run set status = 'running', started_at = now(),"
                    " lease_owner = %s, lease_expires_at = now() + make_interval(secs => %s)"
                    " from next_run where run.id = next_run.id"
                    " returning run.id, run.kind, run.requested_by, run.requested_at,"
                    " run.scheduled_for, run.lease_owner, run.lease_expires_at"
                ).format(runs=_RUNS),
                (owner, lease_seconds),
            )
            .fetchone()
        )
    return Run(**row) if row else None


def renew(conn: psycopg.Connection, run_id: int, owner: str, lease_seconds: float) -> bool:
    """Extend ``owner``'s lease on a running run; False when the run is no longer its own."""
    return bool(
        _update_runs(
            conn,
            "lease_expires_at = now() + make_interval(secs => %s)",
            "id = %s and status = 'running' and lease_owner = %s",
            (lease_seconds, run_id, owner),
        )
    )


def step_record(result: StepResult) -> dict[str, object]:
    """The JSON object ``steps`` holds for a finished step."""
    return {
        "step": result.step,
        "status": "succeeded",
        "started_at": result.started_at.isoformat(),
        "ended_at": result.ended_at.isoformat(),
        "seconds": round(result.seconds, 3),
        "rows": result.rows,
        "models": result.models,
        "tests": result.tests,
        "version": result.version,
        "freshness": result.details.get("freshness"),
        "summary": result.summary,
        "error": None,
    }


def failed_step_record(
    step: str, started_at: datetime, ended_at: datetime, error: str
) -> dict[str, object]:
    """The JSON object ``steps`` holds for the step that failed."""
    return {
        "step": step,
        "status": "failed",
        "started_at": started_at.isoformat(),
        "ended_at": ended_at.isoformat(),
        "seconds": round((ended_at - started_at).total_seconds(), 3),
        "rows": {},
        "models": 0,
        "tests": 0,
        "version": None,
        "freshness": None,
        "summary": "",
        "error": error,
    }


def record_step(
    conn: psycopg.Connection, run_id: int, step: StepResult | dict[str, object]
) -> bool:
    """Append a step (a ``StepResult``, or a ``failed_step_record``) to a running run.

    False when the run is no longer running (it was failed as interrupted or lapsed).
    """
    record = step_record(step) if isinstance(step, StepResult) else step
    return bool(
        _update_runs(
            conn,
            "steps = steps || jsonb_build_array(%s::jsonb)",
            "id = %s and status = 'running'",
            (json.dumps(record, default=str), run_id),
        )
    )


def finish(conn: psycopg.Connection, run_id: int, error: str | None = None) -> bool:
    """End a running run: succeeded, or failed with ``error``.

    False when it had already ended (e.g. failed as interrupted or lapsed): the first
    verdict stands.
    """
    return bool(
        _update_runs(
            conn,
            "status = %s, ended_at = now(), error = %s, lease_expires_at = null",
            "id = %s and status = 'running'",
            ("failed" if error is not None else "succeeded", error, run_id),
        )
    )


def prune(conn: psycopg.Connection, older_than: timedelta) -> int:
    """Delete ended runs requested more than ``older_than`` ago; how many."""
    with conn.transaction():
        cursor = conn.execute(
            sql.SQL(
                "delete from {} where status in ('succeeded', 'failed')"
                " and requested_at < now() - %s"
            ).format(_RUNS),
            (older_than,),
        )
    return cursor.rowcount


def listen(conn: psycopg.Connection) -> None:
    """Subscribe an autocommit ``conn`` to new-run notifications."""
    conn.execute(sql.SQL("listen {}").format(sql.Identifier(RUNS_CHANNEL)))


def wait_for_runs(conn: psycopg.Connection, timeout: float) -> bool:
    """Wait up to ``timeout`` s for a run to be queued; True when one was.

    LISTENs first (a no-op when already listening). Notifications that arrived since
    the last wait count (psycopg keeps them), so a run queued between a claim and this
    wait is not missed; callers still poll as a fallback after a False.
    """
    listen(conn)
    return any(True for _ in conn.notifies(timeout=timeout, stop_after=1))

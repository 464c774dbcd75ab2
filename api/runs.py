"""Every statement the API runs on the run queue, under its role: ``ops.request_run``
(its one write) and reads of the view ``ops.pipeline_run_status``.

``read_runs_summary`` is one statement for ``/health`` and ``/metrics``; ``RunsSummary``
keeps it for a few seconds, so a scrape every second costs one query every few.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool

from moviemetric.ops import (
    OPS_SCHEMA,
    RECENT_RUNS_QUERY,
    REQUEST_RUN_QUERY,
    RUN_STATUS_QUERY,
)

# Runs that load from the source: what the data's freshness is judged by.
INGEST_KINDS = ("ingest", "full-refresh")
# The failures of a run that failed with no failed step: its process stopped
# (interrupted by SIGTERM, or its lease lapsed).
STOPPED_STEP = "stopped"

_SUMMARY_QUERY = sql.SQL(
    """
    with runs as (select * from {ops}.pipeline_run_status),
    run_steps as (
        select runs.id, runs.kind, runs.requested_at, step
        from runs cross join lateral jsonb_array_elements(runs.steps) as step
    ),
    last_step_durations as (
        select distinct on (kind, step ->> 'step')
            kind, step ->> 'step' as step, (step ->> 'seconds')::float8 as seconds
        from run_steps
        where step ->> 'status' = 'succeeded'
        order by kind, step ->> 'step', requested_at desc, id desc
    ),
    step_failures as (
        select step ->> 'step' as step, count(*) as failures
        from run_steps where step ->> 'status' = 'failed' group by 1
        union all
        select {stopped}, count(*) from runs
        where status = 'failed'
            and not exists (
                select from jsonb_array_elements(runs.steps) as step
                where step ->> 'status' = 'failed'
            )
        having count(*) > 0
    )
    select
        (select count(*) from runs where status = 'queued') as queued,
        (select count(*) from runs where status = 'running') as running,
        (
            select coalesce(jsonb_object_agg(kind, ended_at), '{{}}'::jsonb)
            from (
                select kind, max(ended_at) as ended_at from runs
                where status = 'succeeded' group by kind
            ) as successes
        ) as last_success,
        (
            select coalesce(jsonb_agg(jsonb_build_array(kind, step, seconds)), '[]'::jsonb)
            from last_step_durations
        ) as step_seconds,
        (
            select coalesce(jsonb_object_agg(step, failures), '{{}}'::jsonb) from step_failures
        ) as step_failures,
        (
            select jsonb_build_object(
                'id', id, 'kind', kind, 'status', status, 'ended_at', ended_at
            )
            from runs order by requested_at desc, id desc limit 1
        ) as last_run,
        (
            select max(ended_at) from runs
            where status = 'succeeded' and kind in ({ingest_kinds})
        ) as last_ingest_succeeded_at,
        (
            select step -> 'freshness' from run_steps
            where jsonb_typeof(step -> 'freshness') not in ('null')
            order by requested_at desc, id desc limit 1
        ) as source_freshness
    """
).format(
    ops=sql.Identifier(OPS_SCHEMA),
    stopped=sql.Literal(STOPPED_STEP),
    ingest_kinds=sql.SQL(", ").join(sql.Literal(kind) for kind in INGEST_KINDS),
)


async def request_run(conn: AsyncConnection, kind: str) -> int:
    """Queue a run of ``kind`` for the admin API; the id of the queued run covering it.

    ``conn`` is an autocommit pool connection: the call is its own read-write transaction.
    """
    cursor = conn.cursor(row_factory=tuple_row)
    await cursor.execute(REQUEST_RUN_QUERY, (kind, "admin", None))
    (run_id,) = await cursor.fetchone()
    return int(run_id)


async def read_run(conn: AsyncConnection, run_id: int) -> dict[str, Any] | None:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(RUN_STATUS_QUERY, (run_id,))
    return await cursor.fetchone()


async def read_recent_runs(
    conn: AsyncConnection, *, status: str | None, limit: int
) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(RECENT_RUNS_QUERY, {"status": status, "limit": limit})
    return await cursor.fetchall()


async def read_runs_summary(conn: AsyncConnection) -> dict[str, Any]:
    """Queue depth, last success per kind, last step durations, failures per step, the
    last run, the last successful ingest and the last recorded source freshness."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(_SUMMARY_QUERY)
    row = await cursor.fetchone()
    row["last_success"] = {
        kind: dt.datetime.fromisoformat(ended_at) for kind, ended_at in row["last_success"].items()
    }
    if row["last_run"] is not None and row["last_run"]["ended_at"] is not None:
        row["last_run"]["ended_at"] = dt.datetime.fromisoformat(row["last_run"]["ended_at"])
    return row


class RunsSummary:
    """``read_runs_summary``, read again once the last read is ``max_age_seconds`` old.

    ``value`` is the last summary read (None before the first), for scrape-time
    collectors, which cannot await.
    """

    def __init__(self, pool: AsyncConnectionPool, max_age_seconds: float = 2.0) -> None:
        self.pool = pool
        self.max_age_seconds = max_age_seconds
        self.value: dict[str, Any] | None = None
        self._read_at = float("-inf")

    async def get(self, timeout: float | None = None) -> dict[str, Any]:
        if self.value is None or time.monotonic() - self._read_at > self.max_age_seconds:
            async with self.pool.connection(timeout=timeout) as conn:
                self.value = await read_runs_summary(conn)
            self._read_at = time.monotonic()
        return self.value

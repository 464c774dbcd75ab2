"""``/admin``: request pipeline runs and watch them (docs/design.md sections 6 and 7).

Every route wants ``Authorization: Bearer <MOVIEMETRIC_ADMIN_TOKEN>`` (compared in
constant time); with no token configured the admin API is off and refuses every
request. A POST enqueues a run through ``ops.request_run`` (the API role's one write)
and answers 202 with its id, or with the id of the queued run that already does that
work; the scheduler service runs it. Reads come from the view ``ops.pipeline_run_status``.
Admin responses are never cached (``api.http_cache`` caches only the data routes) and
say so (``Cache-Control: no-store``).
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import runs
from api.deps import DbDep, SettingsDep
from api.models import ErrorPublic, JobAcceptedPublic, JobPublic, JobsPublic, JobStepPublic
from moviemetric.ops import COMPUTE_ARTIFACTS, RUN_STATUSES

ADMIN_TOKEN_VARIABLE = "MOVIEMETRIC_ADMIN_TOKEN"
ADMIN_DISABLED = (
    f"the admin API is disabled: set {ADMIN_TOKEN_VARIABLE} to a secret for the API "
    "process and send it as `Authorization: Bearer <token>`"
)
NO_RUN_QUEUE = (
    "the warehouse has no run queue yet (ops migration 3): start `moviemetric scheduler`, "
    "which creates it, then retry"
)
NO_STORE = {"cache-control": "no-store"}

_bearer = HTTPBearer(auto_error=False, description=f"The value of {ADMIN_TOKEN_VARIABLE}.")


def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """403 while no admin token is configured; 401 without the right bearer token."""
    configured = settings.admin_token
    if configured is None:
        raise HTTPException(403, ADMIN_DISABLED, headers=NO_STORE)
    expected = configured.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials is not None else b""
    if credentials is None or not secrets.compare_digest(given, expected):
        detail = (
            "missing admin token: send `Authorization: Bearer <token>`"
            if credentials is None
            else f"wrong admin token: send the value of {ADMIN_TOKEN_VARIABLE}"
        )
        raise HTTPException(
            401, detail, headers={"www-authenticate": 'Bearer realm="admin"', **NO_STORE}
        )


_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "No admin token, or the wrong one."},
    403: {"model": ErrorPublic, "description": f"The admin API is off ({ADMIN_TOKEN_VARIABLE})."},
}

router = APIRouter(
    prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)], responses=_REFUSED
)

ComputeTarget = enum.StrEnum("ComputeTarget", {name: name for name in COMPUTE_ARTIFACTS})
RunStatus = enum.StrEnum("RunStatus", {name: name for name in RUN_STATUSES})


async def _enqueue(
    conn: psycopg.AsyncConnection, kind: str, response: Response
) -> JobAcceptedPublic:
    try:
        job_id = await runs.request_run(conn, kind)
    except (psycopg.errors.UndefinedFunction, psycopg.errors.InvalidSchemaName) as exc:
        raise HTTPException(503, NO_RUN_QUEUE, headers={"retry-after": "5", **NO_STORE}) from exc
    response.headers.update(NO_STORE)
    return JobAcceptedPublic(job_id=job_id)


@router.post("/ingest/run", status_code=202, summary="Queue an ingest run")
async def ingest_run(conn: DbDep, response: Response) -> JobAcceptedPublic:
    """Load from TMDB, then everything downstream (kind `ingest`)."""
    return await _enqueue(conn, "ingest", response)


@router.post("/compute/{artifact}", status_code=202, summary="Queue a compute run")
async def compute(artifact: ComputeTarget, conn: DbDep, response: Response) -> JobAcceptedPublic:
    """Rebuild the artifact (or `all`) and what depends on it from the raw data already
    loaded, test it, index and publish (kind `compute:<artifact>`)."""
    return await _enqueue(conn, f"compute:{artifact.value}", response)


@router.post("/search/build-index", status_code=202, summary="Queue a search index build")
async def build_index(conn: DbDep, response: Response) -> JobAcceptedPublic:
    """Rebuild the search index from the published data (kind `index`)."""
    return await _enqueue(conn, "index", response)


@router.get(
    "/jobs/{job_id}",
    responses={404: {"model": ErrorPublic, "description": "No run has this id."}},
    summary="A run's status, steps, timings, rows and error",
)
async def job(job_id: int, conn: DbDep, response: Response) -> JobPublic:
    row = await _read(runs.read_run(conn, job_id))
    if row is None:
        raise HTTPException(404, f"no job {job_id}: see GET /admin/jobs", headers=NO_STORE)
    response.headers.update(NO_STORE)
    return job_public(row)


@router.get("/jobs", summary="The most recent runs, newest first")
async def jobs(
    conn: DbDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=100, description="How many runs.")] = 20,
    status: Annotated[
        RunStatus | None,
        Query(description="Only runs with this status."),
    ] = None,
) -> JobsPublic:
    rows = await _read(
        runs.read_recent_runs(conn, status=status.value if status else None, limit=limit)
    )
    response.headers.update(NO_STORE)
    return JobsPublic(items=[job_public(row) for row in rows])


async def _read(query):
    try:
        return await query
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
        raise HTTPException(503, NO_RUN_QUEUE, headers={"retry-after": "5", **NO_STORE}) from exc


def job_public(row: dict[str, Any]) -> JobPublic:
    """A ``pipeline_run_status`` row as the API shows it."""
    steps = [JobStepPublic.model_validate(step) for step in row["steps"]]
    seconds = None
    if row["started_at"] is not None:
        ended = row["ended_at"] or dt.datetime.now(dt.UTC)
        seconds = round(max((ended - row["started_at"]).total_seconds(), 0.0), 3)
    return JobPublic(
        job_id=row["id"],
        kind=row["kind"],
        status=row["status"],
        requested_by=row["requested_by"],
        requested_at=row["requested_at"],
        scheduled_for=row["scheduled_for"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        seconds=seconds,
        rows={step.step: step.rows for step in steps if step.rows},
        error=row["error"],
        steps=steps,
    )

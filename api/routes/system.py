"""``/`` (links to the parts of the API), ``/health`` (per-component status, the data's
age and the last run) and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import contextlib
import datetime as dt

import psycopg
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api import repositories
from api.cache import CACHE_CONTROL, etag_for
from api.deps import CacheDep, PoolDep, RunsDep, SettingsDep, VersionsDep
from api.errors import NOT_PUBLISHED, WAREHOUSE_DOWN, first_line, warehouse_unavailable_detail
from api.http_cache import etag_matches
from api.models import (
    CacheHealthPublic,
    ComponentHealthPublic,
    DataVersionHealthPublic,
    HealthComponentsPublic,
    HealthPublic,
    IndexPublic,
    LastRunPublic,
    RunsHealthPublic,
)
from api.runs import RunsSummary
from api.versions import NOTHING_PUBLISHED
from moviemetric.config import Settings
from moviemetric.errors import MovieMetricError
from moviemetric.schedule import CRON_SETTINGS, cron_period, cron_trigger

router = APIRouter(tags=["system"])

# What GET / lists; tests check that each is served.
INDEX_LINKS = {
    "docs": "/docs",
    "redoc": "/redoc",
    "openapi": "/openapi.json",
    "health": "/health",
    "metrics": "/metrics",
    "lineage": "/lineage/",
    "movies": "/movies",
    "movie": "/movies/{movie_id}",
    "recommendations": "/movies/{movie_id}/recommendations",
    "trending": "/movies/trending",
    "search": "/search",
    "top_genres": "/analytics/top-genres",
    "genre_stats": "/analytics/genre-stats",
    "ratings_by_decade": "/analytics/ratings-by-decade",
    # MOVIEMETRIC_ADMIN_TOKEN as a bearer token; POST queues a run
    "admin_ingest": "/admin/ingest/run",
    "admin_compute": "/admin/compute/{artifact}",
    "admin_build_index": "/admin/search/build-index",
    "admin_jobs": "/admin/jobs",
    "admin_job": "/admin/jobs/{job_id}",
}

HEALTH_POOL_TIMEOUT_SECONDS = 2.0
INGEST_CRON_VARIABLE = CRON_SETTINGS["ingest"][1]
RUNS_NOT_READ = "not read: the warehouse is unavailable or nothing is published yet"


@router.get("/", response_model=IndexPublic, summary="Links to the parts of the API")
async def index(request: Request) -> Response:
    root = request.scope.get("root_path", "")
    body = IndexPublic(
        title=request.app.title,
        version=request.app.version,
        links={name: f"{root}{path}" for name, path in INDEX_LINKS.items()},
    )
    content = body.model_dump_json().encode()
    etag = etag_for(content)
    headers = {"etag": etag.decode(), "cache-control": CACHE_CONTROL.decode()}
    if etag_matches(request.scope, etag):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)


@router.get(
    "/health",
    response_model=HealthPublic,
    responses={
        503: {
            "model": HealthPublic,
            "description": "The warehouse is unreachable, or nothing is published yet.",
        }
    },
)
async def health(
    pool: PoolDep, cache: CacheDep, versions: VersionsDep, runs: RunsDep, settings: SettingsDep
) -> JSONResponse:
    """ok: all parts work; degraded: serving, but the cache has a problem, this process
    is catching up with a publish, or the data is stale (the last successful ingest run
    ended longer ago than twice the ingest cron period); unavailable (503): the
    warehouse cannot be reached, or nothing is published yet (the detail says what to
    run)."""
    warehouse = ComponentHealthPublic(status="ok")
    data_version = DataVersionHealthPublic(status="ok", serving_version=versions.version)
    if versions.unpublished is not None:
        # Known without a pool connection, which the API role may not even be able to take.
        data_version.status, data_version.detail = "unavailable", versions.unpublished
    else:
        try:
            async with pool.connection(timeout=HEALTH_POOL_TIMEOUT_SECONDS) as conn:
                row = await repositories.read_data_version(conn)
        except NOT_PUBLISHED as exc:
            data_version.status = "unavailable"
            data_version.detail = warehouse_unavailable_detail(exc)
        except (*WAREHOUSE_DOWN, psycopg.Error) as exc:
            warehouse = ComponentHealthPublic(
                status="unavailable",
                detail=warehouse_unavailable_detail(exc, pool.last_connect_error),
            )
            data_version.status = "unavailable"
        else:
            _describe_version(data_version, row, serving=versions.version)

    if warehouse.status == "ok" and versions.unpublished is None:
        runs_health = await _runs_health(runs, settings, data_version.published_at)
    else:  # no pool connection to wait for: the API role may not be able to take one
        runs_health = RunsHealthPublic(status="unavailable", detail=RUNS_NOT_READ)
    cache_problem = await cache.health()
    cache_health = CacheHealthPublic(
        status="degraded" if cache_problem else "ok",
        detail=cache_problem,
        backend=cache.backend.name,
    )
    if warehouse.status != "ok" or data_version.status == "unavailable":
        overall, status_code = "unavailable", 503
    elif "degraded" in (cache_health.status, data_version.status, runs_health.status):
        overall, status_code = "degraded", 200
    else:
        overall, status_code = "ok", 200
    body = HealthPublic(
        status=overall,
        components=HealthComponentsPublic(
            warehouse=warehouse, cache=cache_health, data_version=data_version, runs=runs_health
        ),
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status_code,
        headers={"cache-control": "no-store"},
    )


def _describe_version(health: DataVersionHealthPublic, row: dict | None, *, serving: int | None):
    """The published version, its age and build, from the ``ops.data_version`` row."""
    if row is None or row["version"] < 1:
        health.status = "unavailable"
        health.detail = NOTHING_PUBLISHED
        return
    health.version = row["version"]
    health.published_at = row["published_at"]
    health.build_id = row["build_id"]
    if row["published_at"] is not None:
        age = dt.datetime.now(dt.UTC) - row["published_at"]
        health.age_seconds = round(max(age.total_seconds(), 0.0), 1)
    if serving != row["version"]:
        health.status = "degraded"
        health.detail = "the cache key version is catching up with a publish"


async def _runs_health(
    runs: RunsSummary, settings: Settings, published_at: dt.datetime | None
) -> RunsHealthPublic:
    """The last run, and whether the data is older than the ingest cron lets it be."""
    health = RunsHealthPublic(status="ok")
    try:
        summary = await runs.get(timeout=HEALTH_POOL_TIMEOUT_SECONDS)
    except (*WAREHOUSE_DOWN, psycopg.Error) as exc:
        health.status = "degraded"
        health.detail = f"the run history cannot be read: {first_line(exc)}"
        return health
    if summary["last_run"] is not None:
        health.last_run = LastRunPublic.model_validate(summary["last_run"])
    health.last_ingest_succeeded_at = summary["last_ingest_succeeded_at"]
    health.source_freshness = summary["source_freshness"]
    now = dt.datetime.now(dt.UTC)
    try:
        period = cron_period(cron_trigger(settings.schedule_ingest_cron, INGEST_CRON_VARIABLE), now)
    except MovieMetricError as exc:
        health.status, health.detail = "degraded", str(exc)
        return health
    if period is None:
        return health
    health.ingest_period_seconds = period.total_seconds()
    since = health.last_ingest_succeeded_at or published_at
    if since is not None and now - since > 2 * period:
        what = (
            "the last successful ingest run ended"
            if health.last_ingest_succeeded_at
            else "no ingest run succeeded yet, and the data was published"
        )
        health.status = "degraded"
        health.detail = (
            f"stale data: {what} at {since.isoformat(timespec='seconds')}, longer ago than "
            f"twice the ingest cron period ({period}); is `moviemetric scheduler` running? "
            "see GET /admin/jobs"
        )
    return health


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
async def metrics(request: Request, runs: RunsDep, versions: VersionsDep) -> Response:
    """Prometheus text: the API's own metrics and the pipeline runs' (read at scrape time,
    at most every few seconds, once something is published; a warehouse that cannot
    answer leaves the last read)."""
    if versions.unpublished is None:
        with contextlib.suppress(*WAREHOUSE_DOWN, psycopg.Error):
            await runs.get(timeout=HEALTH_POOL_TIMEOUT_SECONDS)
    return Response(
        generate_latest(request.app.state.metrics.registry),
        media_type=CONTENT_TYPE_LATEST,
    )

"""``/health`` (per-component status) and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api import repositories
from api.deps import CacheDep, PoolDep, VersionsDep
from api.errors import NOT_PUBLISHED, WAREHOUSE_DOWN, warehouse_unavailable_detail
from api.models import (
    CacheHealthPublic,
    ComponentHealthPublic,
    DataVersionHealthPublic,
    HealthComponentsPublic,
    HealthPublic,
)

router = APIRouter(tags=["system"])

HEALTH_POOL_TIMEOUT_SECONDS = 2.0


@router.get(
    "/health",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "The warehouse is unreachable."}},
)
async def health(pool: PoolDep, cache: CacheDep, versions: VersionsDep) -> JSONResponse:
    """ok: all parts work; degraded: serving, but the cache or the published data has a
    problem; unavailable (503): the warehouse cannot be reached."""
    warehouse = ComponentHealthPublic(status="ok")
    data_version = DataVersionHealthPublic(status="ok", serving_version=versions.version)
    try:
        async with pool.connection(timeout=HEALTH_POOL_TIMEOUT_SECONDS) as conn:
            row = await repositories.read_data_version(conn)
    except NOT_PUBLISHED as exc:
        row = None
        data_version.status = "degraded"
        data_version.detail = warehouse_unavailable_detail(exc)
    except (*WAREHOUSE_DOWN, psycopg.Error) as exc:
        row = None
        warehouse = ComponentHealthPublic(
            status="unavailable",
            detail=warehouse_unavailable_detail(exc, pool.last_connect_error),
        )
        data_version.status = "unavailable"
    if warehouse.status == "ok" and data_version.status == "ok":
        if row is None:
            data_version.status = "degraded"
            data_version.detail = "nothing is published yet; run `moviemetric transform`"
        else:
            data_version.version = row["version"]
            data_version.published_at = row["published_at"]
            if versions.version != row["version"]:
                data_version.status = "degraded"
                data_version.detail = "the cache key version is catching up with a publish"

    cache_problem = await cache.health()
    cache_health = CacheHealthPublic(
        status="degraded" if cache_problem else "ok",
        detail=cache_problem,
        backend=cache.backend.name,
    )
    if warehouse.status != "ok":
        overall, status_code = "unavailable", 503
    elif cache_health.status != "ok" or data_version.status != "ok":
        overall, status_code = "degraded", 200
    else:
        overall, status_code = "ok", 200
    body = HealthPublic(
        status=overall,
        components=HealthComponentsPublic(
            warehouse=warehouse, cache=cache_health, data_version=data_version
        ),
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status_code,
        headers={"cache-control": "no-store"},
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry),
        media_type=CONTENT_TYPE_LATEST,
    )

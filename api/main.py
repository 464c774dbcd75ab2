"""The app factory: ``create_app(settings)``; ``moviemetric serve`` runs it under uvicorn.

In front of FastAPI's own stack, outermost first: metrics (every request), HEAD run as
GET (``api.head``), the response cache, which answers hits before anything of FastAPI
runs (error middleware, routing, validation, serialization), so a hit costs little more
than the lookup; then ``api.fast_path``, which answers most uncached reads of one movie
with the route's own statement and bytes, without FastAPI's per-request machinery.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.cache import ResponseCache
from api.dashboard import install_dashboard
from api.database import api_database_url, create_pool
from api.docs import install_docs
from api.errors import install_exception_handlers
from api.fast_path import MovieFastPath
from api.genres import KnownGenres
from api.head import HeadAsGet
from api.http_cache import ResponseCacheMiddleware
from api.lineage import LineageSite
from api.metrics import ApiMetrics, MetricsMiddleware
from api.routes import admin, analytics, movies, search, system
from api.routes.params import single_valued_query
from api.runs import RunsSummary
from api.versions import DataVersionTracker
from moviemetric.config import Settings
from search import search_backend

DESCRIPTION = """Read-only API over MovieMetric's published warehouse (schema `artifacts`).

Responses of `/movies`, `/search` and `/analytics` are cached until the next publish
(header `X-Cache: hit|miss`) and carry an `ETag` (send `If-None-Match` for a 304) and
`Cache-Control`.
Errors are `{"detail": ...}`; a bad parameter gets a 422 naming it; `limit` is 1 to 100;
a query parameter takes one value (given twice, it is a 422 naming it). `HEAD` works
wherever `GET` does. A movie has the same fields, in the same order, in every response.

`/admin` (runs: request them, watch them) wants `Authorization: Bearer
<MOVIEMETRIC_ADMIN_TOKEN>` and is off while that is unset; it is never cached.

This product uses the TMDB API but is not endorsed or certified by TMDB.
"""


class MovieMetricApi(FastAPI):
    """FastAPI with the metrics and response-cache layers in front of its middleware stack."""

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is not None and scope["type"] == "http":
            await self.front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def put_in_front(self, build: Callable[[ASGIApp], ASGIApp]) -> None:
        self.front = build(functools.partial(FastAPI.__call__, self))


def create_app(settings: Settings) -> FastAPI:
    conninfo = api_database_url(settings)
    metrics = ApiMetrics()
    cache = ResponseCache.from_settings(settings, metrics)

    genres = KnownGenres()
    refreshes: set[asyncio.Task] = set()

    def on_version_change(version: int | None) -> None:
        cache.forget_local()
        metrics.data_version.set(-1 if version is None else version)
        if version is not None and not pool.closed:
            task = asyncio.create_task(genres.refresh(pool, version))
            refreshes.add(task)
            task.add_done_callback(refreshes.discard)

    versions = DataVersionTracker(conninfo, on_change=on_version_change)
    pool = create_pool(conninfo)
    metrics.watch_pool(pool.get_stats)
    runs = RunsSummary(pool)
    metrics.watch_runs(lambda: runs.value)
    backend = search_backend(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await versions.start()
        if versions.unpublished is None:
            # Fill the pool now; with nothing published it opens at its first use instead.
            await pool.open(wait=False)
            await genres.refresh(pool, versions.version)
        try:
            yield
        finally:
            await versions.stop()
            await pool.close()
            await cache.close()
            await backend.close()

    app = MovieMetricApi(
        title="MovieMetric API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # api.docs serves /docs and /redoc without CDNs
        redoc_url=None,
        dependencies=[Depends(single_valued_query)],
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.cache = cache
    app.state.versions = versions
    app.state.metrics = metrics
    app.state.search = backend
    app.state.genres = genres
    app.state.runs = runs

    app.include_router(movies.router)
    app.include_router(search.router)
    app.include_router(analytics.router)
    app.include_router(system.router)
    app.include_router(admin.router)
    app.mount("/lineage", LineageSite(settings.lineage_dir), name="lineage")
    install_docs(app)
    install_dashboard(app)
    install_exception_handlers(app)

    app.put_in_front(
        lambda inner: MetricsMiddleware(
            HeadAsGet(
                ResponseCacheMiddleware(
                    MovieFastPath(inner, pool=pool, versions=versions, routes=movies.router.routes),
                    cache=cache,
                    versions=versions,
                )
            ),
            metrics=metrics,
            routes=app.routes,
        )
    )
    return app

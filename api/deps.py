"""Dependencies routes declare by intent: ``DbDep``, ``PoolDep``, ``CacheDep``, ``VersionsDep``,
``SettingsDep``, ``RunsDep``;
``require_published`` guards the routers that read published data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from api.cache import ResponseCache
from api.errors import NothingPublished
from api.runs import RunsSummary
from api.versions import DataVersionTracker
from moviemetric.config import Settings


async def get_pool(request: Request) -> AsyncConnectionPool:
    return request.app.state.pool


async def get_db(request: Request) -> AsyncIterator[AsyncConnection]:
    """A pooled warehouse connection under the API role, returned after the response."""
    async with request.app.state.pool.connection() as conn:
        yield conn


async def get_cache(request: Request) -> ResponseCache:
    return request.app.state.cache


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_runs(request: Request) -> RunsSummary:
    return request.app.state.runs


async def get_versions(request: Request) -> DataVersionTracker:
    return request.app.state.versions


async def require_published(request: Request) -> None:
    """Answer 503 at once while the warehouse has nothing published (``api.versions``),
    instead of waiting for a pool connection that the API role cannot have or use."""
    unpublished = request.app.state.versions.unpublished
    if unpublished is not None:
        raise NothingPublished(unpublished)


DbDep = Annotated[AsyncConnection, Depends(get_db)]
PoolDep = Annotated[AsyncConnectionPool, Depends(get_pool)]
CacheDep = Annotated[ResponseCache, Depends(get_cache)]
VersionsDep = Annotated[DataVersionTracker, Depends(get_versions)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RunsDep = Annotated[RunsSummary, Depends(get_runs)]

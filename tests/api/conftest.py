"""API fixtures: one published dataset per test session, and an app served in-process.

The dataset comes from the real pipeline (TMDB sandbox -> load for 3 days -> dbt build
and publish), built once per session into a scratch database.

The app runs with its lifespan (pool, data-version listener, cache) under
``httpx.AsyncClient`` + ``ASGITransport``; tests query the artifacts tables themselves
and compare. Tests that change the dataset restore it before they return.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from psycopg.rows import dict_row
from starlette.types import ASGIApp

from api.main import create_app
from moviemetric.config import Settings
from tests.api.published_dataset import publish_sandbox_dataset
from tests.shared_datasets import dataset


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_api_login_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's MOVIEMETRIC_API_DATABASE_URL must not take the API tests elsewhere."""
    monkeypatch.delenv("MOVIEMETRIC_API_DATABASE_URL", raising=False)


@pytest.fixture(scope="session")
def published_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database holding a published dataset (artifacts, ops.data_version, API role)."""
    with dataset(request, "api", publish_sandbox_dataset) as (url, _, _):
        yield url


@pytest.fixture
def warehouse(published_url: str) -> Iterator[psycopg.Connection]:
    """A superuser connection to the published dataset, for expected values and changes."""
    with psycopg.connect(published_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture(params=["in-process cache", "redis cache"])
def api_settings(request: pytest.FixtureRequest, published_url: str) -> Settings:
    """Every endpoint test runs on both cache backends: in process, and the real Redis."""
    if request.param == "redis cache":
        return Settings(database_url=published_url, redis_url=request.getfixturevalue("redis_url"))
    return Settings(database_url=published_url)


@contextlib.asynccontextmanager
async def running(
    app: FastAPI, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan started, and a client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


@pytest.fixture
async def client(api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(api_settings)) as client:
        yield client


@pytest.fixture
async def memory_client(published_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the in-process cache alone: a fresh app has an empty cache, so its
    first answer to a request always comes from the warehouse (Redis is shared)."""
    async with running(create_app(Settings(database_url=published_url))) as client:
        yield client


async def eventually(check, *, timeout: float = 30.0, interval: float = 0.05):
    """Await ``check()`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = anyio.current_time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if anyio.current_time() > deadline:
            pytest.fail(f"condition not met within {timeout} s: {check.__doc__ or check}")
        await anyio.sleep(interval)


@pytest.fixture(scope="module")
def live_server(published_url: str, tmp_path_factory) -> Iterator[str]:
    """The app under a real uvicorn server in a thread; yields its base URL."""
    settings = Settings(
        database_url=published_url, redis_url=None, moviemetric_home=tmp_path_factory.mktemp("home")
    )
    with served(create_app(settings)) as url:
        yield url


@contextlib.contextmanager
def served(app: ASGIApp) -> Iterator[str]:
    """``app`` under a real uvicorn server in a thread, at its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)

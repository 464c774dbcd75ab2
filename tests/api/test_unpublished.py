"""Serving before anything is published: every data route and /health answer 503 at
once, saying what to run, without a log line per request; and the API serves as soon as
a publish arrives, without a restart.

"Nothing published" comes in three shapes, each made on a fresh, empty database: no API
role yet (the role is server-wide and the published test dataset creates it, so here the
API looks for a role name that does not exist), no ``ops`` schema, and a bootstrapped
warehouse at data version 0.
"""

from __future__ import annotations

import logging
import time
import uuid

import psycopg
import pytest

from api.main import create_app
from moviemetric.config import Settings
from moviemetric.ops import API_ROLE, ensure_role, prepare_warehouse
from tests.api.conftest import eventually, running
from tests.conftest import ADMIN_URL

pytestmark = pytest.mark.anyio

DATA_PATHS = (
    "/movies",
    "/movies/trending",
    "/movies/550",
    "/movies/550/recommendations",
    "/analytics/top-genres",
    "/analytics/genre-stats",
    "/analytics/ratings-by-decade",
)
# A pool timeout (3 s) or a connect timeout would take longer than this.
AT_ONCE_SECONDS = 1.0


def _missing_role(monkeypatch: pytest.MonkeyPatch) -> str:
    role = f"mm_no_such_role_{uuid.uuid4().hex[:10]}"
    monkeypatch.setattr("api.database.API_ROLE", role)
    return role


@pytest.fixture(params=["no API role", "no ops schema", "data version 0"])
def unpublished_url(request, make_database, monkeypatch) -> tuple[str, str]:
    """(database URL, what the detail names) of a warehouse with nothing published."""
    url = make_database()
    if request.param == "no API role":
        return url, f"the API role {_missing_role(monkeypatch)} does not exist"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        ensure_role(admin, API_ROLE)
    if request.param == "no ops schema":
        return url, "ops.data_version is missing"
    prepare_warehouse(url)
    return url, "ops.data_version is at version 0"


async def _timed_get(client, path: str):
    started = time.monotonic()
    response = await client.get(path)
    return response, time.monotonic() - started


async def test_every_data_route_and_health_say_what_to_run_at_once(unpublished_url, caplog):
    url, reason = unpublished_url
    caplog.set_level(logging.INFO)
    async with running(create_app(Settings(database_url=url, redis_url=None))) as client:
        for _ in range(3):  # repeated: each request, not only the first, is quick and quiet
            for path in DATA_PATHS:
                response, seconds = await _timed_get(client, path)
                assert response.status_code == 503, path
                detail = response.json()["detail"]
                assert detail.startswith("nothing is published yet: run `moviemetric run`")
                assert reason in detail
                assert seconds < AT_ONCE_SECONDS, (path, seconds)
            health, seconds = await _timed_get(client, "/health")
            assert seconds < AT_ONCE_SECONDS
            assert health.status_code == 503
            body = health.json()
            assert body["status"] == "unavailable"
            assert body["components"]["warehouse"] == {"status": "ok", "detail": None}
            data_version = body["components"]["data_version"]
            assert data_version["status"] == "unavailable"
            assert "moviemetric run" in data_version["detail"] and reason in data_version["detail"]
    pool_warnings = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("psycopg") and record.levelno >= logging.WARNING
    ]
    assert pool_warnings == []
    api_warnings = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("api") and record.levelno >= logging.WARNING
    ]
    assert len(api_warnings) == 1 and reason in api_warnings[0], api_warnings


async def test_the_first_publish_is_served_without_a_restart(published_url, monkeypatch):
    """The API started before the role existed; then the role appears with published
    data (here: the API looks for its real name again), and requests are served."""
    _missing_role(monkeypatch)
    app = create_app(Settings(database_url=published_url, redis_url=None))
    async with running(app) as client:
        response = await client.get("/movies")
        assert response.status_code == 503
        assert "nothing is published yet" in response.json()["detail"]
        assert app.state.pool.closed  # not failing in the background meanwhile

        monkeypatch.setattr("api.database.API_ROLE", API_ROLE)

        async def served() -> bool:
            """/movies is served once the role exists"""
            return (await client.get("/movies", params={"limit": 3})).status_code == 200

        await eventually(served, timeout=10)
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        data_version = health.json()["components"]["data_version"]
        assert data_version["version"] >= 1
        assert data_version["age_seconds"] >= 0
        assert data_version["build_id"]

"""GET /search on the PostgreSQL backend through the app while a publish swaps the
artifacts: every answer comes from one complete index (the old or the new one)."""

from __future__ import annotations

import threading

import anyio
import pytest

from api.main import create_app
from moviemetric.config import Settings
from moviemetric.warehouse import open_warehouse
from tests.api.conftest import running
from transform import run_transform

pytestmark = pytest.mark.anyio

INTERSTELLAR = 900003


async def test_searches_during_a_publish_see_a_complete_index(search_warehouse):
    (catalog,) = search_warehouse.query("select count(*) from artifacts.search_documents")[0]
    app = create_app(Settings(database_url=search_warehouse.url, redis_url=None))
    outcome: dict[str, object] = {}
    done = threading.Event()

    def publish() -> None:
        try:
            outcome["summary"] = run_transform(open_warehouse(search_warehouse.settings))
        except Exception as exc:  # re-raised below
            outcome["error"] = exc
        finally:
            done.set()

    async with running(app) as client:
        version_before = app.state.versions.version
        versions_seen: set[int | None] = set()
        worker = threading.Thread(target=publish)
        worker.start()
        searches = 0
        while not done.is_set() or app.state.versions.version == version_before:
            # a distinct limit each time, so the cache never answers
            limit = 1 + searches % 100
            everything = await client.get("/search", params={"limit": limit, "offset": searches})
            found = await client.get("/search", params={"q": "interstelar", "limit": limit})
            assert everything.status_code == found.status_code == 200
            body = everything.json()
            assert body["total"] == catalog
            assert sum(body["facets"]["decades"].values()) <= catalog
            assert found.json()["items"][0]["id"] == INTERSTELLAR
            versions_seen.add(app.state.versions.version)
            searches += 1
            await anyio.sleep(0.01)
            if searches > 5000:
                pytest.fail("the publish did not become visible")
        worker.join(timeout=60)
        after = await client.get("/search", params={"q": "interstelar"})
        assert after.json()["items"][0]["id"] == INTERSTELLAR
    if "error" in outcome:
        raise outcome["error"]
    assert outcome["summary"].version == version_before + 1
    assert version_before in versions_seen and searches > 10

"""``api.fast_path``: GET /movies/{movie_id} answered before FastAPI, with FastAPI's bytes.

The layer is run on the published dataset with the app's own pool and data-version
tracker; what it hands on to FastAPI is caught by a recording app in its place.
"""

from __future__ import annotations

import functools

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from api.fast_path import ROUTE_PATH, MovieFastPath, single_valued
from api.main import create_app
from api.routes import movies
from moviemetric.config import Settings
from tests.api.conftest import running

pytestmark = pytest.mark.anyio


class RecordingApp:
    """Stands in for FastAPI behind the layer: answers 418 and records the paths."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"] + ("?" + scope["query_string"].decode()))
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"fastapi"})


def _sample_movie_ids(warehouse) -> list[int]:
    """Movies of every kind the body shows: trending and not, non-ASCII titles, no
    release date, no keywords."""
    rows = warehouse.execute(
        "(select movie_id from artifacts.movie_catalog order by popularity desc limit 5) "
        "union (select movie_id from artifacts.movie_catalog order by popularity limit 5) "
        "union (select movie_id from artifacts.movie_catalog where title !~ '^[ -~]*$' limit 5) "
        "union (select movie_id from artifacts.movie_catalog where release_date is null limit 3) "
        "union (select movie_id from artifacts.movie_catalog "
        "where coalesce(cardinality(keywords), 0) = 0 limit 3)"
    ).fetchall()
    return sorted(row["movie_id"] for row in rows)


async def test_a_movie_has_the_same_bytes_as_fastapis_route(published_url, warehouse):
    app = create_app(Settings(database_url=published_url))
    fastapi_alone = httpx.ASGITransport(app=functools.partial(FastAPI.__call__, app))
    ids = _sample_movie_ids(warehouse)
    assert len(ids) >= 10
    async with (
        running(app) as client,
        httpx.AsyncClient(transport=fastapi_alone, base_url="http://api.test") as route,
    ):
        for movie_id in ids:
            fast = await client.get(f"/movies/{movie_id}")
            slow = await route.get(f"/movies/{movie_id}")
            assert fast.status_code == slow.status_code == 200, movie_id
            assert fast.content == slow.content, movie_id
            assert fast.headers["content-type"] == slow.headers["content-type"]
            assert fast.json()["id"] == movie_id


async def test_plain_requests_are_answered_and_the_rest_go_on_to_fastapi(published_url, warehouse):
    app = create_app(Settings(database_url=published_url))
    inner = RecordingApp()
    layer = MovieFastPath(
        inner, pool=app.state.pool, versions=app.state.versions, routes=movies.router.routes
    )
    known = _sample_movie_ids(warehouse)[0]
    (unknown,) = (
        warehouse.execute("select max(movie_id) + 1 as id from artifacts.movie_catalog")
        .fetchone()
        .values()
    )
    async with (
        running(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=layer), base_url="http://api.test"
        ) as client,
    ):
        for path in (f"/movies/{known}", f"/movies/{known}?bench=1", f"/movies/{known}?a=1&b=1"):
            response = await client.get(path)
            assert response.status_code == 200, path
            assert response.json()["id"] == known
        assert inner.paths == []
        handed_on = [
            f"/movies/{unknown}",  # FastAPI's 404
            f"/movies/{known}?a=1&a=2",  # FastAPI's 422 naming the repeated parameter
            f"/movies/0{known}",
            "/movies/0",
            f"/movies/{2**63}",
            f"/movies/-{known}",
            "/movies/trending",
            f"/movies/{known}/recommendations",
        ]
        for path in handed_on:
            response = await client.get(path)
            assert (response.status_code, response.content) == (418, b"fastapi"), path
        assert (await client.post(f"/movies/{known}")).status_code == 418
    assert inner.paths == [
        *(path if "?" in path else path + "?" for path in handed_on),
        f"/movies/{known}?",
    ]


async def test_the_largest_id_is_answered_by_the_layer(published_url):
    app = create_app(Settings(database_url=published_url))
    inner = RecordingApp()
    layer = MovieFastPath(
        inner, pool=app.state.pool, versions=app.state.versions, routes=movies.router.routes
    )
    scope = {"type": "http", "method": "GET", "path": f"/movies/{2**63 - 1}", "query_string": b""}
    async with running(app):
        assert layer.movie_id(scope) == 2**63 - 1


async def test_requests_it_answers_are_counted_under_the_route(published_url, warehouse):
    known = _sample_movie_ids(warehouse)[0]
    async with running(create_app(Settings(database_url=published_url))) as client:
        assert (await client.get(f"/movies/{known}")).status_code == 200
        assert (await client.head(f"/movies/{known}?x=1")).status_code == 200
        assert (await client.get(f"/movies/{known}")).headers["x-cache"] == "hit"
        text = (await client.get("/metrics")).text
    for method, count in (("GET", 2), ("HEAD", 1)):
        labels = f'method="{method}",route="{ROUTE_PATH}",status="200"'
        assert f"moviemetric_api_requests_total{{{labels}}} {count}.0" in text, labels


def test_single_valued_parses_the_query_as_starlette_does():
    assert single_valued(b"a=1&b=2&c")
    assert single_valued(b"a=1") and single_valued(b"a=1;a=2")  # ";" separates nothing
    assert not single_valued(b"a=1&a=2")
    assert not single_valued(b"a&a=")  # blank values count
    assert not single_valued(b"a=1&%61=2")  # the same name, escaped

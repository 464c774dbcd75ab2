"""GET /search with MEILI_URL set: the API over the Meilisearch backend, at the HTTP level.

Meilisearch is the recording server of tests/search/meili_server.py (it ranks nothing:
a test gives it the response); the items come from the real published catalog, in the
order Meilisearch ranked them, in the same shape as /movies items.
"""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from api.main import create_app
from moviemetric.config import Settings
from tests.api.conftest import running
from tests.search.meili_server import FakeMeili

pytestmark = pytest.mark.anyio


@pytest.fixture
def meili(httpserver: HTTPServer) -> FakeMeili:
    fake = FakeMeili(httpserver).install()
    fake.indexes["movies"] = {"primaryKey": "movie_id", "documents": {}, "settings": {}}
    return fake


async def test_search_items_follow_meilisearch_order_with_the_movies_shape(
    meili: FakeMeili, published_url: str, warehouse
) -> None:
    ids = [
        row["movie_id"]
        for row in warehouse.execute(
            "select movie_id from artifacts.movie_catalog"
            " order by popularity nulls last, movie_id limit 3"
        ).fetchall()
    ]
    meili.search_response = {
        "hits": [{"movie_id": movie_id} for movie_id in reversed(ids)],
        "query": "night",
        "processingTimeMs": 1,
        "limit": 3,
        "offset": 0,
        "estimatedTotalHits": 41,
        "facetDistribution": {"genres": {"Drama": 30}, "release_decade": {"1990": 12}},
    }
    settings = Settings(database_url=published_url, meili_url=meili.url)

    async with running(create_app(settings)) as client:
        response = await client.get("/search", params={"q": "night", "limit": 3})
        listed = await client.get("/movies", params={"sort": "popularity", "limit": 3})

    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["items"]] == list(reversed(ids))
    by_id = {item["id"]: item for item in listed.json()["items"]}
    assert body["items"] == [by_id[movie_id] for movie_id in reversed(ids)]
    assert body["total"] == 41
    assert body["facets"] == {"genres": {"Drama": 30}, "decades": {"1990": 12}}
    (search,) = [r for r in meili.requests if r.path == "/indexes/movies/search"]
    assert search.body["q"] == "night"


async def test_an_unreachable_meilisearch_is_a_503_naming_search(published_url: str) -> None:
    settings = Settings(database_url=published_url, meili_url="http://127.0.0.1:9")

    async with running(create_app(settings)) as client:
        response = await client.get("/search", params={"q": "night"})
        movies = await client.get("/movies", params={"limit": 1})

    assert response.status_code == 503
    assert response.json()["detail"].startswith("search unavailable: Meilisearch search failed")
    assert response.headers["retry-after"] == "5"
    assert movies.status_code == 200  # the rest of the API is unaffected

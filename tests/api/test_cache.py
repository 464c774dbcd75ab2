"""The response cache: hits, ETag/304, single-flight, and invalidation on publish."""

from __future__ import annotations

import anyio
import pytest

from tests.api.conftest import eventually
from tests.api.published_dataset import bump_data_version

pytestmark = pytest.mark.anyio


async def test_second_request_is_a_hit_with_the_same_bytes_and_etag(client):
    first = await client.get("/movies", params={"limit": 3, "sort": "title"})
    second = await client.get("/movies", params={"sort": "title", "limit": 3})  # same, reordered
    assert first.status_code == second.status_code == 200
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["cache-control"] == "public, max-age=60"
    assert second.headers["content-type"] == "application/json"


async def test_if_none_match_gets_304_without_body(client):
    first = await client.get("/analytics/ratings-by-decade")
    etag = first.headers["etag"]
    for _ in range(2):  # the miss path and the hit path
        response = await client.get(
            "/analytics/ratings-by-decade", headers={"if-none-match": f'W/"x", {etag}'}
        )
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == etag
    other = await client.get("/analytics/ratings-by-decade", headers={"if-none-match": '"x"'})
    assert other.status_code == 200 and other.content == first.content


async def test_errors_are_not_cached(client):
    for _ in range(2):
        response = await client.get("/movies/999999998")
        assert response.status_code == 404
        assert "x-cache" not in response.headers


async def test_concurrent_misses_fill_the_key_once(client):
    responses = []

    async def fetch() -> None:
        responses.append(await client.get("/movies", params={"genre": "comedy", "limit": 11}))

    async with anyio.create_task_group() as group:
        for _ in range(12):
            group.start_soon(fetch)
    assert [response.status_code for response in responses] == [200] * 12
    assert sorted(response.headers["x-cache"] for response in responses) == ["hit"] * 11 + ["miss"]
    assert len({response.content for response in responses}) == 1


async def test_publish_makes_cached_responses_unreachable(client, warehouse):
    async def decades() -> bytes:
        return (await client.get("/analytics/ratings-by-decade")).content

    before = await decades()
    assert (await client.get("/analytics/ratings-by-decade")).headers["x-cache"] == "hit"
    decade = warehouse.execute(
        "select min(decade) as d from artifacts.ratings_by_decade"
    ).fetchone()
    try:
        warehouse.execute(
            "update artifacts.ratings_by_decade set total_votes = total_votes + 1000 "
            "where decade = %s",
            (decade["d"],),
        )
        assert await decades() == before, "without a publish the cached bytes are served"
        bump_data_version(warehouse)

        async def changed() -> bytes | None:
            """the new version's bytes are served"""
            body = await decades()
            return body if body != before else None

        after = await eventually(changed, timeout=10)
        first_total = (await client.get("/analytics/ratings-by-decade")).json()["items"][0]
        expected = warehouse.execute(
            "select total_votes from artifacts.ratings_by_decade where decade = %s",
            (decade["d"],),
        ).fetchone()
        assert first_total["total_votes"] == expected["total_votes"]
        assert after != before
    finally:
        warehouse.execute(
            "update artifacts.ratings_by_decade set total_votes = total_votes - 1000 "
            "where decade = %s",
            (decade["d"],),
        )
        bump_data_version(warehouse)


async def test_a_publish_without_notification_is_found_by_the_poll(client, warehouse):
    """LISTEN is the fast path; the short poll of ops.data_version is the fallback."""
    first = await client.get("/movies", params={"limit": 2, "sort": "-votes"})
    assert (await client.get("/movies", params={"limit": 2, "sort": "-votes"})).headers[
        "x-cache"
    ] == "hit"
    warehouse.execute("update ops.data_version set version = version + 1, published_at = now()")

    async def missed() -> bool:
        """the next request misses: the new version was noticed"""
        response = await client.get("/movies", params={"limit": 2, "sort": "-votes"})
        assert response.content == first.content  # same data, new version
        return response.headers["x-cache"] == "miss"

    await eventually(missed, timeout=10, interval=0.1)

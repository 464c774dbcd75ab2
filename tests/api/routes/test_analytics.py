"""GET /analytics/top-genres and /analytics/ratings-by-decade against the artifacts."""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.anyio


def _number(value) -> float | None:
    return None if value is None else float(value)


async def test_top_genres_default_latest_day_by_movie_count(client, warehouse):
    latest = warehouse.execute(
        "select max(stat_date) as day from artifacts.genre_stats_daily"
    ).fetchone()["day"]
    rows = warehouse.execute(
        "select * from artifacts.genre_stats_daily where stat_date = %s "
        "order by movie_count desc, genre_id limit 5",
        (latest,),
    ).fetchall()
    response = await client.get("/analytics/top-genres", params={"limit": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["date"] == latest.isoformat()
    assert len(body["items"]) == 5
    for item, row in zip(body["items"], rows, strict=True):
        assert item == {
            "genre_id": row["genre_id"],
            "genre_name": row["genre_name"],
            "movie_count": row["movie_count"],
            "rated_movie_count": row["rated_movie_count"],
            "avg_rating": _number(row["avg_rating"]),
            "total_votes": row["total_votes"],
            "avg_popularity": _number(row["avg_popularity"]),
            "new_release_count": row["new_release_count"],
        }


async def test_top_genres_of_a_day_sorted_by_total_votes(client, warehouse):
    earliest = warehouse.execute(
        "select min(stat_date) as day from artifacts.genre_stats_daily"
    ).fetchone()["day"]
    expected = warehouse.execute(
        "select genre_id from artifacts.genre_stats_daily where stat_date = %s "
        "order by total_votes desc nulls last, genre_id",
        (earliest,),
    ).fetchall()
    body = (
        await client.get(
            "/analytics/top-genres",
            params={"date": earliest.isoformat(), "sort": "total_votes", "limit": 100},
        )
    ).json()
    assert body["date"] == earliest.isoformat()
    assert [item["genre_id"] for item in body["items"]] == [row["genre_id"] for row in expected]


async def test_top_genres_of_a_day_without_data_is_that_day_and_no_items(client, warehouse):
    earliest = warehouse.execute(
        "select min(stat_date) as day from artifacts.genre_stats_daily"
    ).fetchone()["day"]
    empty_day = earliest - dt.timedelta(days=365)
    response = await client.get("/analytics/top-genres", params={"date": empty_day.isoformat()})
    assert response.status_code == 200
    assert response.json() == {"date": empty_day.isoformat(), "items": []}


async def test_ratings_by_decade_lists_every_decade_in_order(client, warehouse):
    rows = warehouse.execute("select * from artifacts.ratings_by_decade order by decade").fetchall()
    response = await client.get("/analytics/ratings-by-decade")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["decade"] for item in items] == [row["decade"] for row in rows]
    for item, row in zip(items, rows, strict=True):
        assert item["movie_count"] == row["movie_count"]
        assert item["rated_movie_count"] == row["rated_movie_count"]
        assert item["avg_rating"] == _number(row["avg_rating"])
        assert item["weighted_rating"] == _number(row["weighted_rating"])
        assert item["total_votes"] == row["total_votes"]

"""GET /analytics/top-genres, /analytics/genre-stats and /analytics/ratings-by-decade
against the artifacts."""

from __future__ import annotations

import datetime as dt

import pytest

from api.routes.analytics import GENRE_STATS_MAX_DAYS

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


def _series_item(row: dict) -> dict:
    return {
        "genre_id": row["genre_id"],
        "genre_name": row["genre_name"],
        "movie_count": row["movie_count"],
        "rated_movie_count": row["rated_movie_count"],
        "avg_rating": _number(row["avg_rating"]),
        "total_votes": row["total_votes"],
        "avg_popularity": _number(row["avg_popularity"]),
        "new_release_count": row["new_release_count"],
        "stat_date": row["stat_date"].isoformat(),
    }


async def test_genre_stats_default_is_every_day_held_up_to_the_latest(client, warehouse):
    rows = warehouse.execute(
        "select * from artifacts.genre_stats_daily order by stat_date, genre_name, genre_id"
    ).fetchall()
    latest = max(row["stat_date"] for row in rows)
    response = await client.get("/analytics/genre-stats")
    assert response.status_code == 200
    body = response.json()
    assert body["to"] == latest.isoformat()
    assert body["from"] == (latest - dt.timedelta(days=GENRE_STATS_MAX_DAYS - 1)).isoformat()
    assert body["items"] == [_series_item(row) for row in rows]
    assert len({item["stat_date"] for item in body["items"]}) > 1, "the dataset has a series"


async def test_genre_stats_of_one_genre_in_a_window(client, warehouse):
    days = [
        row["stat_date"]
        for row in warehouse.execute(
            "select distinct stat_date from artifacts.genre_stats_daily order by stat_date"
        ).fetchall()
    ]
    first, last = days[1], days[-1]
    rows = warehouse.execute(
        "select * from artifacts.genre_stats_daily where genre_id = 18 "
        "and stat_date between %s and %s order by stat_date",
        (first, last),
    ).fetchall()
    response = await client.get(
        "/analytics/genre-stats",
        params={"from": first.isoformat(), "to": last.isoformat(), "genre": "drama"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "items": [_series_item(row) for row in rows],
    }


async def test_genre_stats_from_alone_ends_at_the_latest_day(client, warehouse):
    latest = warehouse.execute(
        "select max(stat_date) as day from artifacts.genre_stats_daily"
    ).fetchone()["day"]
    count = warehouse.execute(
        "select count(*) as n from artifacts.genre_stats_daily where stat_date = %s", (latest,)
    ).fetchone()["n"]
    body = (await client.get("/analytics/genre-stats", params={"from": latest.isoformat()})).json()
    assert (body["from"], body["to"]) == (latest.isoformat(), latest.isoformat())
    assert len(body["items"]) == count


async def test_genre_stats_from_alone_long_ago_is_a_bounded_window(client):
    body = (await client.get("/analytics/genre-stats", params={"from": "2000-01-01"})).json()
    last = dt.date(2000, 1, 1) + dt.timedelta(days=GENRE_STATS_MAX_DAYS - 1)
    assert body == {"from": "2000-01-01", "to": last.isoformat(), "items": []}


@pytest.mark.parametrize(
    ("params", "parameter", "words"),
    [
        ({"from": "2026-01-17", "to": "2026-01-15"}, "from", "on or before `to`"),
        ({"from": "2024-12-31", "to": "2026-01-01"}, "to", f"at most {GENRE_STATS_MAX_DAYS}"),
        ({"to": "2026-01-99"}, "to", "valid date"),
        ({"to": "0001-01-01"}, "to", "greater than or equal to 1900-01-01"),
        ({"genre": "Space Opera"}, "genre", "known genres: Action"),
    ],
)
async def test_genre_stats_bad_parameters_are_a_422_naming_them(client, params, parameter, words):
    response = await client.get("/analytics/genre-stats", params=params)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", parameter]
    assert words in error["msg"]


async def test_genre_stats_window_of_the_longest_span_is_served(client):
    first = dt.date(2026, 1, 17) - dt.timedelta(days=GENRE_STATS_MAX_DAYS - 1)
    response = await client.get(
        "/analytics/genre-stats", params={"from": first.isoformat(), "to": "2026-01-17"}
    )
    assert response.status_code == 200


async def test_genre_stats_is_cached_until_the_next_publish(client):
    first = await client.get("/analytics/genre-stats", params={"genre": "18"})
    second = await client.get("/analytics/genre-stats", params={"genre": "18"})
    assert second.headers["x-cache"] == "hit"
    assert second.headers["etag"] == first.headers["etag"]
    assert second.json() == first.json()

"""GET /movies, /movies/{id}, /movies/trending and recommendations, against the artifacts."""

from __future__ import annotations

import base64
import datetime as dt

import psycopg
import pytest
from psycopg import sql

from moviemetric.ops import API_ROLE
from tests.conftest import MOVIE_SUMMARY_KEYS

pytestmark = pytest.mark.anyio

SUMMARY_FIELDS = (
    "title",
    "original_title",
    "release_year",
    "genres",
    "vote_count",
    "poster_path",
)


def _as_float(value) -> float | None:
    return None if value is None else float(value)


def _assert_summary(item: dict, row: dict) -> None:
    assert item["id"] == row["movie_id"]
    for field in SUMMARY_FIELDS:
        assert item[field] == row[field], field
    release_date = row["release_date"]
    assert item["release_date"] == (release_date.isoformat() if release_date else None)
    assert item["vote_average"] == _as_float(row["vote_average"])
    assert item["popularity"] == _as_float(row["popularity"])


async def test_list_movies_default_is_most_popular_first(client, warehouse):
    response = await client.get("/movies")
    assert response.status_code == 200
    body = response.json()
    rows = warehouse.execute(
        "select * from artifacts.movie_catalog order by popularity desc, movie_id limit 20"
    ).fetchall()
    total = warehouse.execute("select count(*) as n from artifacts.movie_catalog").fetchone()
    assert (body["total"], body["limit"], body["offset"]) == (total["n"], 20, 0)
    assert [item["id"] for item in body["items"]] == [row["movie_id"] for row in rows]
    for item, row in zip(body["items"], rows, strict=True):
        _assert_summary(item, row)


async def test_list_movies_filters_by_genre_name_any_case_or_id(client, warehouse):
    expected = warehouse.execute(
        "select movie_id from artifacts.movie_catalog where 'Drama' = any(genres) "
        "order by popularity desc, movie_id"
    ).fetchall()
    assert expected, "the dataset must have dramas"
    by_name = (await client.get("/movies", params={"genre": "dRaMa", "limit": 100})).json()
    by_id = (await client.get("/movies", params={"genre": "18", "limit": 100})).json()
    assert [item["id"] for item in by_name["items"]] == [row["movie_id"] for row in expected][:100]
    assert by_id["items"] == by_name["items"]
    assert by_name["total"] == len(expected)
    assert all("Drama" in item["genres"] for item in by_name["items"])


async def test_list_movies_filters_by_year_and_min_rating_and_sorts(client, warehouse):
    expected = warehouse.execute(
        "select movie_id from artifacts.movie_catalog "
        "where release_year = 2013 and vote_average >= 5 order by title desc, movie_id"
    ).fetchall()
    response = await client.get(
        "/movies", params={"year": 2013, "min_rating": 5, "sort": "-title", "limit": 100}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == len(expected) > 0
    assert [item["id"] for item in body["items"]] == [r["movie_id"] for r in expected][:100]


async def test_list_movies_pages_with_limit_and_offset(client, warehouse):
    ids = [
        row["movie_id"]
        for row in warehouse.execute(
            "select movie_id from artifacts.movie_catalog order by vote_count, movie_id"
        ).fetchall()
    ]
    page = (await client.get("/movies", params={"sort": "votes", "limit": 7, "offset": 7})).json()
    assert [item["id"] for item in page["items"]] == ids[7:14]
    assert (page["limit"], page["offset"], page["total"]) == (7, 7, len(ids))
    beyond = (await client.get("/movies", params={"offset": 10_000})).json()
    assert beyond["items"] == [] and beyond["total"] == len(ids)


SORT_COLUMNS = {
    "popularity": "popularity",
    "rating": "vote_average",
    "votes": "vote_count",
    "release_date": "release_date",
    "title": "title",
}


async def _walk_by_cursor(client, params: dict) -> tuple[list[int], int]:
    """Every movie id, following next_cursor from the first page; and the pages read."""
    ids, pages, cursor = [], 0, None
    while True:
        response = await client.get(
            "/movies", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            assert len(body["items"]) <= params["limit"]
            return ids, pages
        assert len(body["items"]) == params["limit"]


@pytest.mark.parametrize("sort", [f"{sign}{key}" for key in SORT_COLUMNS for sign in ("", "-")])
async def test_list_movies_by_cursor_visits_every_movie_once_in_order(client, warehouse, sort):
    """Following next_cursor gives the catalog in the sort's order (nulls last, then id),
    every movie once, the null values included, in pages of the limit."""
    column = SORT_COLUMNS[sort.lstrip("-")]
    direction = "desc" if sort.startswith("-") else "asc"
    expected = [
        row["movie_id"]
        for row in warehouse.execute(
            sql.SQL(
                "select movie_id from artifacts.movie_catalog order by {} {} nulls last, movie_id"
            ).format(sql.Identifier(column), sql.SQL(direction))
        ).fetchall()
    ]
    ids, pages = await _walk_by_cursor(client, {"sort": sort, "limit": 100})
    assert ids == expected
    assert pages == len(expected) // 100 + 1


async def test_list_movies_by_cursor_keeps_the_filters(client, warehouse):
    """(Null sort values are paged in tests/api/test_repositories.py: this catalog has none.)"""
    rows = warehouse.execute(
        "select movie_id from artifacts.movie_catalog where 'Drama' = any(genres) "
        "order by release_date desc nulls last, movie_id"
    ).fetchall()
    ids, _pages = await _walk_by_cursor(
        client, {"genre": "drama", "sort": "-release_date", "limit": 7}
    )
    assert ids == [row["movie_id"] for row in rows]
    assert len(ids) > 7


def _cursor(text: str) -> str:
    """A cursor as the API encodes one, around any JSON text."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def test_list_movies_cursor_errors_name_the_cursor(client):
    first = (await client.get("/movies", params={"sort": "votes", "limit": 5})).json()
    cursor = first["next_cursor"]
    assert cursor
    cases = {
        "given with an offset": {"sort": "votes", "cursor": cursor, "offset": 5},
        "made for another sort": {"sort": "-votes", "cursor": cursor},
        "not base64 JSON": {"sort": "votes", "cursor": "not-a-cursor"},
        "a wrong value type": {"sort": "votes", "cursor": "WyJ2b3RlcyIsIngiLDFd"},
        # values PostgreSQL or the driver would refuse: a 422, never a 500
        "a float out of range": {
            "sort": "popularity",
            "cursor": _cursor(f'["popularity",{"9" * 400},1]'),
        },
        "a NaN": {"sort": "rating", "cursor": _cursor('["rating",NaN,1]')},
        "a count past bigint": {"sort": "votes", "cursor": _cursor(f'["votes",{2**64},1]')},
        "a lone surrogate": {"sort": "title", "cursor": _cursor('["title","\\ud800",1]')},
        "an id past bigint": {"sort": "votes", "cursor": _cursor(f'["votes",1,{2**63}]')},
    }
    for case, params in cases.items():
        response = await client.get("/movies", params=params)
        assert response.status_code == 422, case
        (error,) = response.json()["detail"]
        assert error["loc"] == ["query", "cursor"], case
    second = await client.get("/movies", params={"sort": "votes", "limit": 5, "cursor": cursor})
    assert second.status_code == 200
    assert second.json()["offset"] == 0


async def test_list_movies_page_past_the_end_still_has_the_filtered_total(client, warehouse):
    dramas = warehouse.execute(
        "select count(*) as n from artifacts.movie_catalog where 'Drama' = any(genres)"
    ).fetchone()["n"]
    response = await client.get("/movies", params={"genre": "drama", "offset": dramas})
    assert response.status_code == 200
    body = response.json()
    assert (body["items"], body["total"], body["offset"]) == ([], dramas, dramas)
    assert dramas > 0


@pytest.mark.parametrize("genre", ["Space Opera", "999999", "²", "dramas"])
async def test_list_movies_unknown_genre_is_a_422_listing_the_known_ones(client, warehouse, genre):
    known = [
        row["genre_name"]
        for row in warehouse.execute(
            "select distinct genre_name from artifacts.genre_stats_daily order by genre_name"
        )
    ]
    response = await client.get("/movies", params={"genre": genre})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "genre"]
    assert error["msg"].endswith("known genres: " + ", ".join(known))
    assert "Drama" in known


async def test_get_movie_has_the_summary_fields_then_keywords_stats_and_trending(client, warehouse):
    latest = warehouse.execute(
        "select max(trend_date) as day from artifacts.movie_trending_daily"
    ).fetchone()["day"]
    trend = warehouse.execute(
        "select * from artifacts.movie_trending_daily where trend_date = %s and rank = 1",
        (latest,),
    ).fetchone()
    row = warehouse.execute(
        "select * from artifacts.movie_catalog where movie_id = %s", (trend["movie_id"],)
    ).fetchone()
    response = await client.get(f"/movies/{row['movie_id']}")
    assert response.status_code == 200
    movie = response.json()
    assert movie["id"] == row["movie_id"]
    for field in ("title", "overview", "original_language", "genres", "keywords", "imdb_id"):
        assert movie[field] == row[field], field
    assert movie["genre_ids"] == row["genre_ids"]
    _assert_summary(movie, row)
    for field in ("runtime", "budget", "revenue", "status"):
        assert movie[field] == row[field], field
    assert movie["trending"] == {
        "date": latest.isoformat(),
        "rank": 1,
        "score": float(trend["score"]),
    }


async def test_get_movie_not_trending_has_null_trending(client, warehouse):
    row = warehouse.execute(
        "select movie_id from artifacts.movie_catalog where movie_id not in ("
        "select movie_id from artifacts.movie_trending_daily "
        "where trend_date = (select max(trend_date) from artifacts.movie_trending_daily)) "
        "limit 1"
    ).fetchone()
    movie = (await client.get(f"/movies/{row['movie_id']}")).json()
    assert movie["trending"] is None


async def test_get_unknown_movie_is_404(client, warehouse):
    missing = warehouse.execute(
        "select max(movie_id) + 1 as id from artifacts.movie_catalog"
    ).fetchone()["id"]
    response = await client.get(f"/movies/{missing}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"movie {missing} not found"}


async def test_trending_defaults_to_latest_day(client, warehouse):
    latest = warehouse.execute(
        "select max(trend_date) as day from artifacts.movie_trending_daily"
    ).fetchone()["day"]
    rows = warehouse.execute(
        "select trend.*, movie.title from artifacts.movie_trending_daily as trend "
        "join artifacts.movie_catalog as movie using (movie_id) "
        "where trend_date = %s order by rank limit 5",
        (latest,),
    ).fetchall()
    response = await client.get("/movies/trending", params={"limit": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["date"] == latest.isoformat()
    assert [item["rank"] for item in body["items"]] == [1, 2, 3, 4, 5]
    for item, row in zip(body["items"], rows, strict=True):
        assert item["id"] == row["movie_id"]
        assert item["title"] == row["title"]
        assert item["score"] == float(row["score"])
        assert item["momentum"] == _as_float(row["momentum"])
        assert item["popularity"] == _as_float(row["popularity"])  # as of the trend date
        assert item["avg_popularity_7d"] == _as_float(row["avg_popularity_7d"])


async def test_trending_of_an_earlier_day_and_of_a_day_without_data(client, warehouse):
    earliest = warehouse.execute(
        "select min(trend_date) as day from artifacts.movie_trending_daily"
    ).fetchone()["day"]
    expected = warehouse.execute(
        "select movie_id from artifacts.movie_trending_daily where trend_date = %s order by rank",
        (earliest,),
    ).fetchall()
    body = (await client.get("/movies/trending", params={"date": earliest.isoformat()})).json()
    assert body["date"] == earliest.isoformat()
    assert [item["id"] for item in body["items"]] == [row["movie_id"] for row in expected][:20]
    empty_day = earliest - dt.timedelta(days=365)
    empty = (await client.get("/movies/trending", params={"date": empty_day.isoformat()})).json()
    assert empty == {"date": empty_day.isoformat(), "items": []}


async def test_trending_is_not_captured_by_the_movie_id_route(client):
    response = await client.get("/movies/trending")
    assert response.status_code == 200
    assert set(response.json()) == {"date", "items"}


async def test_recommendations_in_rank_order(client, warehouse):
    source = warehouse.execute(
        "select movie_id from artifacts.movie_recommendations order by movie_id limit 1"
    ).fetchone()["movie_id"]
    rows = warehouse.execute(
        "select rec.*, movie.title from artifacts.movie_recommendations as rec "
        "join artifacts.movie_catalog as movie on movie.movie_id = rec.recommended_movie_id "
        "where rec.movie_id = %s order by rank",
        (source,),
    ).fetchall()
    response = await client.get(f"/movies/{source}/recommendations")
    assert response.status_code == 200
    body = response.json()
    assert body["movie_id"] == source
    assert len(body["items"]) == len(rows) > 0
    for item, row in zip(body["items"], rows, strict=True):
        assert item["id"] == row["recommended_movie_id"] != source
        assert (item["rank"], item["reason"], item["title"]) == (
            row["rank"],
            row["reason"],
            row["title"],
        )
        assert item["score"] == float(row["score"])
        assert item["shared_genre_count"] == row["shared_genre_count"]


async def test_recommendations_of_unknown_movie_is_404_and_known_without_any_is_empty(
    client, warehouse
):
    # every sandbox movie shares a feature with another (a director at least), so one
    # movie's list is taken out for the request and put back
    lonely = warehouse.execute(
        "select max(movie_id) as movie_id from artifacts.movie_recommendations"
    ).fetchone()["movie_id"]
    with warehouse.transaction():
        rows = warehouse.execute(
            "delete from artifacts.movie_recommendations where movie_id = %s returning *",
            (lonely,),
        ).fetchall()
    assert rows
    try:
        assert (await client.get(f"/movies/{lonely}/recommendations")).json()["items"] == []
    finally:
        with warehouse.transaction(), warehouse.cursor() as cursor:
            columns = list(rows[0])
            cursor.executemany(
                sql.SQL("insert into artifacts.movie_recommendations ({}) values ({})").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.SQL(", ").join([sql.Placeholder()] * len(columns)),
                ),
                [tuple(row[column] for column in columns) for row in rows],
            )
    response = await client.get("/movies/999999999/recommendations")
    assert response.status_code == 404
    assert response.json() == {"detail": "movie 999999999 not found"}


@pytest.mark.parametrize("unpublished", ["marts.dim_movies", "raw_tmdb.movies"])
def test_api_role_cannot_read_unpublished_tables(published_url, unpublished):
    """The role every pooled API connection takes sees only what is published."""
    with psycopg.connect(published_url, autocommit=True) as conn:
        use_api_role = sql.SQL("set role {}").format(sql.Identifier(API_ROLE))
        conn.execute(use_api_role)
        assert conn.execute("select count(*) from artifacts.movie_catalog").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                sql.SQL("select * from {} limit 1").format(sql.Identifier(*unpublished.split(".")))
            )


async def test_a_movie_has_one_shape_in_every_endpoint(client, warehouse):
    """The fields of a /movies item come first, named and ordered the same, wherever a
    movie is returned; an endpoint only adds its own fields after them."""
    source = warehouse.execute(
        "select movie_id from artifacts.movie_recommendations order by movie_id limit 1"
    ).fetchone()["movie_id"]
    listed = (await client.get("/movies", params={"limit": 5})).json()["items"]
    trending = (await client.get("/movies/trending", params={"limit": 5})).json()["items"]
    recommended = (await client.get(f"/movies/{source}/recommendations")).json()["items"]
    detail = (await client.get(f"/movies/{source}")).json()
    assert listed and trending and recommended
    movies = {
        "/movies": listed,
        "/movies/trending": trending,
        "recommendations": recommended,
        "/movies/{movie_id}": [detail],
    }
    for endpoint, items in movies.items():
        for item in items:
            assert list(item)[: len(MOVIE_SUMMARY_KEYS)] == MOVIE_SUMMARY_KEYS, endpoint
    assert "stats" not in detail
    assert {"keywords", "genre_ids", "runtime", "budget", "revenue"} <= set(detail)
    # The same movie carries the same values in the catalog and in its detail.
    for item in listed:
        one = (await client.get(f"/movies/{item['id']}")).json()
        assert {key: one[key] for key in MOVIE_SUMMARY_KEYS} == item


@pytest.mark.parametrize(
    ("path", "query", "parameter"),
    [
        ("/movies", "genre=Drama&genre=Horror", "genre"),
        ("/movies", "limit=5&sort=title&limit=6", "limit"),
        ("/movies", "year=2013&year=2013", "year"),
        ("/movies/trending", "date=2026-01-15&date=2026-01-16", "date"),
        ("/movies/{movie_id}/recommendations", "limit=1&limit=2", "limit"),
        ("/analytics/top-genres", "sort=movie_count&sort=avg_rating", "sort"),
    ],
)
async def test_a_repeated_query_parameter_is_422_naming_it(
    client, warehouse, path, query, parameter
):
    """Never silently the last value: every query parameter takes one value."""
    movie_id = warehouse.execute(
        "select movie_id from artifacts.movie_recommendations order by movie_id limit 1"
    ).fetchone()["movie_id"]
    for _ in range(2):  # an error is never cached: the second answers the same
        response = await client.get(f"{path.format(movie_id=movie_id)}?{query}")
        assert response.status_code == 422
        errors = response.json()["detail"]
        assert [error["loc"] for error in errors] == [["query", parameter]]
        assert "more than once" in errors[0]["msg"]

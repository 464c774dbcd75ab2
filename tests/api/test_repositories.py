"""Each request reads the published data in exactly one statement.

A publish renames schemas between two statements of an autocommit connection, so a
request that ran two (a page, then its count; the latest day, then its rows) could mix
two data versions. The statements that read ``artifacts`` are recorded at psycopg's
cursor; the data-version listener reads only ``ops`` and is not counted.
"""

from __future__ import annotations

from typing import Any, NamedTuple, get_args

import psycopg
import pytest
import redis
from psycopg import AsyncCursor, sql

from api.cache import KEY_PREFIX
from api.repositories import MovieSort
from moviemetric.config import Settings
from moviemetric.warehouse import PUBLISHED_SCHEMA

pytestmark = pytest.mark.anyio

PUBLISHED_PREFIX = f'"{PUBLISHED_SCHEMA}".'


class Statement(NamedTuple):
    text: str
    params: Any


@pytest.fixture
def published_reads(monkeypatch: pytest.MonkeyPatch) -> list[Statement]:
    """Every statement that reads the published schema, with its parameters, in order."""
    statements: list[Statement] = []
    execute = AsyncCursor.execute

    async def recording_execute(self, query, params=None, **kwargs):
        text = query.as_string(self.connection) if isinstance(query, sql.Composable) else query
        if PUBLISHED_PREFIX in str(text):
            statements.append(Statement(str(text), params))
        return await execute(self, query, params, **kwargs)

    monkeypatch.setattr(AsyncCursor, "execute", recording_execute)
    return statements


@pytest.fixture
def empty_cache(api_settings: Settings) -> None:
    """No answer cached in Redis yet: earlier tests cached the same data version's."""
    if api_settings.redis_url is None:
        return  # the in-process cache is new with each app
    client = redis.Redis.from_url(api_settings.redis_url)
    try:
        for key in client.scan_iter(f"{KEY_PREFIX}:*"):
            client.delete(key)
    finally:
        client.close()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/movies", 200),
        ("/movies?genre=drama&offset=100000", 200),
        ("/movies/trending", 200),
        ("/movies/trending?date=2000-01-01", 200),
        ("/movies/{movie_id}", 200),
        ("/movies/{movie_id}/recommendations", 200),
        ("/movies/999999999/recommendations", 404),
        ("/analytics/top-genres", 200),
        ("/analytics/top-genres?date=2000-01-01", 200),
        ("/analytics/genre-stats", 200),
        ("/analytics/genre-stats?from=2000-01-01&genre=drama", 200),
        ("/analytics/ratings-by-decade", 200),
        ("/search", 200),
        ("/search?q=the%20silnet&genre=drama&decade=2020&offset=5000", 200),
    ],
)
async def test_a_request_reads_the_published_data_in_one_statement(
    empty_cache, client, warehouse, published_reads, path, status
):
    movie_id = warehouse.execute(
        "select movie_id from artifacts.movie_recommendations order by movie_id limit 1"
    ).fetchone()["movie_id"]
    response = await client.get(path.format(movie_id=movie_id))
    assert response.status_code == status
    assert response.headers.get("x-cache") != "hit"  # served by the routes, not the cache
    assert len(published_reads) == 1, published_reads


def _plan(warehouse: psycopg.Connection, statement: Statement, *disabled: str) -> list[str]:
    """EXPLAIN of a statement the API ran, with the planner's ``disabled`` methods off:
    one that is still chosen has no alternative."""
    with warehouse.transaction():
        for method in disabled:
            warehouse.execute(sql.SQL("set local {} = off").format(sql.Identifier(method)))
        rows = warehouse.execute(f"explain {statement.text}", statement.params).fetchall()
    return [row["QUERY PLAN"] for row in rows]


@pytest.mark.parametrize("sort", get_args(MovieSort))
async def test_every_movies_sort_order_is_read_from_an_index(
    memory_client, warehouse, published_reads, sort
):
    """With sorting disabled the planner still sorts only when no index has the order;
    the one sort allowed puts the page's rows back in their numbered order."""
    response = await memory_client.get("/movies", params={"sort": sort, "limit": 5})
    assert response.status_code == 200
    (statement,) = published_reads
    plan = _plan(warehouse, statement, "enable_sort", "enable_seqscan")
    sort_keys = [line.strip() for line in plan if "Sort Key:" in line]
    assert sort_keys == ["Sort Key: (row_number() OVER (?))"], "\n".join(plan)


@pytest.mark.parametrize(
    ("params", "column"),
    [
        ({"year": 2013}, "release_year"),
        ({"genre": "18"}, "genre_ids"),
        ({"min_rating": 7.5, "sort": "title"}, "vote_average"),
    ],
)
async def test_movies_filters_are_read_from_an_index(
    memory_client, warehouse, published_reads, params, column
):
    response = await memory_client.get("/movies", params=params)
    assert response.status_code == 200
    (statement,) = published_reads
    plan = _plan(warehouse, statement, "enable_seqscan")
    assert any("Index Cond:" in line and column in line for line in plan), "\n".join(plan)


async def test_a_cursor_page_starts_at_its_place_in_the_index(
    memory_client, warehouse, published_reads
):
    """A page by cursor is read from the sort's index as a range that starts at the
    previous page's last movie, not from the index's start: as fast at any depth."""
    first = (await memory_client.get("/movies", params={"sort": "-votes", "limit": 5})).json()
    published_reads.clear()
    response = await memory_client.get(
        "/movies", params={"sort": "-votes", "limit": 5, "cursor": first["next_cursor"]}
    )
    assert response.status_code == 200
    (statement,) = published_reads
    plan = _plan(warehouse, statement, "enable_seqscan", "enable_sort")
    assert any("Index Cond:" in line and "vote_count <=" in line for line in plan), "\n".join(plan)


KEYSET_CATALOG = """
create schema artifacts;
create table artifacts.movie_catalog (
    movie_id bigint primary key, title text, original_title text, release_date date,
    release_year integer, genres text[], genre_ids bigint[], vote_average double precision,
    vote_count bigint, popularity double precision, poster_path text
);
-- ties and nulls in every sort column but the id: 3 values, then nulls
insert into artifacts.movie_catalog
select
    id, 'title ' || (id % 4), null,
    case when id % 5 = 0 then null else date '2000-01-01' + (id % 3) end,
    null, '{}', '{}', case when id % 7 = 0 then null else (id % 3)::float8 end,
    case when id % 6 = 0 then null else id % 3 end, (id % 3)::float8 / 2, null
from generate_series(1, 60) as id;
"""


async def test_keyset_pages_follow_the_order_across_ties_and_nulls(make_database):
    """Every sort, paged by (last value, last id) in pages of 4, gives the catalog in the
    sort's order (nulls last, ties by id): the non-null range, then the nulls."""
    from api import repositories

    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(KEYSET_CATALOG)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for sort in get_args(MovieSort):
            column = repositories.MOVIE_SORT_COLUMNS[sort.lstrip("-")]
            cursor = await conn.execute(
                sql.SQL("select movie_id from artifacts.movie_catalog as movie order by {}").format(
                    repositories.MOVIE_SORTS[sort]
                )
            )
            expected = [row[0] for row in await cursor.fetchall()]
            ids: list[int] = []
            after = None
            while True:
                items, total, more = await repositories.list_movies(
                    conn, genre_id=None, year=None, min_rating=None, sort=sort,
                    limit=4, offset=0, after=after,
                )  # fmt: skip
                assert total == 60
                ids += [item["id"] for item in items]
                if not more:
                    break
                after = (items[-1][column], items[-1]["id"])
            assert ids == expected, sort

"""Each request reads the published data in exactly one statement.

A publish renames schemas between two statements of an autocommit connection, so a
request that ran two (a page, then its count; the latest day, then its rows) could mix
two data versions. The statements that read ``artifacts`` are recorded at psycopg's
cursor; the data-version listener reads only ``ops`` and is not counted.
"""

from __future__ import annotations

import pytest
from psycopg import AsyncCursor, sql

from moviemetric.warehouse import PUBLISHED_SCHEMA

pytestmark = pytest.mark.anyio

PUBLISHED_PREFIX = f'"{PUBLISHED_SCHEMA}".'


@pytest.fixture
def published_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every statement that reads the published schema, in order."""
    statements: list[str] = []
    execute = AsyncCursor.execute

    async def recording_execute(self, query, params=None, **kwargs):
        text = query.as_string(self.connection) if isinstance(query, sql.Composable) else query
        if PUBLISHED_PREFIX in str(text):
            statements.append(str(text))
        return await execute(self, query, params, **kwargs)

    monkeypatch.setattr(AsyncCursor, "execute", recording_execute)
    return statements


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
        ("/analytics/ratings-by-decade", 200),
    ],
)
async def test_a_request_reads_the_published_data_in_one_statement(
    client, warehouse, published_reads, path, status
):
    movie_id = warehouse.execute(
        "select movie_id from artifacts.movie_recommendations order by movie_id limit 1"
    ).fetchone()["movie_id"]
    response = await client.get(path.format(movie_id=movie_id))
    assert response.status_code == status
    assert response.headers.get("x-cache") != "hit"  # served by the routes, not the cache
    assert len(published_reads) == 1, published_reads

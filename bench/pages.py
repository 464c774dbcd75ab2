"""Benchmark: deep pages of GET /movies by offset and by cursor, at catalog scale.

For each catalog size, in one fresh database: an ``artifacts.movie_catalog`` generated
with SQL (the columns the API reads, popularity and votes with ties, 1 in 20 release
dates null) and the indexes of the dbt model for the two sorts measured; then the
API's own statement (``api.repositories.list_movies``, run in-process on one
connection, so the figures are the statement's, not HTTP's) for a page of 20:

  - the first page;
  - the page at each depth by ``offset``;
  - the page at the same depth by cursor: ``after`` = the (sort value, id) of the movie
    just before it, as the previous page's ``next_cursor`` carries.

Each is the median of ``--repeat`` runs. Results go to bench/results/pages.json;
bench/README.md ("Deep pages") records them.

    python -m bench.pages --movies 1000000
"""

from __future__ import annotations

import asyncio
import statistics
import time

import psycopg

from api import repositories
from bench._harness import run_sizes, scratch_database

PAGE = 20
REPEAT = 7
SORTS = ("-popularity", "-release_date")
# the index of each sort measured, as dbt_project/models/artifacts/movie_catalog.sql has it
INDEXES = (
    "create index on artifacts.movie_catalog (popularity desc nulls last, movie_id)",
    "create index on artifacts.movie_catalog (release_date desc nulls last, movie_id)",
)
CATALOG = """
create schema artifacts;
create table artifacts.movie_catalog as
select
    id as movie_id,
    'Movie ' || id as title,
    'Movie ' || id as original_title,
    case
        when id % 20 = 0 then null
        else date '1950-01-01' + (id::bigint * 7919 % 27000)::integer
    end as release_date,
    null::integer as release_year,
    array['Drama'] as genres,
    array[18::bigint] as genre_ids,
    (id * 31 % 100) / 10.0::float8 as vote_average,
    (id * 17 % 5000)::bigint as vote_count,
    -- 10,000 distinct values: long runs of ties for the cursor's id tie-break
    (id * 7 % 10000) / 100.0::float8 as popularity,
    null::text as poster_path
from generate_series(1, %(movies)s) as id;
alter table artifacts.movie_catalog add primary key (movie_id);
"""


async def _page_ms(conn, sort: str, offset: int, after) -> float:
    timings = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        items, _total, _more = await repositories.list_movies(
            conn, genre_id=None, year=None, min_rating=None, sort=sort,
            limit=PAGE, offset=offset, after=after,
        )  # fmt: skip
        timings.append((time.perf_counter() - started) * 1000)
        assert len(items) == PAGE
    return round(statistics.median(timings), 1)


async def _measure(url: str, movies: int) -> dict:
    depths = [depth for depth in (1_000, movies // 10, movies // 2, movies - 2 * PAGE) if depth]
    results: dict[str, dict] = {}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for sort in SORTS:
            column = repositories.MOVIE_SORT_COLUMNS[sort.lstrip("-")]
            row = {"first_page_ms": await _page_ms(conn, sort, 0, None)}
            for depth in depths:
                # the movie just before the page: the last of the previous page
                (before,), _total, _more = await repositories.list_movies(
                    conn, genre_id=None, year=None, min_rating=None, sort=sort,
                    limit=1, offset=depth - 1, after=None,
                )  # fmt: skip
                after = (before[column], before["id"])
                row[f"offset_{depth}_ms"] = await _page_ms(conn, sort, depth, None)
                row[f"cursor_{depth}_ms"] = await _page_ms(conn, sort, 0, after)
            results[sort] = row
    return results


def bench_size(movies: int) -> dict:
    with scratch_database("mm_bench_pages") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(CATALOG.replace("%(movies)s", str(int(movies))))
            for index in INDEXES:
                conn.execute(index)
            conn.execute("vacuum analyze artifacts.movie_catalog")
        return {"movies": movies, "page": PAGE, "sorts": asyncio.run(_measure(url, movies))}


def main() -> None:
    run_sizes(__doc__.splitlines()[0], "pages", bench_size)


if __name__ == "__main__":
    main()

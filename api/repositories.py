"""Every SQL statement the API runs: reads of the published ``artifacts`` and ``ops.data_version``.

Values are always bound parameters; the only composed parts are identifiers and the
whitelisted sort orders below. Functions return plain dicts shaped like the response
models, so routes only validate and wrap them.

Every request runs exactly one statement: a publish renames schemas between two
statements of an autocommit connection, so a second statement could read the next data
version. What a response needs besides its rows (a total, the latest day, whether the
movie exists) is computed in the same statement and comes back on every row, and on a
single row of NULL items when there are none. (A REPEATABLE READ transaction would not
help: catalog lookups see the renamed schemas while the snapshot is still the old one.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from moviemetric.ops import DATA_VERSION_QUERY, OPS_SCHEMA
from moviemetric.warehouse import PUBLISHED_SCHEMA


def _table(name: str, schema: str = PUBLISHED_SCHEMA) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


MOVIE_CATALOG = _table("movie_catalog")
MOVIE_TRENDING_DAILY = _table("movie_trending_daily")
MOVIE_RECOMMENDATIONS = _table("movie_recommendations")
GENRE_STATS_DAILY = _table("genre_stats_daily")
RATINGS_BY_DECADE = _table("ratings_by_decade")


def _movie_summary(stats_from: str = "movie") -> sql.Composed:
    """The fields of MovieSummaryPublic from movie_catalog aliased ``movie``.

    ``stats_from`` names the alias whose popularity and votes are served: a trend row's
    are those of its trend date.
    """
    return sql.SQL(
        "movie.movie_id as id, movie.title, movie.original_title, movie.release_date, "
        "movie.release_year, coalesce(movie.genres, '{{}}') as genres, "
        "{stats}.vote_average, {stats}.vote_count, {stats}.popularity, movie.poster_path"
    ).format(stats=sql.Identifier(stats_from))


# `sort` values of GET /movies and the movie_catalog column each sorts by: the value
# sorts ascending, "-" and the value descending; nulls come last and movie_id breaks
# ties. movie_catalog has an index for each of these orders.
MOVIE_SORT_COLUMNS = {
    "popularity": "popularity",
    "rating": "vote_average",
    "votes": "vote_count",
    "release_date": "release_date",
    "title": "title",
}
MovieSort = Literal[tuple(f"{sign}{key}" for key in MOVIE_SORT_COLUMNS for sign in ("", "-"))]
MOVIE_SORTS: dict[str, sql.Composed] = {
    sort: sql.SQL("{} {} nulls last, movie.movie_id").format(
        sql.Identifier("movie", MOVIE_SORT_COLUMNS[sort.lstrip("-")]),
        sql.SQL("desc" if sort.startswith("-") else "asc"),
    )
    for sort in get_args(MovieSort)
}

# `sort` values of GET /analytics/top-genres, always descending; genre_id breaks ties.
GenreSort = Literal[
    "movie_count",
    "rated_movie_count",
    "avg_rating",
    "total_votes",
    "avg_popularity",
    "new_release_count",
]
GENRE_SORTS: dict[str, sql.SQL] = {
    column: sql.SQL("{} desc nulls last, genre_id").format(sql.Identifier(column))
    for column in get_args(GenreSort)
}


async def _all(conn: AsyncConnection, query: sql.Composable, params: dict[str, Any]) -> list[dict]:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchall()


async def _one(conn: AsyncConnection, query: sql.Composable, params: dict[str, Any]) -> dict | None:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchone()


def _items(rows: list[dict], key: str, *envelope: str) -> list[dict]:
    """The items of a single-statement result: rows without the ``envelope`` columns, less
    the row whose ``key`` is NULL, which stands for "no items"."""
    items = []
    for row in rows:
        if row[key] is None:
            continue
        for column in envelope:
            del row[column]
        items.append(row)
    return items


async def read_data_version(conn: AsyncConnection) -> dict | None:
    """The published version row (version, published_at, build_id), or None before a publish."""
    return await _one(conn, DATA_VERSION_QUERY, {})


async def role_exists(conn: AsyncConnection, role: str) -> bool:
    """Whether ``role`` exists on the server; asked before ``set role``, which would fail
    (and have the server log an error) while it does not."""
    row = await _one(
        conn,
        sql.SQL("select exists (select from pg_roles where rolname = %(role)s)"),
        {"role": role},
    )
    return bool(row and row["exists"])


async def data_version_readable(conn: AsyncConnection) -> bool:
    """Whether the current role can read ``ops.data_version``: a catalog lookup, so before
    the bootstrap it answers false instead of failing (and having the server log it)."""
    query = sql.SQL(
        "select exists (select from pg_class as class "
        "join pg_namespace as namespace on namespace.oid = class.relnamespace "
        "where namespace.nspname = %(schema)s and class.relname = %(table)s "
        "and has_schema_privilege(namespace.oid, 'usage') "
        "and has_table_privilege(class.oid, 'select'))"
    )
    row = await _one(conn, query, {"schema": OPS_SCHEMA, "table": "data_version"})
    return bool(row and row["exists"])


async def list_known_genres(conn: AsyncConnection) -> list[dict]:
    """Every genre of the published catalog (``genre_stats_daily`` has a row for each
    genre on each day): id and name, by name."""
    query = sql.SQL(
        "select distinct genre_id, genre_name from {table} order by genre_name, genre_id"
    ).format(table=GENRE_STATS_DAILY)
    return await _all(conn, query, {})


MovieSortValue = float | int | str | dt.date | None


async def list_movies(
    conn: AsyncConnection,
    *,
    genre_id: int | None,
    year: int | None,
    min_rating: float | None,
    sort: str,
    limit: int,
    offset: int,
    after: tuple[MovieSortValue, int] | None = None,
) -> tuple[list[dict], int, bool]:
    """One page of catalog movies, the number matching the filters (also past the end),
    and whether more follow. ``after`` is (sort value, movie_id) of the last movie of the
    previous page (keyset pagination): the page starts right after it, found by the
    sort's index however deep it is, and ``offset`` is not used."""
    conditions: list[sql.Composable] = []
    params: dict[str, Any] = {"limit": limit, "fetch": limit + 1, "offset": offset}
    if genre_id is not None:
        conditions.append(sql.SQL("movie.genre_ids @> array[%(genre_id)s::bigint]"))
        params["genre_id"] = genre_id
    if year is not None:
        conditions.append(sql.SQL("movie.release_year = %(year)s"))
        params["year"] = year
    if min_rating is not None:
        conditions.append(sql.SQL("movie.vote_average >= %(min_rating)s"))
        params["min_rating"] = min_rating
    where = sql.SQL("where ") + sql.SQL(" and ").join(conditions) if conditions else sql.SQL("")
    order = MOVIE_SORTS[sort]
    if after is None:
        # one row more than the page: whether another page follows
        page = sql.SQL(
            "select {columns}, row_number() over (order by {order}) as position "
            "from filtered as movie order by {order} limit %(fetch)s offset %(offset)s"
        ).format(columns=_movie_summary(), order=order)
    else:
        params["after_value"], params["after_id"] = after
        page = sql.SQL(
            "select {columns}, row_number() over (order by {order}) as position "
            "from ({branches}) as movie order by {order} limit %(fetch)s"
        ).format(columns=_movie_summary(), order=order, branches=_keyset_branches(sort, after))
    # Not materialized: the count and the page each plan on the table itself (indexes,
    # top-N sort) instead of sharing a full copy of every filtered row.
    query = sql.SQL(
        "with filtered as not materialized (select * from {table} as movie {where}), "
        "counted as (select count(*) as total from filtered) "
        "select counted.total, page.* from counted "
        "left join lateral ({page}) as page on true "
        "order by page.position"
    ).format(table=MOVIE_CATALOG, where=where, page=page)
    rows = await _all(conn, query, params)
    total = rows[0]["total"]
    items = _items(rows, "id", "total", "position")
    return items[:limit], total, len(items) > limit


def _keyset_branches(sort: str, after: tuple[MovieSortValue, int]) -> sql.Composed:
    """The movies after ``after`` in the order of ``sort`` (nulls last, then movie_id), as
    at most two index range scans of ``limit + 1`` rows each: the non-null values past the
    last one (a range the sort's index starts at), then the nulls. An OR of the two in
    one scan would make PostgreSQL read the index from its start: as slow as an offset."""
    column = sql.Identifier("movie", MOVIE_SORT_COLUMNS[sort.lstrip("-")])
    order = MOVIE_SORTS[sort]
    nulls = sql.SQL(
        "(select * from filtered as movie where {column} is null{tie} order by {order} "
        "limit %(fetch)s)"
    )
    if after[0] is None:  # the last movie had no value: only nulls follow, by movie_id
        return nulls.format(
            column=column, order=order, tie=sql.SQL(" and movie.movie_id > %(after_id)s")
        )
    past = sql.SQL("<=" if sort.startswith("-") else ">=")
    beyond = sql.SQL("<" if sort.startswith("-") else ">")
    return sql.SQL(
        "(select * from filtered as movie where {column} {past} %(after_value)s "
        "and ({column} {beyond} %(after_value)s or movie.movie_id > %(after_id)s) "
        "order by {order} limit %(fetch)s) union all {nulls}"
    ).format(
        column=column,
        past=past,
        beyond=beyond,
        order=order,
        nulls=nulls.format(column=column, order=order, tie=sql.SQL("")),
    )


# composed once: the statement of GET /movies/{id}, the API's most frequent uncached read
MOVIE_QUERY = sql.SQL(
    "select {summary}, movie.overview, movie.original_language, movie.status, "
    "movie.imdb_id, coalesce(movie.genre_ids, '{{}}') as genre_ids, "
    "coalesce(movie.keywords, '{{}}') as keywords, movie.runtime, movie.budget, "
    "movie.revenue, trend.trend_date, trend.rank as trend_rank, trend.score as trend_score "
    "from {movies} as movie "
    "left join {trending} as trend on trend.movie_id = movie.movie_id "
    "and trend.trend_date = (select max(trend_date) from {trending}) "
    "where movie.movie_id = %(movie_id)s"
).format(summary=_movie_summary(), movies=MOVIE_CATALOG, trending=MOVIE_TRENDING_DAILY)


async def get_movie(conn: AsyncConnection, movie_id: int) -> dict | None:
    """One movie (the summary fields, then genres ids, keywords, runtime, budget, revenue)
    and its place in the latest trending list, or None when it is not in the catalog."""
    row = await _one(conn, MOVIE_QUERY, {"movie_id": movie_id})
    if row is None:
        return None
    trend_date, rank, score = row.pop("trend_date"), row.pop("trend_rank"), row.pop("trend_score")
    row["trending"] = (
        {"date": trend_date, "rank": rank, "score": score} if trend_date is not None else None
    )
    return row


async def list_trending(
    conn: AsyncConnection, *, day: dt.date | None, limit: int
) -> tuple[dt.date | None, list[dict]]:
    """The trend day (``day``, or the latest when None; None when nothing is published) and
    its top ``limit`` trending movies, best rank first."""
    query = sql.SQL(
        "with trend_day as ("
        "select coalesce(%(day)s::date, (select max(trend_date) from {trending})) as day) "
        "select trend_day.day as trend_day, page.* from trend_day "
        "left join lateral ("
        "select trend.rank, trend.score, trend.avg_popularity_7d, trend.momentum, {columns} "
        "from {trending} as trend "
        "join {movies} as movie on movie.movie_id = trend.movie_id "
        "where trend.trend_date = trend_day.day "
        "order by trend.rank limit %(limit)s"
        ") as page on true "
        "order by page.rank"
    ).format(columns=_movie_summary("trend"), trending=MOVIE_TRENDING_DAILY, movies=MOVIE_CATALOG)
    rows = await _all(conn, query, {"day": day, "limit": limit})
    trend_day = rows[0]["trend_day"]
    return trend_day, _items(rows, "id", "trend_day")


async def list_recommendations(
    conn: AsyncConnection, movie_id: int, *, limit: int
) -> list[dict] | None:
    """The recommendations for ``movie_id`` in rank order, or None when it is not in the
    catalog."""
    query = sql.SQL(
        "with source as ("
        "select exists (select from {movies} where movie_id = %(movie_id)s) as movie_found) "
        "select source.movie_found, page.* from source "
        "left join lateral ("
        "select rec.rank, rec.score, rec.reason, rec.shared_genre_count, "
        "rec.shared_keyword_count, {columns} "
        "from {recommendations} as rec "
        "join {movies} as movie on movie.movie_id = rec.recommended_movie_id "
        "where source.movie_found and rec.movie_id = %(movie_id)s "
        "order by rec.rank limit %(limit)s"
        ") as page on true "
        "order by page.rank"
    ).format(columns=_movie_summary(), recommendations=MOVIE_RECOMMENDATIONS, movies=MOVIE_CATALOG)
    rows = await _all(conn, query, {"movie_id": movie_id, "limit": limit})
    if not rows[0]["movie_found"]:
        return None
    return _items(rows, "id", "movie_found")


async def list_genre_stats(
    conn: AsyncConnection, *, day: dt.date | None, sort: str, limit: int
) -> tuple[dt.date | None, list[dict]]:
    """The stat day (``day``, or the latest when None; None when nothing is published) and
    its top ``limit`` genres by ``sort``."""
    query = sql.SQL(
        "with stat_day as ("
        "select coalesce(%(day)s::date, (select max(stat_date) from {table})) as day) "
        "select stat_day.day as stat_day, page.* from stat_day "
        "left join lateral ("
        "select genre_id, genre_name, movie_count, rated_movie_count, avg_rating, total_votes, "
        "avg_popularity, new_release_count, row_number() over (order by {order}) as position "
        "from {table} where stat_date = stat_day.day order by {order} limit %(limit)s"
        ") as page on true "
        "order by page.position"
    ).format(table=GENRE_STATS_DAILY, order=GENRE_SORTS[sort])
    rows = await _all(conn, query, {"day": day, "limit": limit})
    stat_day = rows[0]["stat_day"]
    return stat_day, _items(rows, "genre_id", "stat_day", "position")


async def list_genre_stats_series(
    conn: AsyncConnection,
    *,
    first_day: dt.date | None,
    last_day: dt.date | None,
    genre_id: int | None,
    max_days: int,
) -> tuple[dt.date | None, dt.date | None, list[dict]]:
    """The window of days (``first_day`` to ``last_day``, ends included; None when nothing
    is published) and every genre's statistics on each of its days, by day then genre.

    A missing ``last_day`` is the latest published day, but no more than ``max_days``
    days from ``first_day``; a missing ``first_day`` is ``max_days`` days back from
    ``last_day``. Both given, the caller has checked the span.
    """
    genre_filter = sql.SQL("and genre_id = %(genre_id)s") if genre_id is not None else sql.SQL("")
    query = sql.SQL(
        "with last_day as ("
        "select coalesce(%(last_day)s::date, greatest(%(first_day)s::date, least("
        "(select max(stat_date) from {table}), %(first_day)s::date + %(span)s::integer))) as day), "
        "stat_window as ("
        "select coalesce(%(first_day)s::date, last_day.day - %(span)s::integer) as first_day, "
        "last_day.day as last_day from last_day) "
        "select stat_window.first_day as window_first_day, "
        "stat_window.last_day as window_last_day, page.* from stat_window "
        "left join lateral ("
        "select stat_date, genre_id, genre_name, movie_count, rated_movie_count, avg_rating, "
        "total_votes, avg_popularity, new_release_count from {table} "
        "where stat_date between stat_window.first_day and stat_window.last_day {genre_filter}"
        ") as page on true "
        "order by page.stat_date, page.genre_name, page.genre_id"
    ).format(table=GENRE_STATS_DAILY, genre_filter=genre_filter)
    params = {
        "first_day": first_day,
        "last_day": last_day,
        "genre_id": genre_id,
        "span": max_days - 1,
    }
    rows = await _all(conn, query, params)
    window = rows[0]["window_first_day"], rows[0]["window_last_day"]
    return *window, _items(rows, "genre_id", "window_first_day", "window_last_day")


async def list_ratings_by_decade(conn: AsyncConnection) -> list[dict]:
    query = sql.SQL(
        "select decade, movie_count, rated_movie_count, avg_rating, weighted_rating, total_votes "
        "from {table} order by decade"
    ).format(table=RATINGS_BY_DECADE)
    return await _all(conn, query, {})

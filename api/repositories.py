"""Every SQL statement the API runs: reads of the published ``artifacts`` and ``ops.data_version``.

Values are always bound parameters; the only composed parts are identifiers and the
whitelisted sort orders below. Functions return plain dicts shaped like the response
models, so routes only validate and wrap them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from moviemetric.warehouse import OPS_SCHEMA, PUBLISHED_SCHEMA


def _table(name: str, schema: str = PUBLISHED_SCHEMA) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


SEARCH_DOCUMENTS = _table("search_documents")
MOVIE_TRENDING_DAILY = _table("movie_trending_daily")
MOVIE_RECOMMENDATIONS = _table("movie_recommendations")
GENRE_STATS_DAILY = _table("genre_stats_daily")
RATINGS_BY_DECADE = _table("ratings_by_decade")
DATA_VERSION = _table("data_version", OPS_SCHEMA)


def _movie_summary(stats_from: str = "movie") -> sql.Composed:
    """The fields of MovieSummaryPublic from search_documents aliased ``movie``.

    ``stats_from`` names the alias whose popularity and votes are served: a trend row's
    are those of its trend date.
    """
    return sql.SQL(
        "movie.movie_id as id, movie.title, movie.original_title, movie.release_date, "
        "movie.release_year, coalesce(movie.genres, '{{}}') as genres, "
        "{stats}.vote_average, {stats}.vote_count, {stats}.popularity, movie.poster_path"
    ).format(stats=sql.Identifier(stats_from))


# `sort` values of GET /movies: a leading "-" means descending; movie_id breaks ties.
MOVIE_SORTS: dict[str, sql.SQL] = {
    "popularity": sql.SQL("movie.popularity asc nulls last, movie.movie_id"),
    "-popularity": sql.SQL("movie.popularity desc nulls last, movie.movie_id"),
    "rating": sql.SQL("movie.vote_average asc nulls last, movie.movie_id"),
    "-rating": sql.SQL("movie.vote_average desc nulls last, movie.movie_id"),
    "votes": sql.SQL("movie.vote_count asc nulls last, movie.movie_id"),
    "-votes": sql.SQL("movie.vote_count desc nulls last, movie.movie_id"),
    "release_date": sql.SQL("movie.release_date asc nulls last, movie.movie_id"),
    "-release_date": sql.SQL("movie.release_date desc nulls last, movie.movie_id"),
    "title": sql.SQL("movie.title asc, movie.movie_id"),
    "-title": sql.SQL("movie.title desc, movie.movie_id"),
}

# `sort` values of GET /analytics/top-genres, always descending; genre_id breaks ties.
GENRE_SORTS: dict[str, sql.SQL] = {
    column: sql.SQL("{} desc nulls last, genre_id").format(sql.Identifier(column))
    for column in (
        "movie_count",
        "rated_movie_count",
        "avg_rating",
        "total_votes",
        "avg_popularity",
        "new_release_count",
    )
}


async def _all(conn: AsyncConnection, query: sql.Composable, params: dict[str, Any]) -> list[dict]:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchall()


async def _one(conn: AsyncConnection, query: sql.Composable, params: dict[str, Any]) -> dict | None:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchone()


async def read_data_version(conn: AsyncConnection) -> dict | None:
    """The published version row (version, published_at, build_id), or None before a publish."""
    query = sql.SQL(
        "select version, published_at, build_id from {} order by version desc limit 1"
    ).format(DATA_VERSION)
    return await _one(conn, query, {})


async def list_movies(
    conn: AsyncConnection,
    *,
    genre: str | None,
    year: int | None,
    min_rating: float | None,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[dict], int]:
    """One page of catalog movies and the number matching the filters."""
    conditions: list[sql.Composable] = []
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if genre is not None:
        if genre.isdigit():
            conditions.append(sql.SQL("%(genre_id)s = any(movie.genre_ids)"))
            params["genre_id"] = int(genre)
        else:
            conditions.append(
                sql.SQL(
                    "exists (select from unnest(movie.genres) as genre_name "
                    "where lower(genre_name) = lower(%(genre)s))"
                )
            )
            params["genre"] = genre
    if year is not None:
        conditions.append(sql.SQL("movie.release_year = %(year)s"))
        params["year"] = year
    if min_rating is not None:
        conditions.append(sql.SQL("movie.vote_average >= %(min_rating)s"))
        params["min_rating"] = min_rating
    where = sql.SQL("where ") + sql.SQL(" and ").join(conditions) if conditions else sql.SQL("")
    page = sql.SQL(
        "select {columns} from {table} as movie {where} "
        "order by {order} limit %(limit)s offset %(offset)s"
    ).format(columns=_movie_summary(), table=SEARCH_DOCUMENTS, where=where, order=MOVIE_SORTS[sort])
    count = sql.SQL("select count(*) as total from {table} as movie {where}").format(
        table=SEARCH_DOCUMENTS, where=where
    )
    items = await _all(conn, page, params)
    total_row = await _one(conn, count, params)
    return items, total_row["total"] if total_row else 0


async def get_movie(conn: AsyncConnection, movie_id: int) -> dict | None:
    """One movie with its genres, keywords, stats and its place in the latest trending list,
    or None when it is not in the catalog."""
    query = sql.SQL(
        "select movie.movie_id as id, movie.title, movie.original_title, movie.overview, "
        "movie.original_language, movie.release_date, movie.release_year, movie.status, "
        "movie.imdb_id, movie.poster_path, coalesce(movie.genre_ids, '{{}}') as genre_ids, "
        "coalesce(movie.genres, '{{}}') as genres, coalesce(movie.keywords, '{{}}') as keywords, "
        "movie.vote_average, movie.vote_count, movie.popularity, movie.runtime, movie.budget, "
        "movie.revenue, trend.trend_date, trend.rank as trend_rank, trend.score as trend_score "
        "from {movies} as movie "
        "left join {trending} as trend on trend.movie_id = movie.movie_id "
        "and trend.trend_date = (select max(trend_date) from {trending}) "
        "where movie.movie_id = %(movie_id)s"
    ).format(movies=SEARCH_DOCUMENTS, trending=MOVIE_TRENDING_DAILY)
    row = await _one(conn, query, {"movie_id": movie_id})
    if row is None:
        return None
    row["stats"] = {
        key: row.pop(key)
        for key in ("vote_average", "vote_count", "popularity", "runtime", "budget", "revenue")
    }
    trend_date, rank, score = row.pop("trend_date"), row.pop("trend_rank"), row.pop("trend_score")
    row["trending"] = (
        {"date": trend_date, "rank": rank, "score": score} if trend_date is not None else None
    )
    return row


async def movie_exists(conn: AsyncConnection, movie_id: int) -> bool:
    query = sql.SQL("select 1 as found from {} where movie_id = %(movie_id)s").format(
        SEARCH_DOCUMENTS
    )
    return await _one(conn, query, {"movie_id": movie_id}) is not None


async def latest_trend_date(conn: AsyncConnection) -> dt.date | None:
    row = await _one(
        conn, sql.SQL("select max(trend_date) as day from {}").format(MOVIE_TRENDING_DAILY), {}
    )
    return row["day"] if row else None


async def list_trending(conn: AsyncConnection, *, day: dt.date, limit: int) -> list[dict]:
    """The top ``limit`` trending movies of ``day``, best rank first."""
    query = sql.SQL(
        "select trend.rank, trend.score, trend.avg_popularity_7d, trend.momentum, "
        "{columns} "
        "from {trending} as trend "
        "join {movies} as movie on movie.movie_id = trend.movie_id "
        "where trend.trend_date = %(day)s "
        "order by trend.rank limit %(limit)s"
    ).format(
        columns=_movie_summary("trend"), trending=MOVIE_TRENDING_DAILY, movies=SEARCH_DOCUMENTS
    )
    return await _all(conn, query, {"day": day, "limit": limit})


async def list_recommendations(conn: AsyncConnection, movie_id: int, *, limit: int) -> list[dict]:
    query = sql.SQL(
        "select rec.rank, rec.score, rec.reason, rec.shared_genre_count, "
        "rec.shared_keyword_count, {columns} "
        "from {recommendations} as rec "
        "join {movies} as movie on movie.movie_id = rec.recommended_movie_id "
        "where rec.movie_id = %(movie_id)s "
        "order by rec.rank limit %(limit)s"
    ).format(
        columns=_movie_summary(), recommendations=MOVIE_RECOMMENDATIONS, movies=SEARCH_DOCUMENTS
    )
    return await _all(conn, query, {"movie_id": movie_id, "limit": limit})


async def latest_stat_date(conn: AsyncConnection) -> dt.date | None:
    row = await _one(
        conn, sql.SQL("select max(stat_date) as day from {}").format(GENRE_STATS_DAILY), {}
    )
    return row["day"] if row else None


async def list_genre_stats(
    conn: AsyncConnection, *, day: dt.date, sort: str, limit: int
) -> list[dict]:
    query = sql.SQL(
        "select genre_id, genre_name, movie_count, rated_movie_count, avg_rating, total_votes, "
        "avg_popularity, new_release_count from {table} "
        "where stat_date = %(day)s order by {order} limit %(limit)s"
    ).format(table=GENRE_STATS_DAILY, order=GENRE_SORTS[sort])
    return await _all(conn, query, {"day": day, "limit": limit})


async def list_ratings_by_decade(conn: AsyncConnection) -> list[dict]:
    query = sql.SQL(
        "select decade, movie_count, rated_movie_count, avg_rating, weighted_rating, total_votes "
        "from {table} order by decade"
    ).format(table=RATINGS_BY_DECADE)
    return await _all(conn, query, {})

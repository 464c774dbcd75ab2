"""``/movies``: the catalog, one movie, trending movies, recommendations."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from fastapi.exceptions import RequestValidationError

from api import repositories
from api.deps import DbDep, require_published
from api.models import (
    MoviePublic,
    MoviesPublic,
    RecommendationsPublic,
    TrendingMoviesPublic,
    movie_json,
)
from api.routes.params import (
    UNAVAILABLE_RESPONSES,
    DateParam,
    KnownGenreParam,
    LimitParam,
)

router = APIRouter(
    prefix="/movies",
    tags=["movies"],
    dependencies=[Depends(require_published)],
    responses=UNAVAILABLE_RESPONSES,
)

# A cursor is the sort and the last movie's (sort value, id), as base64url JSON: opaque to
# clients, checked on the way back in (a long title makes a long one).
MAX_CURSOR_LENGTH = 8000

MovieId = Annotated[int, Path(ge=1, le=2**63 - 1, description="TMDB movie id.")]


def _not_found(movie_id: int) -> HTTPException:
    return HTTPException(status_code=404, detail=f"movie {movie_id} not found")


@router.get("", response_model=MoviesPublic)
async def list_movies(
    db: DbDep,
    genre: KnownGenreParam,
    year: Annotated[int | None, Query(ge=1800, le=2200, description="Release year.")] = None,
    min_rating: Annotated[
        float | None,
        Query(ge=0, le=10, allow_inf_nan=False, description="Minimum vote_average."),
    ] = None,
    sort: Annotated[
        repositories.MovieSort, Query(description="Sort key; a leading `-` sorts descending.")
    ] = "-popularity",
    limit: LimitParam = 20,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000, description="Items to skip (for shallow pages).")
    ] = 0,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH,
            description="The `next_cursor` of the previous page: the next page, as fast at "
            "any depth as the first (keyset pagination). Not with `offset`.",
        ),
    ] = None,
) -> MoviesPublic:
    after = None if cursor is None else _decode_cursor(cursor, sort, offset)
    items, total, more = await repositories.list_movies(
        db,
        genre_id=None if genre is None else genre.genre_id,
        year=year,
        min_rating=min_rating,
        sort=sort,
        limit=limit,
        offset=offset,
        after=after,
    )
    next_cursor = _encode_cursor(sort, items[-1]) if more else None
    return MoviesPublic(
        items=items, total=total, limit=limit, offset=offset, next_cursor=next_cursor
    )


def _encode_cursor(sort: str, last: dict) -> str:
    value = last[repositories.MOVIE_SORT_COLUMNS[sort.lstrip("-")]]
    if isinstance(value, dt.date):
        value = value.isoformat()
    raw = json.dumps([sort, value, last["id"]], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_error(message: str, cursor: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "invalid_cursor", "loc": ("query", "cursor"), "msg": message, "input": cursor}]
    )


def _decode_cursor(cursor: str, sort: str, offset: int) -> tuple[object, int]:
    """(sort value, movie id) of the movie a page by cursor starts after; a 422 naming
    `cursor` when it is not one this API made for this sort."""
    if offset:
        raise _cursor_error("give either cursor or offset, not both", cursor)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, value, movie_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise _cursor_error("not a cursor this API returned", cursor) from None
    if made_for != sort:
        raise _cursor_error(f"this cursor pages sort={made_for}, not sort={sort}", cursor)
    column = repositories.MOVIE_SORT_COLUMNS[sort.lstrip("-")]
    valid_types = {
        "release_date": str,
        "title": str,
        "vote_count": int,
    }.get(column, (int, float))
    try:
        if not isinstance(movie_id, int) or isinstance(movie_id, bool):
            raise ValueError
        if not 0 <= movie_id < 2**63:
            raise ValueError
        if value is not None:
            if not isinstance(value, valid_types) or isinstance(value, bool):
                raise ValueError
            if isinstance(value, str) and "\x00" in value:
                raise ValueError
            if isinstance(value, str):
                value.encode()  # a lone surrogate cannot be sent to PostgreSQL
            if column == "vote_count" and not -(2**63) <= value < 2**63:
                raise ValueError
            if column in ("popularity", "vote_average") and not math.isfinite(float(value)):
                raise ValueError
            if column == "release_date":
                value = dt.date.fromisoformat(value)
    except (ValueError, OverflowError):
        raise _cursor_error("not a cursor this API returned", cursor) from None
    return value, movie_id


# Declared before /movies/{movie_id} so "trending" is not read as a movie id.
@router.get("/trending", response_model=TrendingMoviesPublic)
async def trending_movies(
    db: DbDep, date: DateParam = None, limit: LimitParam = 20
) -> TrendingMoviesPublic:
    day, items = await repositories.list_trending(db, day=date, limit=limit)
    return TrendingMoviesPublic(date=day, items=items)


@router.get(
    "/{movie_id}",
    response_model=MoviePublic,
    responses={404: {"description": "Unknown movie"}},
)
async def get_movie(db: DbDep, movie_id: MovieId) -> Response:
    # Most requests for a movie are answered by api.fast_path before FastAPI runs, with
    # the same statement and bytes; this route answers the rest and documents the path.
    movie = await repositories.get_movie(db, movie_id)
    if movie is None:
        raise _not_found(movie_id)
    return Response(movie_json(movie), media_type="application/json")


@router.get(
    "/{movie_id}/recommendations",
    response_model=RecommendationsPublic,
    responses={404: {"description": "Unknown movie"}},
)
async def movie_recommendations(
    db: DbDep, movie_id: MovieId, limit: LimitParam = 10
) -> RecommendationsPublic:
    items = await repositories.list_recommendations(db, movie_id, limit=limit)
    if items is None:
        raise _not_found(movie_id)
    return RecommendationsPublic(movie_id=movie_id, items=items)

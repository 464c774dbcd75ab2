"""``/movies``: the catalog, one movie, trending movies, recommendations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from api import repositories
from api.deps import DbDep, require_published
from api.models import (
    MoviePublic,
    MoviesPublic,
    RecommendationsPublic,
    TrendingMoviesPublic,
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
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")] = 0,
) -> MoviesPublic:
    items, total = await repositories.list_movies(
        db,
        genre_id=None if genre is None else genre.genre_id,
        year=year,
        min_rating=min_rating,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return MoviesPublic(items=items, total=total, limit=limit, offset=offset)


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
async def get_movie(db: DbDep, movie_id: MovieId) -> MoviePublic:
    movie = await repositories.get_movie(db, movie_id)
    if movie is None:
        raise _not_found(movie_id)
    return MoviePublic(**movie)


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

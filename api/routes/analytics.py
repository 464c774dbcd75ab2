"""``/analytics``: genre stats of a day and ratings by decade."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import repositories
from api.deps import DbDep, require_published
from api.models import DecadeRatingsPublic, GenreStatsPublic
from api.routes.params import UNAVAILABLE_RESPONSES, DateParam, LimitParam

router = APIRouter(
    prefix="/analytics",
    tags=["analytics"],
    dependencies=[Depends(require_published)],
    responses=UNAVAILABLE_RESPONSES,
)


@router.get("/top-genres", response_model=GenreStatsPublic)
async def top_genres(
    db: DbDep,
    date: DateParam = None,
    sort: Annotated[
        repositories.GenreSort, Query(description="Ranks genres by this, descending.")
    ] = "movie_count",
    limit: LimitParam = 20,
) -> GenreStatsPublic:
    day, items = await repositories.list_genre_stats(db, day=date, sort=sort, limit=limit)
    return GenreStatsPublic(date=day, items=items)


@router.get("/ratings-by-decade", response_model=DecadeRatingsPublic)
async def ratings_by_decade(db: DbDep) -> DecadeRatingsPublic:
    return DecadeRatingsPublic(items=await repositories.list_ratings_by_decade(db))

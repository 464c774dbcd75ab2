"""``/analytics``: genre stats of a day, their daily series, and ratings by decade."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from api import repositories
from api.deps import DbDep, require_published
from api.models import DecadeRatingsPublic, GenreStatSeriesPublic, GenreStatsPublic
from api.routes.params import UNAVAILABLE_RESPONSES, DateParam, KnownGenreParam, LimitParam

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


# The longest window of /analytics/genre-stats: a year of daily points (about 20 genres a
# day, so some 7,000 items at most), enough for a chart and bounded for the cache.
GENRE_STATS_MAX_DAYS = 366
# Days a window may start or end on: far enough for any catalog, and a default `from`
# computed back from `to` stays a date Python can hold.
GENRE_STATS_FIRST_DAY = dt.date(1900, 1, 1)
GENRE_STATS_LAST_DAY = dt.date(2199, 12, 31)


def _window_error(parameter: str, message: str, value: dt.date) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "invalid_window",
                "loc": ("query", parameter),
                "msg": message,
                "input": value.isoformat(),
            }
        ]
    )


@router.get("/genre-stats", response_model=GenreStatSeriesPublic)
async def genre_stats(
    db: DbDep,
    genre: KnownGenreParam,
    first_day: Annotated[
        dt.date | None,
        Query(
            alias="from",
            ge=GENRE_STATS_FIRST_DAY,
            le=GENRE_STATS_LAST_DAY,
            description=(
                f"First day (YYYY-MM-DD), included; default: {GENRE_STATS_MAX_DAYS - 1} "
                "days before `to`."
            ),
        ),
    ] = None,
    last_day: Annotated[
        dt.date | None,
        Query(
            alias="to",
            ge=GENRE_STATS_FIRST_DAY,
            le=GENRE_STATS_LAST_DAY,
            description=(
                "Last day (YYYY-MM-DD), included; default: the latest published day, or "
                f"the last of {GENRE_STATS_MAX_DAYS} days from `from` if that is earlier. "
                f"A window is at most {GENRE_STATS_MAX_DAYS} days (more is a 422), "
                f"between {GENRE_STATS_FIRST_DAY} and {GENRE_STATS_LAST_DAY}."
            ),
        ),
    ] = None,
) -> GenreStatSeriesPublic:
    """The daily series for charts: each genre's statistics on each day of the window."""
    if first_day is not None and last_day is not None:
        if first_day > last_day:
            raise _window_error(
                "from", f"must be on or before `to` ({last_day.isoformat()})", first_day
            )
        days = (last_day - first_day).days + 1
        if days > GENRE_STATS_MAX_DAYS:
            raise _window_error(
                "to",
                f"the window from {first_day.isoformat()} is {days} days; at most "
                f"{GENRE_STATS_MAX_DAYS}: move `to` or `from` closer",
                last_day,
            )
    first, last, items = await repositories.list_genre_stats_series(
        db,
        first_day=first_day,
        last_day=last_day,
        genre_id=None if genre is None else genre.genre_id,
        max_days=GENRE_STATS_MAX_DAYS,
    )
    return GenreStatSeriesPublic(first_date=first, last_date=last, items=items)


@router.get("/ratings-by-decade", response_model=DecadeRatingsPublic)
async def ratings_by_decade(db: DbDep) -> DecadeRatingsPublic:
    return DecadeRatingsPublic(items=await repositories.list_ratings_by_decade(db))

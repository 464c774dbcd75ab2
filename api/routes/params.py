"""Query parameters and responses shared by several routes."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError

from api.deps import DbDep
from api.genres import Genre, UnknownGenre
from api.models import ErrorPublic

MAX_LIMIT = 100

LimitParam = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Items to return, 1 to {MAX_LIMIT} (more is a 422)."),
]
DateParam = Annotated[
    dt.date | None,
    Query(description="Day (YYYY-MM-DD); default: the latest published day."),
]

GenreQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f]+$",
        description=(
            "Genre name (any case, e.g. `drama`) or TMDB genre id (ASCII digits, e.g. "
            "`18`). A genre the catalog does not have is a 422 that lists the known ones."
        ),
    ),
]


async def known_genre(request: Request, db: DbDep, genre: GenreQuery = None) -> Genre | None:
    """The published genre the `genre` parameter names; an unknown one is a 422."""
    if genre is None:
        return None
    try:
        return await request.app.state.genres.resolve(db, genre, request.app.state.versions.version)
    except UnknownGenre as exc:
        raise RequestValidationError(
            [{"type": "unknown_genre", "loc": ("query", "genre"), "msg": str(exc), "input": genre}]
        ) from None


KnownGenreParam = Annotated[Genre | None, Depends(known_genre)]

# What every route that reads published data may answer besides its own responses.
UNAVAILABLE_RESPONSES: dict[int | str, dict] = {
    503: {
        "model": ErrorPublic,
        "description": "The warehouse is unreachable, or nothing is published yet "
        "(the detail says what to run).",
    }
}


async def single_valued_query(request: Request) -> None:
    """Every query parameter of this API takes one value, and FastAPI would silently use
    the last of several (``genre=Drama&genre=Horror`` would list horror movies): a
    repeated one is a 422 naming it. Applied to every route by ``create_app``."""
    counts = Counter(name for name, _ in request.query_params.multi_items())
    repeated = [name for name, count in counts.items() if count > 1]
    if repeated:
        raise RequestValidationError(
            [
                {
                    "type": "repeated_parameter",
                    "loc": ("query", name),
                    "msg": "given more than once; this parameter takes one value",
                    "input": request.query_params.getlist(name),
                }
                for name in repeated
            ]
        )

"""``/search``: movies by a few words, with filters and facets (docs/search.md).

The backend (``search.search_backend``: PostgreSQL full-text search, or Meilisearch
when MEILI_URL is set) is created once by ``create_app``; the items it returns have
the movie shape of ``/movies``, read with the same select list.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from api.deps import DbDep, require_published
from api.models import SearchFacetsPublic, SearchResultsPublic
from api.repositories import _movie_summary
from api.routes.params import UNAVAILABLE_RESPONSES, KnownGenreParam
from search import MAX_LIMIT, MAX_OFFSET, MAX_QUERY_LENGTH, SearchError, SearchQuery

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/search",
    tags=["search"],
    dependencies=[Depends(require_published)],
    responses=UNAVAILABLE_RESPONSES,
)

ITEM_COLUMNS = _movie_summary()


@router.get("", response_model=SearchResultsPublic)
async def search_movies(
    request: Request,
    db: DbDep,
    genre: KnownGenreParam,
    q: Annotated[
        str,
        Query(
            max_length=MAX_QUERY_LENGTH,
            description=(
                "Words to find in titles, original titles, keywords, genres and overviews; "
                "the last word may be half typed, and a word of 5 letters or more may have "
                "one typo. Accents and case do not matter; any other character only "
                "separates words. Empty: every movie matching the filters, most popular "
                f"first. At most {MAX_QUERY_LENGTH} characters."
            ),
        ),
    ] = "",
    year: Annotated[int | None, Query(ge=1800, le=2200, description="Release year.")] = None,
    decade: Annotated[
        int | None,
        Query(
            ge=1800,
            le=2200,
            multiple_of=10,
            description="Release decade, as its first year (e.g. `1990`).",
        ),
    ] = None,
    min_rating: Annotated[
        float | None,
        Query(ge=0, le=10, allow_inf_nan=False, description="Minimum vote_average."),
    ] = None,
    language: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z]{2}$",
            description="Original language, an ISO 639-1 code in lower case (e.g. `fr`).",
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items to return, 1 to {MAX_LIMIT}.")
    ] = 20,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description=f"Items to skip, at most {MAX_OFFSET}.")
    ] = 0,
) -> SearchResultsPublic:
    query = SearchQuery(
        q=q,
        genre=None if genre is None else genre.name,
        year=year,
        decade=decade,
        min_rating=min_rating,
        language=language,
        limit=limit,
        offset=offset,
    )
    try:
        page = await request.app.state.search.search(db, query, item_columns=ITEM_COLUMNS)
    except SearchError as exc:
        # Meilisearch down, slow or without its index: the engine's fault, not the request's
        log.warning("GET /search: %s", exc)
        raise HTTPException(
            status_code=503, detail=f"search unavailable: {exc}", headers={"retry-after": "5"}
        ) from None
    return SearchResultsPublic(
        items=page.items,
        total=page.total,
        limit=limit,
        offset=offset,
        facets=SearchFacetsPublic(
            genres=page.facets.get("genres", {}), decades=page.facets.get("decades", {})
        ),
    )

"""The search interface both backends implement, and the query they answer.

A backend answers one ``SearchQuery`` with one ``SearchPage``. Its items have the
movie shape of ``/movies``: the API passes the select list (``item_columns``, over
``artifacts.movie_catalog`` aliased ``movie``) so the movie shape stays the API's,
and the backend reads the page's items with it in one statement (the PostgreSQL
backend: the whole page, matches, total and facets included, is one statement, so a
publish between statements can never mix two data versions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from psycopg import AsyncConnection, sql

MAX_QUERY_LENGTH = 200  # characters of `q`; longer is a 422 naming `q`
# The deepest page of /search: `offset` and `limit` beyond these are a 422. Meilisearch
# counts and pages through at most `maxTotalHits` hits, which the index sets to their sum.
MAX_OFFSET = 10_000
MAX_LIMIT = 100


@dataclass(frozen=True)
class SearchQuery:
    """What ``GET /search`` asks; every value is already validated by the API."""

    q: str = ""  # empty: no text, list the filtered catalog by popularity
    genre: str | None = None  # a known genre name, as in the catalog
    year: int | None = None
    decade: int | None = None
    min_rating: float | None = None
    language: str | None = None  # ISO 639-1, lower case
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class SearchPage:
    """One page of hits, best first, with the totals and facets of the whole match."""

    items: list[dict[str, Any]]
    total: int
    total_is_exact: bool  # PostgreSQL counts; Meilisearch estimates
    # over the whole matched set: {"genres": {name: count}, "decades": {"1990": count}}
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


class SearchBackend(Protocol):
    """PostgreSQL full-text search (the default) or Meilisearch (MEILI_URL set)."""

    name: str  # "postgres" or "meilisearch"

    async def search(
        self, db: AsyncConnection, query: SearchQuery, *, item_columns: sql.Composable
    ) -> SearchPage:
        """The page of ``query``; ``db`` is the API's connection to the warehouse."""
        ...

    async def close(self) -> None:
        """Release what the backend holds (HTTP sessions)."""
        ...

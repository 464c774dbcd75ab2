"""Search: one interface (``search.base``), two backends chosen by MEILI_URL.

Public entry points: ``SearchQuery``, ``SearchPage``, ``SearchBackend``,
``MAX_QUERY_LENGTH``, ``MAX_OFFSET``, ``MAX_LIMIT`` and ``search_backend(settings)``
for the API; for the chain, the index step ``run_index(warehouse, options, sink)``,
``pending_index_swap(warehouse, candidate)`` (the publish's index swap) and
``SEARCH_DBT_SELECTION`` (the dbt selection that rebuilds the search artifacts).
"""

from __future__ import annotations

from moviemetric.config import Settings
from search.base import (
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_QUERY_LENGTH,
    SearchBackend,
    SearchPage,
    SearchQuery,
)
from search.errors import IndexBuildError, SearchError
from search.index import SEARCH_DBT_SELECTION, IndexSwap, pending_index_swap, run_index


def search_backend(settings: Settings) -> SearchBackend:
    """Meilisearch when MEILI_URL is set, else PostgreSQL full-text search."""
    if settings.meili_url:
        from search.meili import MeiliSearch

        return MeiliSearch(settings)
    from search.postgres import PostgresSearch

    return PostgresSearch(settings)


__all__ = [
    "MAX_LIMIT",
    "MAX_OFFSET",
    "MAX_QUERY_LENGTH",
    "SEARCH_DBT_SELECTION",
    "IndexBuildError",
    "IndexSwap",
    "SearchBackend",
    "SearchError",
    "SearchPage",
    "SearchQuery",
    "pending_index_swap",
    "run_index",
    "search_backend",
]

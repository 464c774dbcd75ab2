"""The Meilisearch backend: the query side (``MeiliSearch``) and the index builder.

Query: the text goes only as Meilisearch's ``q``; each filter is built from a value of
a checked type and a string is quoted and escaped per Meilisearch's filter grammar, so
no input is ever read as filter syntax. Meilisearch answers the hit ids, their
estimated total and the facet counts; the items are then read in one statement from
``artifacts.movie_catalog`` with the API's select list, in hit order. The official
client is synchronous (``requests``), so the API calls it in a worker thread
(``asyncio.to_thread``); one search is one HTTP request.

Index: ``MeiliIndexer`` builds a fresh index (uid ``movies_build_<token>``) from a
schema's ``search_documents``: create it, apply ``INDEX_SETTINGS``, add the documents in
batches streamed from PostgreSQL with a server-side cursor, waiting for every task with
a timeout sized to its work. ``swap`` then exchanges it with the live index ``movies``
in one atomic ``/swap-indexes`` task (creating an empty live index first on the very
first build), after which the build uid holds the old documents and is deleted. A
failed or timed-out task deletes the half-built index, leaves the live one as it was
and raises ``IndexBuildError`` with the task's error.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import meilisearch
import psycopg
from meilisearch.errors import MeilisearchApiError, MeilisearchError, MeilisearchTimeoutError
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from moviemetric.config import Settings
from moviemetric.warehouse import PUBLISHED_SCHEMA
from search.base import MAX_LIMIT, MAX_OFFSET, SearchPage, SearchQuery
from search.errors import IndexBuildError, SearchError

log = logging.getLogger(__name__)

LIVE_INDEX = "movies"  # the index every search reads
BUILD_INDEX_PREFIX = "movies_build_"  # + the build's token: an index not yet swapped in
PRIMARY_KEY = "movie_id"
DOCUMENT_COLUMNS = (
    "movie_id",
    "title",
    "original_title",
    "overview",
    "genres",
    "keywords",
    "release_date",
    "release_year",
    "release_decade",
    "original_language",
    "vote_average",
    "vote_count",
    "popularity",
)
FACETS = ("genres", "release_decade")  # -> SearchPage.facets "genres" and "decades"

INDEX_SETTINGS: dict[str, Any] = {
    # the order is the attribute ranking rule's: a title match beats an overview match
    "searchableAttributes": ["title", "original_title", "keywords", "genres", "overview"],
    "filterableAttributes": [
        "release_year",
        "release_decade",
        "genres",
        "vote_average",
        "vote_count",
        "original_language",
    ],
    "sortableAttributes": ["popularity", "vote_average", "release_date"],
    # Meilisearch's default rules, then popularity (and votes) break the remaining ties
    "rankingRules": [
        "words",
        "typo",
        "proximity",
        "attribute",
        "sort",
        "exactness",
        "popularity:desc",
        "vote_count:desc",
    ],
    # Meilisearch's defaults, stated so that a changed default cannot change relevance
    "typoTolerance": {"enabled": True, "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9}},
    "pagination": {"maxTotalHits": MAX_OFFSET + MAX_LIMIT},
}

# a search waits this long for Meilisearch, then answers 503 (index builds wait longer)
SEARCH_TIMEOUT_SECONDS = 2.0

_LANGUAGE = re.compile(r"[a-z]{2}")  # ISO 639-1, as the catalog stores it


def meili_client(settings: Settings, *, timeout: float = 10.0) -> meilisearch.Client:
    """The official client for MEILI_URL (with MEILI_MASTER_KEY, when set)."""
    if not settings.meili_url:
        raise SearchError("MEILI_URL is not set: there is no Meilisearch to talk to")
    key = settings.meili_master_key.get_secret_value() if settings.meili_master_key else None
    return meilisearch.Client(settings.meili_url, key, timeout=timeout)


# --- query ------------------------------------------------------------------------------


def quote_filter_value(value: str) -> str:
    """``value`` as one double-quoted string of Meilisearch's filter grammar."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def search_filters(query: SearchQuery) -> list[str]:
    """The query's filters, one condition each (Meilisearch ANDs a list's elements).

    Numbers are formatted from checked ints and finite floats, the genre is quoted,
    the language must be an ISO 639-1 code: nothing passes through as filter syntax.
    """
    filters = []
    if query.genre is not None:
        filters.append(f"genres = {quote_filter_value(str(query.genre))}")
    if query.year is not None:
        filters.append(f"release_year = {_integer('year', query.year)}")
    if query.decade is not None:
        filters.append(f"release_decade = {_integer('decade', query.decade)}")
    if query.min_rating is not None:
        rating = query.min_rating
        if isinstance(rating, bool) or not isinstance(rating, int | float):
            raise ValueError(f"min_rating must be a number, got {rating!r}")
        if not math.isfinite(rating):
            raise ValueError(f"min_rating must be finite, got {rating!r}")
        filters.append(f"vote_average >= {float(rating)!r}")
    if query.language is not None:
        if not isinstance(query.language, str) or not _LANGUAGE.fullmatch(query.language):
            raise ValueError(f"language must be an ISO 639-1 code, got {query.language!r}")
        filters.append(f"original_language = {quote_filter_value(query.language)}")
    return filters


def _integer(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


def search_payload(query: SearchQuery) -> dict[str, Any]:
    """The body of ``POST /indexes/movies/search`` for ``query`` (``q`` included)."""
    payload: dict[str, Any] = {
        "q": query.q,
        "limit": query.limit,
        "offset": query.offset,
        "attributesToRetrieve": [PRIMARY_KEY],
        "facets": list(FACETS),
    }
    filters = search_filters(query)
    if filters:
        payload["filter"] = filters
    if not query.q.strip():
        # no text to rank by: list the filtered catalog by popularity
        payload["sort"] = ["popularity:desc", "vote_count:desc"]
    return payload


@dataclass(frozen=True)
class SearchHits:
    """What Meilisearch answered: hit ids best first, estimated total, facet counts."""

    ids: list[int]
    total: int
    facets: dict[str, dict[str, int]]


def read_search_response(response: dict[str, Any]) -> SearchHits:
    """Read Meilisearch's search response: hits, estimatedTotalHits, facetDistribution."""
    distribution = response.get("facetDistribution") or {}
    return SearchHits(
        ids=[int(hit[PRIMARY_KEY]) for hit in response.get("hits", [])],
        total=int(response.get("estimatedTotalHits", 0)),
        facets={
            "genres": {str(k): int(v) for k, v in distribution.get("genres", {}).items()},
            "decades": {str(k): int(v) for k, v in distribution.get("release_decade", {}).items()},
        },
    )


_ITEMS_QUERY = sql.SQL(
    "select {columns} from unnest(%(ids)s::bigint[]) with ordinality as hit (movie_id, position)"
    " join {catalog} as movie on movie.movie_id = hit.movie_id order by hit.position"
)


class MeiliSearch:
    """``SearchBackend`` on Meilisearch (MEILI_URL set)."""

    name = "meilisearch"

    def __init__(self, settings: Settings) -> None:
        self._client = meili_client(settings, timeout=SEARCH_TIMEOUT_SECONDS)
        self._index = self._client.index(LIVE_INDEX)

    async def search(
        self, db: AsyncConnection, query: SearchQuery, *, item_columns: sql.Composable
    ) -> SearchPage:
        payload = search_payload(query)
        text = payload.pop("q")
        try:
            response = await asyncio.to_thread(self._index.search, text, payload)
        except MeilisearchError as exc:
            raise SearchError(f"Meilisearch search failed: {_first_line(exc)}") from exc
        hits = read_search_response(response)
        items: list[dict[str, Any]] = []
        if hits.ids:
            statement = _ITEMS_QUERY.format(
                columns=item_columns,
                catalog=sql.Identifier(PUBLISHED_SCHEMA, "movie_catalog"),
            )
            async with db.cursor(row_factory=dict_row) as cursor:
                await cursor.execute(statement, {"ids": hits.ids})
                items = await cursor.fetchall()
        return SearchPage(items=items, total=hits.total, total_is_exact=False, facets=hits.facets)

    async def close(self) -> None:
        # the client opens a connection per request and keeps no session to release
        return None


def _first_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())[:300]


# --- index ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltIndex:
    """A complete index not yet live: ``uid`` holds ``documents`` documents."""

    uid: str
    documents: int
    batches: int


class MeiliIndexer:
    """Builds, swaps and deletes indexes; every task is waited for within a timeout.

    A task's timeout is ``task_timeout + per_document_timeout * documents`` seconds:
    index creation, settings and swaps count no documents, a batch its size.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        batch_size: int = 5_000,
        task_timeout: float = 60.0,
        per_document_timeout: float = 0.01,
        poll_interval: float = 0.1,
    ) -> None:
        self.client = meili_client(settings)
        self.batch_size = batch_size
        self.task_timeout = task_timeout
        self.per_document_timeout = per_document_timeout
        self.poll_interval = poll_interval

    @staticmethod
    def new_uid(token: str = "") -> str:
        return BUILD_INDEX_PREFIX + (token or uuid.uuid4().hex)

    def build(
        self,
        url: str,
        schema: str,
        uid: str,
        *,
        progress: Any = None,
    ) -> BuiltIndex:
        """A fresh index ``uid`` holding ``schema.search_documents``, settings applied.

        On any failure the half-built index is deleted and ``IndexBuildError`` raised;
        the live index is never touched here.
        """
        documents = batches = 0
        try:
            self._wait(self.client.create_index(uid, {"primaryKey": PRIMARY_KEY}), uid)
            self._wait(self.client.index(uid).update_settings(INDEX_SETTINGS), uid)
            total = _document_count(url, schema)
            for batch in _document_batches(url, schema, self.batch_size):
                task = self.client.index(uid).add_documents(batch, primary_key=PRIMARY_KEY)
                self._wait(task, uid, documents=len(batch))
                documents += len(batch)
                batches += 1
                if progress is not None:
                    progress(documents, total)
        except BaseException as exc:
            self.delete(uid)
            if isinstance(exc, IndexBuildError):
                raise
            if isinstance(exc, MeilisearchError):
                raise IndexBuildError(
                    f"building Meilisearch index {uid} failed: {_first_line(exc)}; "
                    f"the live index {LIVE_INDEX!r} is unchanged"
                ) from exc
            raise
        return BuiltIndex(uid=uid, documents=documents, batches=batches)

    def swap(self, uid: str) -> None:
        """Make ``uid`` live in one atomic swap; ``uid`` then holds the old documents."""
        try:
            self._ensure_live_index()
            self._wait(self.client.swap_indexes([{"indexes": [LIVE_INDEX, uid]}]), uid)
        except MeilisearchError as exc:
            raise IndexBuildError(
                f"swapping Meilisearch index {uid} in as {LIVE_INDEX!r} failed: "
                f"{_first_line(exc)}; the live index is unchanged"
            ) from exc

    def delete(self, uid: str) -> None:
        """Delete ``uid`` and cancel its pending tasks; a failure is only logged."""
        try:
            self.client.cancel_tasks({"indexUids": [uid], "statuses": ["enqueued", "processing"]})
            self._wait(self.client.delete_index(uid), uid)
        except (MeilisearchError, IndexBuildError) as exc:
            log.warning("could not delete Meilisearch index %s: %s", uid, _first_line(exc))

    def delete_stale_builds(self, keep: str = "") -> list[str]:
        """Delete build indexes a dead run left behind (never swapped in); their uids."""
        stale = []
        try:
            listed = self.client.get_raw_indexes({"limit": 1000})
        except MeilisearchError as exc:
            raise IndexBuildError(
                f"listing Meilisearch indexes at {self.client.config.url} failed: "
                f"{_first_line(exc)}; the live index is unchanged"
            ) from exc
        for entry in listed.get("results", []):
            uid = entry.get("uid", "")
            if uid.startswith(BUILD_INDEX_PREFIX) and uid != keep:
                self.delete(uid)
                stale.append(uid)
        return stale

    def _ensure_live_index(self) -> None:
        """The very first build has no live index to swap with: create an empty one."""
        try:
            self.client.get_raw_index(LIVE_INDEX)
        except MeilisearchApiError as exc:
            if exc.code != "index_not_found":
                raise
            created = self.client.create_index(LIVE_INDEX, {"primaryKey": PRIMARY_KEY})
            self._wait(created, LIVE_INDEX)

    def _wait(self, info: Any, index_uid: str, *, documents: int = 0) -> None:
        """Wait for the enqueued task ``info``; raise with its error unless it succeeded."""
        timeout = self.task_timeout + self.per_document_timeout * documents
        try:
            task = self.client.wait_for_task(
                info.task_uid,
                timeout_in_ms=int(timeout * 1000),
                interval_in_ms=int(self.poll_interval * 1000),
            )
        except MeilisearchTimeoutError:
            raise IndexBuildError(
                f"Meilisearch task {info.task_uid} ({info.type}) on index {index_uid} did not "
                f"finish within {round(timeout, 1):g} s; "
                f"the live index {LIVE_INDEX!r} is unchanged"
            ) from None
        if task.status != "succeeded":
            error = task.error or {}
            reason = " ".join(str(error.get("message") or task.status).split())
            code = f" [{error['code']}]" if error.get("code") else ""
            raise IndexBuildError(
                f"Meilisearch task {task.uid} ({task.type}) on index {index_uid} "
                f"{task.status}: {reason}{code}; the live index {LIVE_INDEX!r} is unchanged"
            )


def _document_count(url: str, schema: str) -> int:
    with psycopg.connect(url) as conn:
        table = sql.Identifier(schema, "search_documents")
        return conn.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()[0]


def _document_batches(url: str, schema: str, size: int) -> Iterator[list[dict[str, Any]]]:
    """``schema.search_documents`` in batches of ``size``, through a server-side cursor."""
    statement = sql.SQL("select {columns} from {table} order by movie_id").format(
        columns=sql.SQL(", ").join(sql.Identifier(column) for column in DOCUMENT_COLUMNS),
        table=sql.Identifier(schema, "search_documents"),
    )
    with (
        psycopg.connect(url, application_name="moviemetric-index") as conn,
        conn.cursor(name="search_documents", row_factory=dict_row) as cursor,
    ):
        cursor.itersize = size
        cursor.execute(statement)
        while rows := cursor.fetchmany(size):
            yield [_document(row) for row in rows]


def _document(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON Meilisearch reads: dates as ISO text, arrays as lists."""
    return {
        key: value.isoformat() if isinstance(value, date) else value for key, value in row.items()
    }

"""The sandbox's HTTP API: a raw ASGI app that answers like TMDB v3 under ``/3``.

A plain ASGI callable (no framework) keeps per-request work small: route by string
split, read the cached per-day arrays of the catalog, build the few dicts a page needs,
serialise with orjson. Bodies and status codes follow the real API
(tests/fixtures/tmdb/ holds their shapes).
"""

from __future__ import annotations

import asyncio
import gzip
import math
import re
import time
from collections import Counter, OrderedDict
from datetime import UTC, date, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl

import orjson

from ingest.sandbox.catalog import Catalog, Day, date_of, day_of
from ingest.sandbox.faults import MALFORMED, RATE_LIMIT, SERVER_ERROR, Decision, FaultInjector
from ingest.sandbox.vocabulary import GENRES
from moviemetric.errors import MovieMetricError

API_PREFIX = "/3"
# TMDB's file host: the daily ID exports, no API key (TMDB_EXPORTS_URL in docs/design.md;
# the loader does not read them yet: issue 13)
EXPORTS_PREFIX = "/p/exports"
EXPORT_NAME = re.compile(r"movie_ids_(\d{2})_(\d{2})_(\d{4})\.json\.gz")
EXPORT_KEPT_DAYS = 90  # TMDB keeps about three months of exports
EXPORT_CACHE_DAYS = 3
ROUTE_EXPORTS = "/p/exports/movie_ids_{MM_DD_YYYY}.json.gz"
PAGE_SIZE = 20
CHANGES_PAGE_SIZE = 100
MAX_PAGE = 500
MAX_CHANGES_DAYS = 14

ROUTE_GENRES = "/genre/movie/list"
ROUTE_DISCOVER = "/discover/movie"
ROUTE_MOVIE = "/movie/{movie_id}"
ROUTE_CHANGES = "/movie/changes"
ROUTE_TRENDING = "/trending/movie/{time_window}"

INVALID_API_KEY = {
    "status_code": 7,
    "status_message": "Invalid API key: You must be granted a valid key.",
    "success": False,
}
NOT_FOUND = {
    "status_code": 34,
    "status_message": "The resource you requested could not be found.",
    "success": False,
}
INVALID_PAGE = {
    "status_code": 22,
    "status_message": "Invalid page: Pages start at 1 and max at 500. "
    "They are expected to be an integer.",
    "success": False,
}
INTERNAL_ERROR = {
    "status_code": 11,
    "status_message": "Internal error: Something went wrong, contact TMDb.",
    "success": False,
}
SERVICE_OFFLINE = {
    "status_code": 9,
    "status_message": "Service offline: This service is temporarily offline, try again later.",
    "success": False,
}
BAD_GATEWAY_HTML = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"  # noqa: E501
GENRE_LIST = orjson.dumps({"genres": [{"id": gid, "name": name} for gid, name, _ in GENRES]})

JSON_TYPE = b"application/json;charset=utf-8"


class HttpError(Exception):
    """An error answer: HTTP status and TMDB-shaped body."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def invalid_parameter(message: str) -> HttpError:
    """HTTP 422 with TMDB's validation-error body, naming the bad parameter."""
    return HttpError(422, {"errors": [message]})


def _page(query: dict[str, str]) -> int:
    raw = query.get("page", "1")
    try:
        page = int(raw)
    except ValueError:
        raise HttpError(400, INVALID_PAGE) from None
    if not 1 <= page <= MAX_PAGE:
        raise HttpError(400, INVALID_PAGE)
    return page


def _date_param(query: dict[str, str], name: str) -> date | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid_parameter(
            f"{name} must be a date formatted YYYY-MM-DD, got {raw!r}"
        ) from None


def _bool_param(query: dict[str, str], name: str, default: bool) -> bool:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise invalid_parameter(f"{name} must be true or false, got {raw!r}")


def _paged(total: int, page: int, page_size: int) -> tuple[int, int, int]:
    """(start, stop, total_pages) of ``page``; TMDB reports the true page count even
    beyond the 500-page cap."""
    start = (page - 1) * page_size
    return start, min(start + page_size, total), math.ceil(total / page_size)


class SandboxApp:
    """ASGI app over a Catalog.

    The catalog's current day is ``pinned_day`` (or today's UTC date when None, so a
    long-running sandbox follows the clock) plus ``advanced_days``.
    """

    def __init__(
        self, catalog: Catalog, pinned_day: int | None, api_key: str, access_token: str
    ) -> None:
        self.catalog = catalog
        self.pinned_day = pinned_day
        self.advanced_days = 0
        self.api_key = api_key
        self.access_token = access_token
        self._bearer = f"Bearer {access_token}".encode()
        self.request_counts: Counter[str] = Counter()
        self.faults = FaultInjector()
        self._date_header: tuple[int, int, bytes] = (0, 0, b"")
        self._exports: OrderedDict[int, bytes] = OrderedDict()
        self.exports_behind = 0  # the last days whose export is not out yet (404)

    @property
    def day(self) -> int:
        base = self.pinned_day
        if base is None:
            base = day_of(datetime.now(UTC).date())
        return base + self.advanced_days

    # ----- ASGI -----------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        status, body, extra_headers, decision = self._respond(scope)
        if decision.delay:
            await asyncio.sleep(decision.delay)
        if decision.fault == MALFORMED:
            body = body[: max(1, min(len(body) - 1, int(len(body) * decision.cut)))]
        headers = [
            (b"content-length", str(len(body)).encode()),
            (b"date", self._date()),
            *extra_headers,
        ]
        if not any(name == b"content-type" for name, _ in extra_headers):
            headers.append((b"content-type", JSON_TYPE))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _lifespan(receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _date(self) -> bytes:
        """The Date header: the catalog date at the current UTC time of day."""
        second = int(time.time())
        today = self.day
        day, cached_second, value = self._date_header
        if day == today and cached_second == second:
            return value
        clock = datetime.fromtimestamp(second, UTC)
        moment = datetime.combine(date_of(today), clock.timetz())
        value = format_datetime(moment, usegmt=True).encode()
        self._date_header = (today, second, value)
        return value

    def _respond(self, scope) -> tuple[int, bytes, list[tuple[bytes, bytes]], Decision]:
        """(status, body, extra headers, fault decision) for one request."""
        path = scope["path"]
        if path.startswith(EXPORTS_PREFIX + "/"):
            return self._export(path[len(EXPORTS_PREFIX) + 1 :])
        route, argument = self._route(path)
        if route is None:
            return 404, orjson.dumps(NOT_FOUND), [], Decision()
        self.request_counts[route] += 1
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        if not self._authorised(scope, query):
            return 401, orjson.dumps(INVALID_API_KEY), [], Decision()
        if scope["method"] != "GET":
            body = {"errors": [f"method {scope['method']} is not allowed on {path}; use GET"]}
            return 405, orjson.dumps(body), [(b"allow", b"GET")], Decision()
        decision = self.faults.decide(route)
        if decision.fault == RATE_LIMIT:
            body = {
                "status_code": 25,
                "status_message": (
                    f"Your request count ({decision.request_number}) is over the allowed "
                    "limit of (40)."
                ),
                "success": False,
            }
            return 429, orjson.dumps(body), [(b"retry-after", b"1")], decision
        if decision.fault == SERVER_ERROR:
            if decision.status == 502:
                return 502, BAD_GATEWAY_HTML, [(b"content-type", b"text/html")], decision
            body = INTERNAL_ERROR if decision.status == 500 else SERVICE_OFFLINE
            return decision.status, orjson.dumps(body), [], decision
        try:
            body = self._handle(route, argument, query)
        except HttpError as error:
            return error.status, orjson.dumps(error.body), [], decision
        return 200, body, [], decision

    def _export(self, name: str) -> tuple[int, bytes, list[tuple[bytes, bytes]], Decision]:
        """A daily movie ID export (``movie_ids_MM_DD_YYYY.json.gz``): gzipped JSON lines
        for a day up to the catalog date (less ``exports_behind`` days) and not older than
        EXPORT_KEPT_DAYS; a 404 for any other name or day, as the file host answers."""
        missing = 404, b"Not Found", [(b"content-type", b"text/plain")], Decision()
        match = EXPORT_NAME.fullmatch(name)
        if match is None:
            return missing
        month, day_of_month, year = (int(part) for part in match.groups())
        try:
            day = day_of(date(year, month, day_of_month))
        except ValueError:
            return missing
        if not self.day - EXPORT_KEPT_DAYS <= day <= self.day - self.exports_behind:
            return missing
        self.request_counts[ROUTE_EXPORTS] += 1
        body = self._exports.get(day)
        if body is None:
            lines = self.catalog.id_export_lines(date_of(day))
            body = gzip.compress(b"".join(orjson.dumps(line) + b"\n" for line in lines))
            self._exports[day] = body
            while len(self._exports) > EXPORT_CACHE_DAYS:
                self._exports.popitem(last=False)
        return 200, body, [(b"content-type", b"application/gzip")], Decision()

    @staticmethod
    def _route(path: str) -> tuple[str | None, str]:
        if not path.startswith(API_PREFIX + "/"):
            return None, ""
        parts = path[len(API_PREFIX) + 1 :].rstrip("/").split("/")
        if len(parts) == 2:
            if parts[0] == "movie":
                if parts[1] == "changes":
                    return ROUTE_CHANGES, ""
                return ROUTE_MOVIE, parts[1]
            if parts == ["discover", "movie"]:
                return ROUTE_DISCOVER, ""
        elif len(parts) == 3:
            if parts == ["genre", "movie", "list"]:
                return ROUTE_GENRES, ""
            if parts[:2] == ["trending", "movie"]:
                return ROUTE_TRENDING, parts[2]
        return None, ""

    def _authorised(self, scope, query: dict[str, str]) -> bool:
        if query.get("api_key") == self.api_key:
            return True
        for name, value in scope["headers"]:
            if name == b"authorization":
                return value == self._bearer
        return False

    # ----- endpoints ------------------------------------------------------------

    def _handle(self, route: str, argument: str, query: dict[str, str]) -> bytes:
        if route == ROUTE_MOVIE:
            return self._movie(argument, query)
        if route == ROUTE_DISCOVER:
            return self._discover(query)
        if route == ROUTE_GENRES:
            return GENRE_LIST
        if route == ROUTE_CHANGES:
            return self._changes(query)
        return self._trending(argument, query)

    def _state(self) -> Day:
        return self.catalog.day_state(self.day)

    def _movie(self, argument: str, query: dict[str, str]) -> bytes:
        if not argument.isdigit():
            raise HttpError(404, NOT_FOUND)
        state = self._state()
        index = self.catalog.index_of(int(argument), state.day)
        if index is None:
            raise HttpError(404, NOT_FOUND)
        append = tuple(
            part.strip() for part in query.get("append_to_response", "").split(",") if part
        )
        return orjson.dumps(self.catalog.details(index, state, append))

    def _list_page(self, indexes, page: int, state: Day, extra: dict | None = None) -> bytes:
        total = len(indexes)
        start, stop, total_pages = _paged(total, page, PAGE_SIZE)
        results = []
        for index in indexes[start:stop].tolist():
            item = self.catalog.list_item(index, state)
            if extra:
                item.update(extra)
            results.append(item)
        return orjson.dumps(
            {"page": page, "results": results, "total_pages": total_pages, "total_results": total}
        )

    def _discover(self, query: dict[str, str]) -> bytes:
        page = _page(query)
        sort_by = query.get("sort_by") or "popularity.desc"
        include_adult = _bool_param(query, "include_adult", False)
        gte = _date_param(query, "primary_release_date.gte")
        lte = _date_param(query, "primary_release_date.lte")
        state = self._state()
        try:
            indexes = self.catalog.discover(state.day, sort_by, include_adult, gte, lte)
        except MovieMetricError as error:  # the catalog names the bad sort_by
            raise invalid_parameter(str(error)) from None
        return self._list_page(indexes, page, state)

    def _trending(self, window: str, query: dict[str, str]) -> bytes:
        if window not in ("day", "week"):
            raise invalid_parameter(f"time_window must be day or week, got {window!r}")
        page = _page(query)
        state = self._state()
        order, _ = self.catalog.trending(state.day, window)
        return self._list_page(order, page, state, {"media_type": "movie"})

    def _changes(self, query: dict[str, str]) -> bytes:
        page = _page(query)
        today = date_of(self.day)
        end = _date_param(query, "end_date") or today
        start = _date_param(query, "start_date") or min(end, today)
        if end < start:
            raise invalid_parameter(
                f"invalid date range: end_date {end} is before start_date {start}"
            )
        if (end - start).days > MAX_CHANGES_DAYS:
            raise invalid_parameter("invalid date range: should be a range no longer than 14 days")
        # the future has not changed yet
        ids, adult = self.catalog.changes(day_of(start), day_of(min(end, today)))
        first, stop, total_pages = _paged(len(ids), page, CHANGES_PAGE_SIZE)
        results = [
            {"id": movie_id, "adult": None if flag < 0 else bool(flag)}
            for movie_id, flag in zip(
                ids[first:stop].tolist(), adult[first:stop].tolist(), strict=True
            )
        ]
        return orjson.dumps(
            {
                "results": results,
                "page": page,
                "total_pages": total_pages,
                "total_results": len(ids),
            }
        )

"""The dlt source for TMDB v3 (docs/architecture.md, "Raw layer").

One ``@dlt.source(name="tmdb")``: dlt's REST client (auth, paginators, retries) and a
declarative ``RESTAPIConfig`` for the genres, plus the Python the declarative form
cannot say:

- the catalog: TMDB's daily movie ID export (``ingest.id_export``, streamed) lists
  every movie of the day, undated ones included, with its popularity: every exported
  id (adult ones only when asked) becomes that day's popularity snapshot, and its
  votes come from the first ``/discover/movie`` pages by popularity when the movie is
  among them (null otherwise: the details carry them);
- which movies get details (``DetailSelection``): every exported id on a backfill,
  afterwards the exported ids ``/movie/changes`` names since the last successful load
  plus exported ids not in ``raw_tmdb.movies`` yet (read from the table, not kept in
  dlt's state);
- the details themselves: a transformer that fetches a batch of ids in each of dlt's
  extract workers (``dlt.defer``), where the declarative dependent resource ran its
  paginator and pipe machinery once per movie (bench/README.md, "Load");
- the trending list, ranked across pages;
- a shared client-side rate limit (dlt only retries a 429 after it happened);
- the retries of dlt's client, logged and bounded per request and per load
  (``ingest.retry``: at most 5 attempts a request, waits of 1, 2, 4, 8 s, and at most
  60 s of retry waits within 10 minutes a load; then the load fails naming the last
  status and path).

The resources are order-free: the detail ids reach the details fetch through dlt's
pipes (``movie_popularity_snapshots | movie_ids | movies``), not through shared state,
so ``ingest.pipeline`` extracts the whole source at once and loads one package.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import dlt
import orjson
import requests
from dlt.common.configuration import configspec
from dlt.common.jsonpath import compile_path
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract import DltResource
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import APIKeyAuth, AuthConfigBase, BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator
from dlt.sources.helpers.rest_client.redaction import sanitize_url
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources

from ingest.id_export import ExportEntry, IdExport, IdExportError, IdSet, export_file_name
from ingest.ratelimit import RateLimitedAdapter, TokenBucket
from ingest.retry import MalformedResponseError, RetryPolicy, RetrySettings, display_path
from moviemetric.config import DEFAULT_TMDB_EXPORTS_URL
from moviemetric.errors import MovieMetricError
from moviemetric.warehouse import SNAPSHOTS_TABLE

log = logging.getLogger(__name__)
DLT_LOGGER = "dlt"  # dlt's own logger
_DLT_LOG = logging.getLogger(DLT_LOGGER)

# /discover/movie: 20 results a page, pages 1..500; page 501 is an error.
DISCOVER_PAGE_SIZE = 20
DISCOVER_MAX_PAGES = 500
# /movie/changes accepts at most 14 days per request (start and end included).
CHANGES_MAX_DAYS = 14
# /trending/movie/day: the first pages are enough for the top 100.
TRENDING_PAGES = 5
# /movie/{id}: what a detail row is made of, and how many ids one extract worker fetches
# in a row (dlt's per-item work is paid once a batch)
DETAIL_PARAMS = {"append_to_response": "keywords,credits"}
DETAIL_BATCH = 20

# dlt compiles a JSONPath string on every response (about 1.5 ms); compile them once.
RESULTS_PATH = compile_path("results")
TOTAL_PAGES_PATH = compile_path("total_pages")
GENRES_PATH = compile_path("genres")

SOURCE_NAME = "tmdb"
MOVIES_TABLE = "movies"  # the details, one row per /movie/{id}
# The source's dlt state: the date of the last successful load (the ``/movie/changes``
# of the next run start there). The known ids are read from raw_tmdb.movies instead.
LAST_LOAD_DATE = "last_load_date"

# Kept from /movie/{id}; bulky lists (production companies, spoken languages, ...) are dropped.
MOVIE_FIELDS = (
    "id",
    "title",
    "original_title",
    "original_language",
    "overview",
    "release_date",
    "adult",
    "popularity",
    "vote_average",
    "vote_count",
    "runtime",
    "budget",
    "revenue",
    "status",
    "imdb_id",
    "tagline",
    "homepage",
    "poster_path",
    "backdrop_path",
    "video",
)
FIRST_BILLED_CAST = 5  # actors a movie is known by, in billing order
MOVIE_REQUIRED_FIELDS = ("id", "title", "popularity", "vote_average", "vote_count", "genres")
DISCOVER_REQUIRED_FIELDS = ("id", "popularity", "vote_average", "vote_count")


def _column(data_type: str, *, nullable: bool = True, **hints: Any) -> dict[str, Any]:
    # a fresh dict per column: dlt writes the column name into each hint it is given
    return {"data_type": data_type, "nullable": nullable, **hints}


def _loaded_at() -> dict[str, Any]:
    return _column("timestamp", nullable=False, timezone=True)


# Explicit types: JSON sends 0 for an unrated float and null for many text fields, so
# inference alone would make variant columns or leave columns out.
MOVIE_COLUMNS: TTableSchemaColumns = {
    "id": _column("bigint", nullable=False),
    **{name: _column("text") for name in ("title", "original_title", "original_language")},
    "overview": _column("text"),
    "release_date": _column("text"),
    "adult": _column("bool"),
    **{name: _column("double") for name in ("popularity", "vote_average")},
    **{name: _column("bigint") for name in ("vote_count", "runtime", "budget", "revenue")},
    **{
        name: _column("text")
        for name in ("status", "imdb_id", "tagline", "homepage", "poster_path", "backdrop_path")
    },
    "video": _column("bool"),
    "collection_id": _column("bigint"),
    "collection_name": _column("text"),
    # the credited people as one jsonb array, not a child table: a movie's few people
    # are read together, and a child table would double the rows the loader normalises
    "credits": _column("json"),
    "_loaded_at": _loaded_at(),
}
GENRE_COLUMNS: TTableSchemaColumns = {
    "id": _column("bigint", nullable=False),
    "name": _column("text"),
    "_loaded_at": _loaded_at(),
}
SNAPSHOT_COLUMNS: TTableSchemaColumns = {
    "id": _column("bigint", nullable=False),
    "snapshot_date": _column("date", nullable=False),
    "popularity": _column("double"),
    "vote_average": _column("double"),
    "vote_count": _column("bigint"),
    "_loaded_at": _loaded_at(),
}
TRENDING_COLUMNS: TTableSchemaColumns = {
    "id": _column("bigint", nullable=False),
    "trend_date": _column("date", nullable=False),
    "time_window": _column("text", nullable=False),
    "position": _column("bigint", nullable=False),
    "popularity": _column("double"),
    "_loaded_at": _loaded_at(),
}


class TmdbError(MovieMetricError):
    """TMDB (or the sandbox) could not be loaded from; the message names the URL."""


class TmdbAuthError(TmdbError):
    """TMDB rejected the credentials (HTTP 401)."""


class TmdbUnreachableError(TmdbError):
    """No answer from the TMDB server after retries."""


class TmdbResponseError(TmdbError):
    """TMDB answered with an error status or with something that is not TMDB's JSON."""


@configspec
class QueryKeyAuth(APIKeyAuth):
    """dlt's API key as a query parameter, appended to the prepared URL: dlt's re-parses and
    re-encodes the whole URL to add it, on every request (2% of a backfill's CPU)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if "#" in request.url:  # the key goes before a fragment: dlt's way places it
            return super().__call__(request)
        separator = "&" if "?" in request.url else "?"
        request.url += separator + urlencode({self.name: self.api_key})
        return request


@dataclass(frozen=True)
class TmdbEndpoint:
    """Where TMDB is and how to authenticate: a v3 key (query) or a v4 token (Bearer)."""

    base_url: str
    api_key: str | None = None
    access_token: str | None = None
    exports_url: str = DEFAULT_TMDB_EXPORTS_URL  # the daily ID exports (no credential)

    def auth(self) -> AuthConfigBase:
        if self.access_token:
            return BearerTokenAuth(token=self.access_token)
        if self.api_key:
            return QueryKeyAuth(name="api_key", api_key=self.api_key, location="query")
        raise TmdbError("no TMDB credential: set TMDB_API_KEY or TMDB_ACCESS_TOKEN")

    @property
    def credential_names(self) -> str:
        return "TMDB_ACCESS_TOKEN" if self.access_token else "TMDB_API_KEY"


class _JsonCheckingAdapter(RateLimitedAdapter):
    """Rate-limits every attempt, sends nothing once the load gave up, turns a 2xx body
    that is not JSON into a retryable error, and parses a body once (orjson)."""

    def __init__(self, bucket: TokenBucket, policy: RetryPolicy, **kwargs: Any) -> None:
        super().__init__(bucket, **kwargs)
        self.policy = policy

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.policy.check_open()
        response = super().send(request, **kwargs)
        if response.ok and not kwargs.get("stream"):
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError as exc:
                raise MalformedResponseError(
                    f"not valid JSON ({exc}) from {sanitize_url(response.url)}",
                    request=request,
                    response=response,
                ) from exc
            # dlt's client and paginator call response.json() up to three times a
            # response, each a fresh parse with the standard library: hand them this one
            response.json = lambda **_: body  # type: ignore[method-assign]
        return response


def make_session(
    requests_per_second: float, concurrency: int, policy: RetryPolicy
) -> requests.Session:
    """dlt's retrying session (429/5xx/connection errors, Retry-After), its retries
    logged and bounded by ``policy``, over a rate-limited, JSON-checking adapter."""
    client = Client(
        raise_for_status=False,
        exceptions=(
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            MalformedResponseError,
        ),
        **policy.settings.client_kwargs(),
    )
    session = client.session
    policy.attach(session)
    adapter = _JsonCheckingAdapter(
        TokenBucket(requests_per_second),
        policy,
        pool_connections=4,
        pool_maxsize=max(concurrency, 4) * 2,
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    _read_environment_once_per_host(session)
    return session


def _read_environment_once_per_host(session: requests.Session) -> None:
    """requests reads the proxy and CA bundle settings from the environment before every
    request (``merge_environment_settings``: a dozen variable reads and a proxy bypass
    check, about 6% of a backfill's CPU). They do not change during a load, and they
    depend only on the URL's scheme and host: read them once for each."""
    merge = session.merge_environment_settings
    known: dict[tuple[str, str], dict[str, Any]] = {}

    def merged(
        url: str, proxies: Mapping[str, str] | None, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if proxies or stream is not None or verify is not None or cert is not None:
            return merge(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        host = (parts.scheme, parts.netloc)
        settings = known.get(host)
        if settings is None:
            settings = known[host] = merge(url, {}, None, None, None)
        return {**settings, "proxies": dict(settings["proxies"])}

    session.merge_environment_settings = merged  # type: ignore[method-assign]


def response_date(response: requests.Response) -> date:
    """The source's date: the HTTP ``Date`` header (UTC), or today's UTC date without one."""
    header = response.headers.get("Date")
    if header:
        try:
            return parsedate_to_datetime(header).astimezone(UTC).date()
        except (TypeError, ValueError):
            log.warning("unparseable Date header %r from %s", header, sanitize_url(response.url))
    return datetime.now(UTC).date()


class LoadProgress:
    """Progress callbacks of a load; this base reports nothing (see ingest.pipeline)."""

    def start(self, task: str, total: int | None) -> None:
        """Begin ``task`` with ``total`` steps (None when unknown)."""

    def advance(self, task: str, amount: int = 1) -> None:
        """``amount`` more steps of ``task`` are done."""

    def add_to_total(self, task: str, amount: int) -> None:
        """``task`` has ``amount`` more steps than it had (it grows as the sweep goes)."""


class _RestClient(RESTClient):
    """dlt's REST client, minus the cost of its per-request INFO line while INFO is off:
    dlt formats and redacts every request's URL before its logger drops the record (3% of
    the loader's CPU in a backfill)."""

    def _log_request(self, request: requests.Request, prepared_url: str) -> None:
        if _DLT_LOG.isEnabledFor(logging.INFO):
            super()._log_request(request, prepared_url)


class TmdbApi:
    """One TMDB connection for a load: base URL, auth, a shared session, the REST config."""

    def __init__(
        self, endpoint: TmdbEndpoint, *, requests_per_second: float, concurrency: int
    ) -> None:
        self.endpoint = endpoint
        self.retries = RetryPolicy(RetrySettings.from_dlt_config())
        self.session = make_session(requests_per_second, concurrency, self.retries)
        self.auth = endpoint.auth()
        self.client = _RestClient(
            base_url=endpoint.base_url,
            auth=self.auth,
            session=self.session,
            paginator=self.page_paginator(),
        )

    @staticmethod
    def page_paginator(maximum_page: int = DISCOVER_MAX_PAGES + 1) -> PageNumberPaginator:
        # The paginator stops *before* maximum_page: 501 keeps pages 1..500.
        return PageNumberPaginator(
            base_page=1, page_param="page", total_path=TOTAL_PAGES_PATH, maximum_page=maximum_page
        )

    def rest_api_config(self, loaded_at: datetime) -> RESTAPIConfig:
        """The declarative part: client, defaults, the genres."""

        def stamp(row: dict[str, Any]) -> dict[str, Any]:
            row["_loaded_at"] = loaded_at
            return row

        return {
            "client": {
                "base_url": self.endpoint.base_url,
                "auth": self.auth,
                "session": self.session,
                "paginator": self.page_paginator(),
            },
            "resource_defaults": {
                "write_disposition": "merge",
                "primary_key": "id",
                "endpoint": {"data_selector": RESULTS_PATH},
            },
            "resources": [
                {
                    "name": "genres",
                    "endpoint": {
                        "path": "genre/movie/list",
                        "data_selector": GENRES_PATH,
                        "paginator": "single_page",
                    },
                    "columns": GENRE_COLUMNS,
                    "processing_steps": [{"map": stamp}],
                },
            ],
        }

    def movie_details(self, movie_id: int) -> dict[str, Any] | None:
        """The ``/movie/{id}?append_to_response=keywords,credits`` body, or None when
        TMDB answers 404 (``/movie/changes`` also names movies TMDB has since deleted).
        Another error status raises ``requests.HTTPError`` (after the session's retries)."""
        response = self.client.get(f"movie/{movie_id}", params=DETAIL_PARAMS)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        """GET one page outside dlt's paginator; error statuses become TmdbError."""
        try:
            response = self.client.get(path, params=params)
        except requests.RequestException as exc:
            error = self.error_for(exc)
            if error is None:
                raise
            raise error from exc
        if response.status_code >= 400:
            raise self.error_for(None) or http_status_error(response, self.endpoint)
        return response

    def error_for(self, exc: BaseException | None) -> TmdbError | None:
        """The one error of a failed load: the request that gave up retrying, when one did
        (whichever thread's exception surfaced), else the TmdbError behind ``exc``."""
        gave_up = self.retries.gave_up
        if gave_up is None:
            return tmdb_error(exc, self.endpoint) if exc is not None else None
        outcome = gave_up.outcome
        if isinstance(outcome, requests.Response):
            error: TmdbError | None = http_status_error(outcome, self.endpoint)
        elif isinstance(outcome, MalformedResponseError):
            error = TmdbResponseError(f"TMDB sent a response that is {outcome}")
        else:
            error = tmdb_error(outcome, self.endpoint)
            if error is None:
                url = getattr(getattr(outcome, "request", None), "url", None)
                error = TmdbUnreachableError(
                    f"TMDB request {display_path(url)} failed: {type(outcome).__name__}"
                )
        return type(error)(f"{error} ({gave_up.note})")

    def source_date(self) -> date:
        """Check the credentials with one cheap request and return the source's date."""
        response = self.get_json("genre/movie/list")
        require_keys(response, response.json(), ("genres",))
        return response_date(response)

    def id_export(self, day: date) -> IdExport:
        """The daily ID export of ``day``, or of the day before while ``day``'s is not out
        yet (TMDB publishes it by about 08:00 UTC), opened as a stream."""
        base = self.endpoint.exports_url.rstrip("/")
        for export_day in (day, day - timedelta(days=1)):
            url = f"{base}/{export_file_name(export_day)}"
            try:
                response = self.session.get(url, stream=True)
            except requests.RequestException as exc:
                raise IdExportError(
                    f"cannot download the daily ID export {url} ({type(exc).__name__}); "
                    "check TMDB_EXPORTS_URL and the network"
                ) from exc
            if response.status_code == 404:
                response.close()
                continue
            if response.status_code >= 400:
                response.close()
                raise IdExportError(
                    f"the daily ID export {url} answered HTTP {response.status_code}"
                )
            if export_day != day:
                log.warning(
                    "the daily ID export of %s is not out yet: popularity snapshots are "
                    "those of %s's export",
                    day.isoformat(),
                    export_day.isoformat(),
                )
            return IdExport(export_day, url, response)
        raise IdExportError(
            f"no daily ID export at {base} for {day.isoformat()} or the day before "
            f"({export_file_name(day)} answered 404); check TMDB_EXPORTS_URL"
        )

    def top_votes(self, pages: int, *, include_adult: bool) -> dict[int, tuple[Any, Any]]:
        """(vote_average, vote_count) by id of the first ``pages`` pages of the day's
        ``/discover/movie`` by popularity: the daily votes of the most popular movies."""
        votes: dict[int, tuple[Any, Any]] = {}
        if pages <= 0:
            return votes
        params = {"sort_by": "popularity.desc", "include_adult": str(include_adult).lower()}
        for page in self.client.paginate(
            "discover/movie",
            params=params,
            paginator=self.page_paginator(maximum_page=min(pages, DISCOVER_MAX_PAGES) + 1),
            data_selector=RESULTS_PATH,
        ):
            require_keys(page.response, page.response.json(), ("results", "total_pages"))
            for row in page:
                require_keys(page.response, row, DISCOVER_REQUIRED_FIELDS)
                votes.setdefault(int(row["id"]), (row["vote_average"], row["vote_count"]))
        return votes

    def changed_ids(self, start: date, end: date) -> set[int]:
        """Ids ``/movie/changes`` names between ``start`` and ``end`` (both included)."""
        changed: set[int] = set()
        window_start = start
        while window_start <= end:
            window_end = min(end, window_start + timedelta(days=CHANGES_MAX_DAYS - 1))
            params = {"start_date": window_start.isoformat(), "end_date": window_end.isoformat()}
            for page in self.client.paginate(
                "movie/changes", params=params, data_selector=RESULTS_PATH
            ):
                require_keys(page.response, page.response.json(), ("results",))
                for row in page:
                    require_keys(page.response, row, ("id",))
                    changed.add(int(row["id"]))
            window_start = window_end + timedelta(days=1)
        return changed


def require_keys(response: requests.Response, body: Any, keys: tuple[str, ...]) -> None:
    if not isinstance(body, dict) or any(key not in body for key in keys):
        found = sorted(body)[:12] if isinstance(body, dict) else type(body).__name__
        raise TmdbResponseError(
            f"TMDB response from {sanitize_url(response.url)} is not TMDB's shape: "
            f"expected keys {list(keys)}, found {found}"
        )


def shape_movie(
    record: dict[str, Any], loaded_at: datetime, base_url: str, requested_id: int | None = None
) -> dict[str, Any]:
    """A /movie/{id}?append_to_response=keywords,credits body -> the raw ``movies`` row: its
    children (genres, keywords), its credited people (a json column) and its collection.
    ``requested_id``, when given, is the id asked for: a body of another movie is an error."""
    if not isinstance(record, dict):
        raise TmdbResponseError(
            f"TMDB response from {base_url}/movie/{requested_id} is not TMDB's movie shape: "
            f"a {type(record).__name__}, not an object"
        )
    missing = [key for key in MOVIE_REQUIRED_FIELDS if key not in record]
    if missing or (requested_id is not None and record["id"] != requested_id):
        raise TmdbResponseError(
            f"TMDB response from {base_url}/movie/{requested_id} is not TMDB's movie shape: "
            f"missing {missing or ['matching id']}"
        )
    movie_id = record["id"]
    row = {name: record.get(name) for name in MOVIE_FIELDS}
    row["genres"] = [
        {"movie_id": movie_id, "id": genre["id"], "name": genre.get("name")}
        for genre in record.get("genres") or []
    ]
    keywords = (record.get("keywords") or {}).get("keywords") or []
    row["keywords"] = [
        {"movie_id": movie_id, "id": keyword["id"], "name": keyword.get("name")}
        for keyword in keywords
    ]
    collection = record.get("belongs_to_collection") or {}
    row["collection_id"] = collection.get("id")
    row["collection_name"] = collection.get("name")
    row["credits"] = credited_people(movie_id, record.get("credits") or {})
    row["_loaded_at"] = loaded_at
    return row


def credited_people(movie_id: int, credits: dict[str, Any]) -> list[dict[str, Any]]:
    """The people a movie is known by, from its ``credits``: its directors, its writers
    and its FIRST_BILLED_CAST first billed actors, each (person, role) once, in credit
    order. The rest of the crew and cast is not loaded."""
    people: dict[tuple[int, str], dict[str, Any]] = {}

    def add(person: dict[str, Any], role: str, credit_order: int) -> None:
        key = (person.get("id"), role)
        if key[0] is not None and key not in people:
            people[key] = {
                "movie_id": movie_id,
                "person_id": person["id"],
                "name": person.get("name"),
                "role": role,
                "credit_order": credit_order,
            }

    for position, member in enumerate(credits.get("crew") or []):
        if member.get("job") == "Director":
            add(member, "director", position)
        elif member.get("department") == "Writing":
            add(member, "writer", position)
    cast = sorted(
        (member for member in credits.get("cast") or [] if member.get("id") is not None),
        key=lambda member: (member.get("order") is None, member.get("order") or 0),
    )
    for position, member in enumerate(cast[:FIRST_BILLED_CAST]):
        add(member, "cast", position if member.get("order") is None else member["order"])
    return list(people.values())


def http_status_error(response: requests.Response, endpoint: TmdbEndpoint) -> TmdbError:
    """A TmdbError for an error status, with TMDB's own status_message when it sent one."""
    url = sanitize_url(response.url)
    try:
        body = response.json()
        detail = body.get("status_message") or body.get("errors")
    except (ValueError, AttributeError):
        detail = None
    detail_text = f": {detail}" if detail else ""
    if response.status_code == 401:
        return TmdbAuthError(
            f"TMDB rejected the credentials (HTTP 401{detail_text}) at {url}; "
            f"check {endpoint.credential_names}"
        )
    return TmdbResponseError(f"TMDB answered HTTP {response.status_code} for {url}{detail_text}")


def tmdb_error(exc: BaseException, endpoint: TmdbEndpoint) -> TmdbError | None:
    """The TmdbError behind ``exc`` (walking its causes), or None when TMDB is not the cause."""
    for current in exception_chain(exc):
        if isinstance(current, TmdbError):
            return current
        if isinstance(current, MalformedResponseError):
            return TmdbResponseError(f"TMDB sent a response that is {current} (after retries)")
        if isinstance(current, requests.HTTPError) and current.response is not None:
            return http_status_error(current.response, endpoint)
        if isinstance(current, requests.ConnectionError | requests.Timeout):
            return TmdbUnreachableError(
                f"cannot reach TMDB at {endpoint.base_url} ({type(current).__name__}); "
                "check TMDB_BASE_URL and the network"
            )
        if isinstance(current, json.JSONDecodeError | requests.exceptions.JSONDecodeError):
            return TmdbResponseError(f"TMDB at {endpoint.base_url} sent invalid JSON: {current}")
    return None


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it (``__cause__``, else a context not hidden by ``from
    None``), each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        # ``raise ... from None`` hides the context, as Python's own traceback does
        context = None if current.__suppress_context__ else current.__context__
        current = current.__cause__ or context


@dataclass
class ExportUsed:
    """The day of the ID export a load read (None until it is opened)."""

    day: date | None = None


class DetailSelection:
    """Which of the exported ids get their ``/movie/{id}`` details fetched by one load.

    Each id once: on a backfill every id (nothing is known), afterwards the ids not in
    ``raw_tmdb.movies`` yet (``known``) and those ``/movie/changes`` named since the
    last successful load (``changed``). Only ids the export offers are selected: the
    catalog is the export, so changed ids outside it (deleted movies, adult ones when
    they are skipped) are not fetched, and the raw tables hold the same movies as a
    backfill of the same day would. The ids are kept as bitmaps (``IdSet``), so memory
    does not grow with the catalog. Not thread-safe: dlt calls the ``movie_ids``
    transformer from its main extract thread.
    """

    def __init__(self, known: IdSet | None = None, changed: Iterable[int] = ()) -> None:
        self.backfill = known is None  # without ``known`` every id is new
        self._known = known if known is not None else IdSet()
        self._changed = IdSet(changed)
        self._offered = IdSet()
        self.selected = 0

    @property
    def offered(self) -> int:
        """How many distinct ids the export offered: the catalog this load saw."""
        return len(self._offered)

    def select(self, ids: Iterable[int]) -> list[int]:
        """The ids of ``ids`` to fetch, in their order, each only the first time it is offered."""
        wanted = []
        for movie_id in ids:
            if not self._offered.add(movie_id):
                continue
            if movie_id not in self._known or movie_id in self._changed:
                wanted.append(movie_id)
        self.selected += len(wanted)
        return wanted


def last_load_date(pipeline_state: Mapping[str, Any]) -> date | None:
    """The date of the last successful load, from dlt's pipeline state (None: never)."""
    source_state = pipeline_state.get("sources", {}).get(SOURCE_NAME, {})
    value = source_state.get(LAST_LOAD_DATE)
    return date.fromisoformat(value) if value else None


def detail_ids(
    catalog: DltResource, selection: DetailSelection, progress: LoadProgress
) -> DltResource:
    """``movie_ids``: the ids whose details this load fetches, as a transformer over
    ``catalog``, an id source yielding pages (lists) of rows that carry an ``id``."""

    @dlt.transformer(name="movie_ids", selected=False)
    def movie_ids(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, int]]]:
        wanted = selection.select(int(row["id"]) for row in rows)
        if wanted:
            progress.add_to_total("details", len(wanted))
            yield [{"id": movie_id} for movie_id in wanted]

    return catalog | movie_ids


def movie_details(
    movie_ids: DltResource, api: TmdbApi, loaded_at: datetime, progress: LoadProgress
) -> DltResource:
    """``movies``: the details of each id ``movie_ids`` yields, as a transformer whose
    batches of DETAIL_BATCH ids are fetched in dlt's extract workers (``dlt.defer``; their
    number is ``extract.workers``, TMDB_CONCURRENCY)."""

    @dlt.defer
    def fetch(batch: list[int]) -> list[dict[str, Any]]:
        rows = []
        for movie_id in batch:
            body = api.movie_details(movie_id)
            if body is not None:
                rows.append(shape_movie(body, loaded_at, api.endpoint.base_url, movie_id))
        progress.advance("details", len(batch))
        return rows

    @dlt.transformer(
        name=MOVIES_TABLE, write_disposition="merge", primary_key="id", columns=MOVIE_COLUMNS
    )
    def movies(rows: list[dict[str, int]]) -> Iterator[Any]:
        ids = [row["id"] for row in rows]
        for start in range(0, len(ids), DETAIL_BATCH):
            yield fetch(ids[start : start + DETAIL_BATCH])

    return movie_ids | movies


@dlt.source(name=SOURCE_NAME, max_table_nesting=1)
def tmdb_source(
    api: TmdbApi,
    source_date: date,
    selection: DetailSelection,
    progress: LoadProgress | None = None,
    loaded_at: datetime | None = None,
    *,
    include_adult: bool = False,
    discover_pages: int = DISCOVER_MAX_PAGES,
    export_used: ExportUsed | None = None,
) -> Any:
    """TMDB genres, popularity snapshots, trending, and details of new or changed movies.

    The resources depend on each other only through dlt's pipes: the ID export
    (``movie_popularity_snapshots``, one snapshot per exported movie) is the id source,
    ``movie_ids`` selects from what it yields, and ``movies`` fetches the details of
    each selected id; dlt runs the export once and feeds both its table and
    ``movie_ids``. The source's dlt state is the date of this load
    (``last_load_date``), committed with the load's package.
    """
    progress = progress or LoadProgress()
    loaded_at = loaded_at or datetime.now(UTC)

    @dlt.resource(
        name=SNAPSHOTS_TABLE,
        write_disposition="merge",
        primary_key=("id", "snapshot_date"),
        columns=SNAPSHOT_COLUMNS,
    )
    def movie_popularity_snapshots() -> Iterator[list[dict[str, Any]]]:
        progress.start("discover", min(discover_pages, DISCOVER_MAX_PAGES) * DISCOVER_PAGE_SIZE)
        votes = api.top_votes(discover_pages, include_adult=include_adult)
        progress.advance("discover", len(votes))
        export = api.id_export(source_date)
        export_used.day = export.day
        progress.start("export", None)
        no_votes = (None, None)
        for entries in export.batches(include_adult=include_adult):
            progress.advance("export", len(entries))
            yield [
                _snapshot_row(entry, export.day, votes.get(entry.id, no_votes), loaded_at)
                for entry in entries
            ]

    @dlt.resource(
        name="trending_movies",
        write_disposition="merge",
        primary_key=("time_window", "trend_date", "id"),
        columns=TRENDING_COLUMNS,
    )
    def trending_movies() -> Iterator[list[dict[str, Any]]]:
        position = 0
        for page in api.client.paginate(
            "trending/movie/day",
            paginator=api.page_paginator(maximum_page=TRENDING_PAGES + 1),
            data_selector=RESULTS_PATH,
        ):
            trend_date = response_date(page.response)
            rows = []
            for row in page:
                require_keys(page.response, row, ("id", "popularity"))
                position += 1
                rows.append(
                    {
                        "id": row["id"],
                        "trend_date": trend_date,
                        "time_window": "day",
                        "position": position,
                        "popularity": row["popularity"],
                        "_loaded_at": loaded_at,
                    }
                )
            yield rows

    @dlt.resource(name="load_date")
    def load_date() -> Iterator[Any]:
        # Writes no table. dlt keeps the state only when the whole extract succeeds, and
        # a failed run's packages and state are dropped, so it moves only with a load.
        state = dlt.current.source_state()
        state[LAST_LOAD_DATE] = source_date.isoformat()
        state.pop("known_ids", None)  # the ids every load kept before they came from the tables
        yield from ()

    snapshots = movie_popularity_snapshots()
    progress.start("details", 0)
    (genres,) = rest_api_resources(api.rest_api_config(loaded_at))
    movies = movie_details(detail_ids(snapshots, selection, progress), api, loaded_at, progress)
    return [genres, snapshots, trending_movies(), movies, load_date()]


def _snapshot_row(
    entry: ExportEntry, day: date, votes: tuple[Any, Any], loaded_at: datetime
) -> dict[str, Any]:
    vote_average, vote_count = votes
    return {
        "id": entry.id,
        "snapshot_date": day,
        "popularity": entry.popularity,
        "vote_average": vote_average,
        "vote_count": vote_count,
        "_loaded_at": loaded_at,
    }

"""The offline TMDB sandbox (docs/design.md section 3): a TMDB-v3-compatible HTTP API over a
generated, daily-evolving catalog. It is the offline default source, the test fixture
and the benchmark load generator.

    with Sandbox(movies=2000, seed=7, catalog_date=date(2026, 1, 15)) as sb:
        httpx.get(f"{sb.base_url}/discover/movie", params={"api_key": sb.api_key})
        sb.advance(1)                      # the next day: popularity moves, new movies
        sb.set_faults(Faults(server_error_rate=0.1))

Contract (what clients may rely on):

- Paths mirror TMDB under ``/3``: ``/genre/movie/list``, ``/discover/movie``,
  ``/movie/{movie_id}`` (``append_to_response=keywords,credits``), ``/movie/changes``,
  ``/trending/movie/{day|week}``. Bodies and error codes follow
  ``tests/fixtures/tmdb/``: 401 status_code 7, 404 status_code 34, page outside
  1..500 -> 400 status_code 22, bad parameter values -> 422 ``{"errors": [...]}`` naming
  the parameter, rate limit -> 429 status_code 25 with ``Retry-After: 1``.
- Auth: ``api_key`` query parameter, or ``Authorization: Bearer <access_token>``.
- Every response's ``Date`` header is the catalog date at the current UTC time of day.
- Time: day 0 is 2026-01-01. ``movies`` movies exist on every day; from day 1 on,
  ``max(1, movies // 5000)`` new movies (with higher ids) appear each day and are
  invisible (404, absent from listings) before it. Every day-dependent value is a pure
  function of the date.
- ``/movie/changes``: the changes of a day D are the movies new on D, and every movie
  whose ``/movie/{id}`` body (``append_to_response=keywords``) on D differs from D-1 in
  any field but the daily ones (``catalog.DAILY_FIELDS``: popularity, vote_average,
  vote_count): overview, keywords and runtime change on a movie's edit days, status
  when its release date comes within 120 days ("In Production" -> "Post Production")
  and when it is reached ("Released"); every other field never changes. Also listed:
  movies whose vote count moved materially from D-1 to D (at least 5 votes and 2 %),
  and a few vanished ids (like TMDB's deleted entries: ``adult: null``, and /movie/{id}
  answers 404). The daily fields move for nearly every movie every day and, as on
  TMDB, are not changes: ``/discover/movie`` serves their values of the day. So a
  client that fetches the details of the movies new or listed since its last day and
  takes the daily fields from ``/discover/movie`` holds the same as one that fetched
  every movie today. ``start_date``/``end_date`` are inclusive, at most 14 days apart;
  both default to the catalog date (the last 24 hours); days after the catalog date
  have no changes yet. ``Catalog.changed_ids(start, end)`` is the ground truth.
- ``/discover/movie``: 20 a page; ``total_results``/``total_pages`` are the true counts
  even past page 500; ``include_adult`` defaults to false; a date filter never matches a
  movie without a release date; ties of every ``sort_by`` are broken by ascending id.
- The daily movie ID export, on the file host's path (``Sandbox.exports_url``, no
  auth): ``/p/exports/movie_ids_MM_DD_YYYY.json.gz``, gzipped JSON lines (``adult``,
  ``id``, ``original_title``, the day's ``popularity``, ``video``) of every movie
  visible that day, undated and adult ones too, for the catalog date and the 90 days
  before it; 404 otherwise. ``Sandbox.hold_exports(n)`` answers 404 for the last ``n``
  days, as TMDB's host does before a day's file is out; ``Catalog.catalog_ids(day)``
  is what a load of the export holds.
- ``request_counts`` counts every request to a known route (faulted and unauthorised ones
  included) by route template; faults apply to authorised requests to known routes
  (``Faults.routes`` narrows them to some route templates). ``moviemetric sandbox
  --faults rate_limit=0.1,server_error=0.2,slow=0.05,malformed=0.02`` injects them in
  the foreground server (``faults.parse_faults``).
"""

from ingest.sandbox.catalog import Catalog
from ingest.sandbox.faults import Faults, parse_faults
from ingest.sandbox.server import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_API_KEY,
    Sandbox,
    exports_url_of,
    serve,
)

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_API_KEY",
    "Catalog",
    "Faults",
    "Sandbox",
    "exports_url_of",
    "parse_faults",
    "serve",
]

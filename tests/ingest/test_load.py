"""``run_load`` against the TMDB sandbox over real HTTP, into a real PostgreSQL."""

from __future__ import annotations

import gzip
import http.server
import json
import logging
import re
import socket
import threading
import urllib.request
from datetime import UTC, date, datetime, timedelta

import dlt.sources.helpers.rest_client.client as rest_client_module
import psycopg
import pytest
from dlt.sources.helpers.rest_client.redaction import sanitize_url
from psycopg import sql

import ingest.retry
import ingest.tmdb
from ingest import run_load
from ingest.id_export import IdExportError
from ingest.pipeline import _ToRootHandlers, route_dlt_logs
from ingest.retry import RetrySettings
from ingest.sandbox import Faults, Sandbox, exports_url_of
from ingest.tmdb import TmdbAuthError, TmdbResponseError, TmdbUnreachableError
from moviemetric.config import get_settings
from moviemetric.ops import LOAD_LOCK_KEY, WarehouseBusyError, advisory_lock
from moviemetric.steps import StepOptions
from moviemetric.warehouse import open_warehouse

CATALOG_DATE = date(2026, 1, 15)
RETRY_LINE = re.compile(
    r"^(HTTP 50[023]) from (/3/\S+) \(attempt (\d+) of (\d+)\); retrying in ([\d.e-]+) s$"
)
RAW_TABLES = (
    "genres",
    "movies",
    "movies__genres",
    "movies__keywords",
    "movie_popularity_snapshots",
    "trending_movies",
)
LOAD_COLUMNS = ("_loaded_at", "_dlt_load_id", "_dlt_id", "_dlt_root_id", "_dlt_parent_id")


@pytest.fixture(autouse=True)
def _fast_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """No client-side throttling and short dlt retry backoff, so fault tests stay quick."""
    monkeypatch.setenv("TMDB_REQUESTS_PER_SECOND", "100000")
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "6")
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.01")
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_RETRY_DELAY", "0.05")


@pytest.fixture
def sandbox():
    with Sandbox(movies=1000, seed=7, catalog_date=CATALOG_DATE) as running:
        yield running


def use_tmdb(monkeypatch: pytest.MonkeyPatch, base_url: str, **credentials: str) -> None:
    """Point the settings at ``base_url`` with TMDB_API_KEY and/or TMDB_ACCESS_TOKEN."""
    monkeypatch.setenv("TMDB_BASE_URL", base_url)
    monkeypatch.setenv("TMDB_EXPORTS_URL", exports_url_of(base_url))
    for name in ("TMDB_API_KEY", "TMDB_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def load(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, **kwargs):
    use_tmdb(monkeypatch, sandbox.base_url, TMDB_API_KEY=sandbox.api_key)
    return run_load(open_warehouse(get_settings()), StepOptions(**kwargs))


def query(url: str, statement: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement, params).fetchall()


def fingerprints(url: str, *, content_only: bool = False) -> dict[str, tuple[int, str]]:
    """(row count, md5 of all rows) per raw table; ``content_only`` leaves out when and by
    which load a row was written."""
    result = {}
    with psycopg.connect(url) as conn:
        for table in RAW_TABLES:
            columns = [
                name
                for (name,) in conn.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'raw_tmdb' and table_name = %s order by column_name",
                    (table,),
                )
                if not (content_only and name in LOAD_COLUMNS)
            ]
            assert columns, f"raw_tmdb.{table} does not exist"
            statement = sql.SQL(
                "select count(*), md5(coalesce(string_agg(row_text, E'\\n' order by row_text), ''))"
                " from (select row({columns})::text as row_text from raw_tmdb.{table}) as rows"
            ).format(
                columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
                table=sql.Identifier(table),
            )
            count, digest = conn.execute(statement).fetchone()
            result[table] = (count, digest)
    return result


def truth(sandbox: Sandbox, day: date) -> dict[int, dict]:
    """The sandbox's /movie/{id} bodies of the dated movies visible on ``day``."""
    dated = sandbox.catalog.catalog_ids(day)
    return {movie["id"]: movie for movie in sandbox.catalog.movies_on(day) if movie["id"] in dated}


def test_backfill_loads_every_dated_movie_with_genres_keywords_people_and_a_snapshot(
    database_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = truth(sandbox, CATALOG_DATE)

    summary = load(monkeypatch, sandbox)

    assert summary.details["backfill"]
    assert (
        summary.details["movies"]
        == summary.details["details"]
        == summary.details["snapshots"]
        == len(expected)
    )
    loaded_ids = {movie_id for (movie_id,) in query(database_url, "select id from raw_tmdb.movies")}
    assert loaded_ids == set(expected)
    assert query(database_url, "select count(*) from raw_tmdb.genres") == [(19,)]

    movie_genres = set(query(database_url, "select movie_id, id from raw_tmdb.movies__genres"))
    assert movie_genres == {
        (movie_id, genre["id"]) for movie_id, movie in expected.items() for genre in movie["genres"]
    }
    movie_keywords = set(query(database_url, "select movie_id, id from raw_tmdb.movies__keywords"))
    assert movie_keywords == {
        (movie_id, keyword["id"])
        for movie_id, movie in expected.items()
        for keyword in movie["keywords"]["keywords"]
    }
    assert movie_keywords, "the sandbox catalog should have keywords"

    people = set(
        query(
            database_url,
            "select movies.id, people.person_id, people.role from raw_tmdb.movies"
            " cross join lateral jsonb_to_recordset(movies.credits)"
            " as people (person_id bigint, role text)",
        )
    )
    assert people == {
        (movie_id, person["id"], role)
        for movie_id, movie in expected.items()
        for person, role in [
            *(
                (member, "director")
                for member in movie["credits"]["crew"]
                if member["job"] == "Director"
            ),
            *(
                (member, "writer")
                for member in movie["credits"]["crew"]
                if member["department"] == "Writing"
            ),
            *((member, "cast") for member in movie["credits"]["cast"] if member["order"] < 5),
        ]
    }
    assert {role for _, _, role in people} == {"director", "writer", "cast"}
    collections = set(
        query(database_url, "select id, collection_id, collection_name from raw_tmdb.movies")
    )
    assert collections == {
        (
            movie_id,
            *(
                (movie["belongs_to_collection"]["id"], movie["belongs_to_collection"]["name"])
                if movie["belongs_to_collection"]
                else (None, None)
            ),
        )
        for movie_id, movie in expected.items()
    }
    assert sum(collection_id is not None for _, collection_id, _ in collections) > 10

    snapshots = query(
        database_url,
        "select id, snapshot_date, popularity from raw_tmdb.movie_popularity_snapshots",
    )
    assert {movie_id for movie_id, _, _ in snapshots} == set(expected)
    assert len(snapshots) == len(expected)
    assert {snapshot_date for _, snapshot_date, _ in snapshots} == {CATALOG_DATE}
    for movie_id, _, popularity in snapshots[:50]:
        assert popularity == pytest.approx(sandbox.catalog.popularity_of(movie_id, CATALOG_DATE))

    movie = expected[min(expected)]
    (row,) = query(
        database_url,
        "select title, release_date, vote_count, runtime from raw_tmdb.movies where id = %s",
        movie["id"],
    )
    assert row == (movie["title"], movie["release_date"], movie["vote_count"], movie["runtime"])

    trending = query(
        database_url, "select position, trend_date, time_window from raw_tmdb.trending_movies"
    )
    assert sorted(position for position, _, _ in trending) == list(range(1, 101))
    assert {(trend_date, window) for _, trend_date, window in trending} == {(CATALOG_DATE, "day")}


def exported_lines(sandbox: Sandbox, day: date) -> list[dict]:
    """The ID export of ``day`` as the sandbox's file host serves it."""
    url = f"{sandbox.exports_url}/movie_ids_{day:%m_%d_%Y}.json.gz"
    with urllib.request.urlopen(url, timeout=30) as response:
        return [json.loads(line) for line in gzip.decompress(response.read()).splitlines()]


def test_the_export_catalog_loads_completely_undated_movies_too_and_a_rerun_adds_nothing(
    database_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = exported_lines(sandbox, CATALOG_DATE)
    exported = {line["id"] for line in lines if not line["adult"]}
    adult = {line["id"] for line in lines if line["adult"]}
    undated = exported - sandbox.catalog.dated_movie_ids(CATALOG_DATE)
    assert undated and adult, "the sandbox export should list undated and adult movies"

    first = load(monkeypatch, sandbox)

    loaded = {movie_id for (movie_id,) in query(database_url, "select id from raw_tmdb.movies")}
    snapshot_ids = {
        movie_id
        for (movie_id,) in query(database_url, "select id from raw_tmdb.movie_popularity_snapshots")
    }
    # compared id by id: every exported non-adult id, the undated ones included, no other
    assert loaded == snapshot_ids == exported
    assert first.details["movies"] == first.details["details"] == len(exported)
    assert first.details["export_date"] == CATALOG_DATE.isoformat()
    popularity = dict(
        query(database_url, "select id, popularity from raw_tmdb.movie_popularity_snapshots")
    )
    assert popularity == {line["id"]: line["popularity"] for line in lines if not line["adult"]}

    before = fingerprints(database_url, content_only=True)
    sandbox.reset_counts()
    second = load(monkeypatch, sandbox)

    # only the day's changed movies are fetched again (the changes feed's day is not
    # over), and the raw tables hold exactly what they held
    changed = sandbox.catalog.changed_ids(CATALOG_DATE, CATALOG_DATE) & exported
    assert second.details["details"] == len(changed) < len(exported) // 20
    assert fingerprints(database_url, content_only=True) == before


def test_adult_movies_load_only_when_asked(
    database_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMDB_INCLUDE_ADULT", "true")
    load(monkeypatch, sandbox)

    loaded = {movie_id for (movie_id,) in query(database_url, "select id from raw_tmdb.movies")}
    assert loaded == sandbox.catalog.catalog_ids(CATALOG_DATE, include_adult=True)
    assert loaded > sandbox.catalog.catalog_ids(CATALOG_DATE)


def test_votes_come_from_the_top_discover_pages_and_the_details(
    database_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMDB_DISCOVER_PAGES", "2")
    load(monkeypatch, sandbox)

    voted = query(
        database_url,
        "select id, vote_count from raw_tmdb.movie_popularity_snapshots"
        " where vote_count is not null",
    )
    top = sorted(
        sandbox.catalog.catalog_ids(CATALOG_DATE),
        key=lambda movie_id: (-sandbox.catalog.popularity_of(movie_id, CATALOG_DATE), movie_id),
    )[:40]
    assert {movie_id for movie_id, _ in voted} == set(top)
    expected = truth(sandbox, CATALOG_DATE)
    assert all(vote_count == expected[movie_id]["vote_count"] for movie_id, vote_count in voted)
    # every other movie's votes are its details'
    (unvoted,) = query(
        database_url,
        "select count(*) from raw_tmdb.movie_popularity_snapshots as snapshots"
        " inner join raw_tmdb.movies on movies.id = snapshots.id"
        " where snapshots.vote_count is null and movies.vote_count is not null",
    )[0]
    assert unvoted == len(expected) - 40


def test_before_the_days_export_is_out_the_previous_days_is_used_and_said(
    database_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.hold_exports(days=1)

    summary = load(monkeypatch, sandbox)

    yesterday = CATALOG_DATE - timedelta(days=1)
    assert summary.details["export_date"] == yesterday.isoformat()
    assert f"popularity is that of {yesterday}'s export" in summary.summary
    dates = query(
        database_url, "select distinct snapshot_date from raw_tmdb.movie_popularity_snapshots"
    )
    assert dates == [(yesterday,)]

    sandbox.hold_exports(days=2)
    with pytest.raises(IdExportError, match=r"no daily ID export at \S+ for 2026-01-15 or the day"):
        load(monkeypatch, sandbox)


class _FileHost(http.server.BaseHTTPRequestHandler):
    """A file host whose every export is ``body`` (set on the class by the test)."""

    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (gzip.compress(b'{"adult":false,"id":5,"popularity":1.0}\n{"id":"six"}\n'), "line 2 .*id"),
        (gzip.compress(b'{"adult":false,"id":5,"popularity":1.0}\nnot json\n'), "line 2 .*JSON"),
        (gzip.compress(b'{"adult":false,"id":5,"popularity":1.0}\n' * 50)[:-30], "could not be"),
        (b"<html>not a gzip file</html>", "could not be read"),
    ],
    ids=["bad-id", "not-json", "truncated", "not-gzip"],
)
def test_a_broken_export_fails_the_load_naming_the_file_and_changes_nothing(
    body: bytes,
    error: str,
    database_url: str,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load(monkeypatch, sandbox)
    before = fingerprints(database_url)
    sandbox.advance(days=1)
    _FileHost.body = body
    host = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FileHost)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    try:
        exports_url = f"http://127.0.0.1:{host.server_port}/p/exports"
        use_tmdb(monkeypatch, sandbox.base_url, TMDB_API_KEY=sandbox.api_key)
        monkeypatch.setenv("TMDB_EXPORTS_URL", exports_url)
        get_settings.cache_clear()
        with pytest.raises(IdExportError, match=error) as failure:
            run_load(open_warehouse(get_settings()))
    finally:
        host.shutdown()
        host.server_close()

    assert f"{exports_url}/movie_ids_01_16_2026.json.gz" in str(failure.value)
    assert fingerprints(database_url) == before


def test_runs_on_the_same_day_change_no_rows_and_full_refresh_refetches_all(
    database_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(monkeypatch, sandbox)
    before = fingerprints(database_url, content_only=True)

    summary = load(monkeypatch, sandbox)

    assert not summary.details["backfill"]
    assert fingerprints(database_url, content_only=True) == before
    dated = sandbox.catalog.catalog_ids(CATALOG_DATE)
    assert before["movies"][0] == len(dated)

    sandbox.reset_counts()
    summary = load(monkeypatch, sandbox, full_refresh=True)

    assert summary.details["backfill"]
    assert sandbox.request_counts["/movie/{movie_id}"] == len(dated)
    assert fingerprints(database_url, content_only=True) == before


def test_incremental_run_fetches_only_changed_and_new_movies(
    database_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(monkeypatch, sandbox)
    known = sandbox.catalog.catalog_ids(CATALOG_DATE)
    before = truth(sandbox, CATALOG_DATE)

    next_day = sandbox.advance(days=1)
    sandbox.reset_counts()
    summary = load(monkeypatch, sandbox)

    catalog = sandbox.catalog.catalog_ids(next_day)
    changed = sandbox.catalog.changed_ids(CATALOG_DATE, next_day) & catalog
    new = catalog - known
    assert new, "the sandbox releases new movies every day"
    assert sandbox.request_counts["/movie/{movie_id}"] == len(changed | new)
    assert not summary.details["backfill"]
    assert summary.details["details"] == len(changed | new)

    day_counts = dict(
        query(
            database_url,
            "select snapshot_date, count(*) from raw_tmdb.movie_popularity_snapshots group by 1",
        )
    )
    assert day_counts == {
        CATALOG_DATE: len(known),
        next_day: len(sandbox.catalog.catalog_ids(next_day)),
    }
    loaded_ids = {movie_id for (movie_id,) in query(database_url, "select id from raw_tmdb.movies")}
    assert new <= loaded_ids

    after = truth(sandbox, next_day)
    fields = ("title", "popularity", "vote_count", "vote_average", "runtime")
    rows = {
        row[0]: row[1:]
        for row in query(
            database_url,
            "select id, title, popularity, vote_count, vote_average, runtime from raw_tmdb.movies "
            "where id = any(%s)",
            sorted(changed & known),
        )
    }
    edited = [
        movie_id
        for movie_id in changed & known & set(after)
        if any(before[movie_id][name] != after[movie_id][name] for name in fields)
    ]
    assert edited, "some changed movie should differ from the day before"
    for movie_id in edited:
        assert rows[movie_id] == pytest.approx(tuple(after[movie_id][name] for name in fields))


def test_rate_limits_and_server_errors_are_retried_to_the_same_raw_content(
    make_database, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    results = {}
    for name, faults in (
        ("clean", None),
        # random refusals, not every Nth request: with 8 fetch threads in step, "every
        # 9th" can land on the same retrying request six times running (a CI failure)
        ("faulty", Faults(seed=3, rate_limit_rate=0.05, server_error_rate=0.03)),
    ):
        url = make_database()
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("MOVIEMETRIC_HOME", str(tmp_path / name))
        with Sandbox(movies=1000, seed=7, catalog_date=CATALOG_DATE, faults=faults) as sandbox:
            load(monkeypatch, sandbox)
            injected = sum(sandbox.fault_counts.values())
        results[name] = (fingerprints(url, content_only=True), injected)

    (clean, _), (faulty, injected) = results["clean"], results["faulty"]
    assert injected > 20, "the faulty sandbox should have refused some requests"
    assert faulty == clean


def test_malformed_responses_fail_cleanly_and_keep_the_last_load_date(
    database_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(monkeypatch, sandbox)
    before = fingerprints(database_url)
    next_day = sandbox.advance(days=1)
    sandbox.set_faults(Faults(seed=1, malformed_rate=0.9))

    with pytest.raises(TmdbResponseError, match="not valid JSON") as failure:
        load(monkeypatch, sandbox)

    assert sandbox.base_url in str(failure.value)
    assert sandbox.api_key not in str(failure.value)
    assert fingerprints(database_url) == before

    # The failed run did not advance the state: the next run asks for changes since the
    # last successful load, and nothing of the failed run is loaded on the way.
    sandbox.set_faults(Faults())
    sandbox.reset_counts()
    load(monkeypatch, sandbox)
    catalog = sandbox.catalog.catalog_ids(next_day)
    changed = sandbox.catalog.changed_ids(CATALOG_DATE, next_day) & catalog
    new = catalog - sandbox.catalog.catalog_ids(CATALOG_DATE)
    assert sandbox.request_counts["/movie/{movie_id}"] == len(changed | new)
    # one package per successful run, none from the failed one
    loads = query(database_url, "select count(*) from raw_tmdb._dlt_loads")
    assert loads == [(2,)]


@pytest.mark.parametrize("credential", ["TMDB_API_KEY", "TMDB_ACCESS_TOKEN"])
def test_rejected_credentials_fail_with_a_clear_error_and_change_nothing(
    credential: str, database_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(monkeypatch, sandbox)
    before = fingerprints(database_url)
    use_tmdb(monkeypatch, sandbox.base_url, **{credential: "not-a-valid-credential"})

    with pytest.raises(TmdbAuthError) as failure:
        run_load(open_warehouse(get_settings()))

    message = str(failure.value)
    assert "HTTP 401" in message and credential in message and sandbox.base_url in message
    assert "not-a-valid-credential" not in message
    assert fingerprints(database_url) == before


def test_access_token_loads_like_the_api_key(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(movies=300, seed=11, catalog_date=CATALOG_DATE) as sandbox:
        use_tmdb(monkeypatch, sandbox.base_url, TMDB_ACCESS_TOKEN=sandbox.access_token)
        summary = run_load(open_warehouse(get_settings()))
        expected = sandbox.catalog.catalog_ids(CATALOG_DATE)

    assert summary.details["movies"] == len(expected)
    loaded_ids = {movie_id for (movie_id,) in query(database_url, "select id from raw_tmdb.movies")}
    assert loaded_ids == expected


def test_unreachable_server_and_wrong_base_url_are_named(
    database_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    dead_url = f"http://127.0.0.1:{closed_port}/3"
    use_tmdb(monkeypatch, dead_url, TMDB_API_KEY=sandbox.api_key)
    with pytest.raises(TmdbUnreachableError, match=f"cannot reach TMDB at {dead_url}"):
        run_load(open_warehouse(get_settings()))

    not_tmdb = sandbox.base_url.removesuffix("/3") + "/v9"
    use_tmdb(monkeypatch, not_tmdb, TMDB_API_KEY=sandbox.api_key)
    with pytest.raises(TmdbResponseError, match="HTTP 404 for " + not_tmdb):
        run_load(open_warehouse(get_settings()))

    assert query(database_url, "select count(*) from pg_namespace where nspname = 'raw_tmdb'") == [
        (0,)
    ]


def test_a_second_load_on_the_same_warehouse_is_refused_and_changes_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox
) -> None:
    load(monkeypatch, sandbox)
    before = fingerprints(database_url)
    sandbox.advance(days=1)
    with (
        advisory_lock(database_url, LOAD_LOCK_KEY, "load"),  # a load already running
        pytest.raises(WarehouseBusyError) as refused,
    ):
        load(monkeypatch, sandbox)
    assert "another load is running" in str(refused.value)
    assert fingerprints(database_url) == before
    # the lock died with its holder: the next load goes ahead and fetches the new day
    assert load(monkeypatch, sandbox).details["snapshots"] > 0
    assert fingerprints(database_url) != before


def retry_lines(caplog: pytest.LogCaptureFixture) -> list[re.Match]:
    """The retry warnings of ``ingest.retry``, each parsed by RETRY_LINE."""
    records = [record for record in caplog.records if record.name == "ingest.retry"]
    warnings = [record for record in records if record.levelno == logging.WARNING]
    assert all(record.levelno <= logging.WARNING for record in records)
    lines = [RETRY_LINE.match(record.getMessage()) for record in warnings]
    assert all(lines), [record.getMessage() for record in warnings]
    return lines


def test_the_retry_defaults_are_the_documented_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_ATTEMPTS", "BACKOFF_FACTOR", "MAX_RETRY_DELAY"):
        monkeypatch.delenv(f"RUNTIME__REQUEST_{name}", raising=False)
    settings = RetrySettings.from_dlt_config()
    assert settings == RetrySettings(max_attempts=5, backoff_factor=1.0, max_retry_delay=10.0)
    assert settings.longest_request_wait() == 1 + 2 + 4 + 8
    assert (ingest.retry.RETRY_BUDGET_SECONDS, ingest.retry.RETRY_BUDGET_WINDOW_SECONDS) == (
        60,
        600,
    )
    text = " ".join(ingest.__doc__.split())
    assert "tried at most 5 times, waiting 1, 2, 4 and 8 s" in text
    assert "one request waits at most 15 s" in text
    assert "add up to 60 s within 10 minutes" in text
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "2")
    assert RetrySettings.from_dlt_config().max_attempts == 2


def test_a_source_that_always_fails_is_tried_the_set_number_of_times_and_named(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    attempts = 6  # RUNTIME__REQUEST_MAX_ATTEMPTS of _fast_http
    with Sandbox(movies=300, seed=3, catalog_date=CATALOG_DATE) as sandbox:
        sandbox.set_faults(Faults(seed=2, server_error_rate=1.0))
        with (
            caplog.at_level(logging.INFO, logger="ingest"),
            pytest.raises(TmdbResponseError) as failure,
        ):
            load(monkeypatch, sandbox)
        requests_seen = sum(sandbox.request_counts.values())
        base_url = sandbox.base_url

    # the first request (the genre list) was tried `attempts` times, then the load stopped
    assert requests_seen == attempts
    message = str(failure.value)
    assert re.search(
        rf"HTTP 50[023] for {re.escape(base_url)}/genre/movie/list\?api_key=\*\*\*", message
    )
    assert message.endswith(f"(gave up after {attempts} attempts)")
    assert sandbox.api_key not in message
    lines = retry_lines(caplog)
    assert [int(line[3]) for line in lines] == list(range(1, attempts))
    assert {(line[2], int(line[4])) for line in lines} == {("/3/genre/movie/list?api_key=***", 6)}
    assert all(sandbox.api_key not in record.getMessage() for record in caplog.records)


def test_a_half_failing_source_gives_up_within_the_load_retry_budget(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Only the load's budget can stop it: requests may be retried 1,000 times each.
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "1000")
    monkeypatch.setattr(ingest.retry, "RETRY_BUDGET_SECONDS", 0.5)
    with Sandbox(movies=1000, seed=7, catalog_date=CATALOG_DATE) as sandbox:
        sandbox.set_faults(Faults(seed=5, server_error_rate=0.5))
        with (
            caplog.at_level(logging.INFO, logger="ingest"),
            pytest.raises(TmdbResponseError) as failure,
        ):
            load(monkeypatch, sandbox)
        failed_responses = sandbox.fault_counts["server_error"]
        base_url = sandbox.base_url

    lines = retry_lines(caplog)
    waited = sum(float(line[5]) for line in lines)
    assert lines and waited <= 0.5
    # every 5xx was retried once (one warning line each) except the one the load gave up
    # on and those of requests in flight at that moment (at most one per worker, and the
    # sweep's own on dlt's main thread)
    in_flight = get_settings().tmdb_concurrency + 1
    assert len(lines) + 1 <= failed_responses <= len(lines) + in_flight
    message = str(failure.value)
    assert re.search(rf"HTTP 50[023] for {re.escape(base_url)}/\S+", message)
    assert "budget of 0.5 s in 10 minutes" in message
    assert sandbox.api_key not in message


def test_a_server_error_during_details_fails_the_load_at_once_and_dlt_logs_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Real waits (1 s, then 2 s): longer than dlt gives its worker threads to stop (2 s),
    # so workers still waiting to retry would make dlt log a thread-pool error.
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "1")
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_RETRY_DELAY", "10")
    faults = Faults(server_error_rate=1.0, routes=("/movie/{movie_id}",))
    with Sandbox(movies=300, seed=3, catalog_date=CATALOG_DATE, faults=faults) as sandbox:
        with caplog.at_level(logging.DEBUG), pytest.raises(TmdbResponseError) as failure:
            load(monkeypatch, sandbox)
        details_requested = sandbox.request_counts["/movie/{movie_id}"]
        base_url = sandbox.base_url

    message = str(failure.value)
    assert re.search(rf"HTTP 50[023] for {re.escape(base_url)}/movie/\d+\?", message)
    assert message.endswith("(gave up after 3 attempts)")
    # once one request gave up, no worker retried or started another
    assert details_requested <= 3 * get_settings().tmdb_concurrency
    dlt_records = [r for r in caplog.records if r.name.split(".")[0] == "dlt"]
    assert [r.getMessage() for r in dlt_records if r.levelno >= logging.WARNING] == []
    assert all(isinstance(h, _ToRootHandlers) for h in logging.getLogger("dlt").handlers)


def test_dlt_logs_through_python_logging_and_not_its_own_stderr_handler(
    database_url: str,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture,
) -> None:
    load(monkeypatch, sandbox)
    from dlt.common import logger as dlt_logger

    capsys.readouterr()
    with caplog.at_level(logging.WARNING):
        dlt_logger.warning("a warning of dlt's")
    assert [r.getMessage() for r in caplog.records if r.name == "dlt"] == ["a warning of dlt's"]
    assert "a warning of dlt's" not in capsys.readouterr().err


def test_a_load_sends_no_dlt_telemetry(
    database_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlt.common.runtime import anon_tracker

    # where dlt would send each of its events (it sends none without an endpoint)
    endpoints: list[str | None] = []
    monkeypatch.setattr(
        anon_tracker,
        "_send_event",
        lambda *_: endpoints.append(anon_tracker._ANON_TRACKER_ENDPOINT),
    )
    load(monkeypatch, sandbox)
    load(monkeypatch, sandbox)
    assert endpoints and not any(endpoints)


def test_details_skip_a_movie_tmdb_no_longer_has_and_refuse_another_movies_body(
    sandbox: Sandbox,
) -> None:
    """/movie/changes also names deleted movies: their 404 is skipped, not a failure. A
    body for another id than the one asked for fails the load naming the request."""
    api = ingest.tmdb.TmdbApi(
        ingest.tmdb.TmdbEndpoint(sandbox.base_url, api_key=sandbox.api_key),
        requests_per_second=100_000,
        concurrency=2,
    )
    known = min(sandbox.catalog.catalog_ids(CATALOG_DATE))
    body = api.movie_details(known)
    assert body["id"] == known
    assert api.movie_details(999_999_999) is None
    loaded_at = datetime(2026, 1, 15, tzinfo=UTC)
    assert ingest.tmdb.shape_movie(body, loaded_at, sandbox.base_url, known)["id"] == known
    with pytest.raises(TmdbResponseError, match=f"/movie/{known + 1} is not TMDB's movie shape"):
        ingest.tmdb.shape_movie(api.movie_details(known), loaded_at, sandbox.base_url, known + 1)


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_dlt_s_request_lines_are_logged_redacted_only_when_its_info_level_is_on(
    sandbox: Sandbox,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    level: int,
) -> None:
    route_dlt_logs()
    redacted = []

    def counting_sanitize_url(url: str) -> str:
        redacted.append(url)
        return sanitize_url(url)

    # dlt's client redacts each request's URL for its INFO line: only when INFO is on
    monkeypatch.setattr(rest_client_module, "sanitize_url", counting_sanitize_url)
    endpoint = ingest.tmdb.TmdbEndpoint(base_url=sandbox.base_url, api_key=sandbox.api_key)
    api = ingest.tmdb.TmdbApi(endpoint, requests_per_second=1000, concurrency=1)
    dlt_logger = logging.getLogger(ingest.tmdb.DLT_LOGGER)
    before = dlt_logger.level
    dlt_logger.setLevel(level)
    try:
        with caplog.at_level(logging.DEBUG):
            assert api.movie_details(min(sandbox.catalog.catalog_ids(CATALOG_DATE))) is not None
    finally:
        dlt_logger.setLevel(before)
    lines = [r.getMessage() for r in caplog.records if r.name == ingest.tmdb.DLT_LOGGER]
    if level == logging.INFO:
        assert len(lines) == 1 and lines[0].startswith("Making GET request to ")
        assert "/movie/" in lines[0] and sandbox.api_key not in lines[0]
        assert len(redacted) == 1
    else:
        assert lines == [] and redacted == []

"""``moviemetric load`` as a user runs it, and the embedded-PostgreSQL default."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date

import pytest

import ingest.retry
from ingest import run_load
from ingest.sandbox import Faults, Sandbox
from moviemetric.config import get_settings
from moviemetric.steps import StepOptions
from moviemetric.warehouse import connect, open_warehouse

CATALOG_DATE = date(2026, 1, 15)


def moviemetric_load(*arguments: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "moviemetric.cli", "load", *arguments],
        env={**os.environ, "TMDB_REQUESTS_PER_SECOND": "100000", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_load_prints_one_summary_line_and_fails_with_one_error_line(
    database_url: str,
) -> None:
    with Sandbox(movies=300, seed=3, catalog_date=CATALOG_DATE) as sandbox:
        base_url = sandbox.base_url
        expected = len(sandbox.catalog.catalog_ids(CATALOG_DATE))
        done = moviemetric_load(**sandbox.source_env())
        refused = moviemetric_load(**{**sandbox.source_env(), "TMDB_API_KEY": "wrong-key"})

    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"Loaded {expected:,} movies from {base_url} (backfill): ")
    assert f"{expected:,} details fetched" in line and "movies/s" in line

    assert refused.returncode == 1
    assert refused.stdout == ""
    (error,) = refused.stderr.strip().splitlines()
    assert error.startswith("moviemetric: error: TMDB rejected the credentials (HTTP 401")
    assert "TMDB_API_KEY" in error and "wrong-key" not in error


class RecordingSink:
    """A ``ProgressSink`` keeping what the step reported."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.progress_calls: list[tuple[str, int, int | None]] = []

    def progress(self, task: str, done: int, total: int | None, detail: str = "") -> None:
        self.progress_calls.append((task, done, total))

    def message(self, text: str) -> None:
        self.messages.append(text)


def test_without_a_key_the_built_in_sandbox_is_loaded(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("MOVIEMETRIC_SANDBOX_MOVIES", "150")
    monkeypatch.setenv("MOVIEMETRIC_SANDBOX_SEED", "9")
    monkeypatch.setenv("TMDB_REQUESTS_PER_SECOND", "100000")
    get_settings.cache_clear()
    sink = RecordingSink()

    summary = run_load(open_warehouse(get_settings()), StepOptions(), sink)

    # the step tells its sink, never the terminal
    assert capfd.readouterr() == ("", "")
    (message,) = sink.messages
    assert "loading from the built-in TMDB sandbox" in message
    movies = summary.details["movies"]
    final = {task: (done, total) for task, done, total in sink.progress_calls}
    assert final["ID export"] == (movies, None)  # the export's length is not known ahead
    assert final["details"] == (movies, movies)
    assert summary.details["source"] == "the TMDB sandbox" and summary.details["backfill"]
    with connect(database_url) as conn:
        (count,) = conn.execute("select count(*) from raw_tmdb.movies").fetchone()
    assert count == summary.details["movies"] > 0


def test_load_into_the_embedded_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(movies=300, seed=5, catalog_date=CATALOG_DATE) as sandbox:
        for name, value in sandbox.source_env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("TMDB_REQUESTS_PER_SECOND", "100000")
        get_settings.cache_clear()
        settings = get_settings()
        assert open_warehouse(settings).embedded

        summary = run_load(open_warehouse(settings))
        expected = sandbox.catalog.catalog_ids(CATALOG_DATE)

    with connect(open_warehouse(get_settings()).url) as conn:
        loaded = {movie_id for (movie_id,) in conn.execute("select id from raw_tmdb.movies")}
        (snapshots,) = conn.execute(
            "select count(*) from raw_tmdb.movie_popularity_snapshots where snapshot_date = %s",
            (CATALOG_DATE,),
        ).fetchone()
    assert loaded == expected
    assert snapshots == summary.details["snapshots"] == len(expected)


def test_cli_load_failing_in_details_prints_retries_and_one_error_line_only(
    database_url: str,
) -> None:
    # Every /movie/{id} fails: the sweep loads, then the details' threads retry and give up.
    faults = Faults(server_error_rate=1.0, routes=("/movie/{movie_id}",))
    with Sandbox(movies=300, seed=3, catalog_date=CATALOG_DATE, faults=faults) as sandbox:
        base_url = sandbox.base_url
        failed = moviemetric_load(
            **sandbox.source_env(),
            RUNTIME__REQUEST_MAX_ATTEMPTS="3",  # waits of 1 s and 2 s, as by default
        )

    assert failed.returncode == 1
    assert failed.stdout == ""
    # the progress display's own lines (cursor control) are not messages
    lines = [line for line in failed.stderr.splitlines() if line.startswith("moviemetric:")]
    errors = [line for line in lines if line.startswith("moviemetric: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], failed.stderr
    assert re.match(
        rf"moviemetric: error: TMDB answered HTTP 50[023] for {re.escape(base_url)}/movie/\d+"
        r"\?append_to_response=keywords%2Ccredits&api_key=\*\*\*(: .+)?"
        r" \(gave up after 3 attempts\)",
        errors[0],
    ), errors[0]
    # the rest is one warning per retry: no dlt output, no traceback, no other error
    for line in lines[:-1]:
        assert re.match(
            r"moviemetric: WARNING: HTTP 50[023] from /3/movie/\d+\S* \(attempt [12] of 3\); "
            r"retrying in [12] s$",
            line,
        ), line
    assert "ERROR" not in failed.stderr and "Traceback" not in failed.stderr
    assert "dlt" not in failed.stderr
    assert sandbox.api_key not in failed.stderr


def test_load_help_states_the_retry_budget() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "moviemetric.cli", "load", "--help"],
        env={**os.environ, "COLUMNS": "300", "TERM": "dumb"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = " ".join(result.stdout.split())
    settings = ingest.retry.RetrySettings()
    assert f"tried at most {settings.max_attempts} times, waiting 1, 2, 4, 8 s" in text
    assert f"{settings.max_retry_delay:g} s at most" in text
    budget = ingest.retry.RETRY_BUDGET_SECONDS
    window = ingest.retry.RETRY_BUDGET_WINDOW_SECONDS / 60
    assert f"waited {budget:g} s in all within {window:g} minutes" in text
    assert "one error line naming the last status and path" in text

"""``moviemetric load`` as a user runs it, and the embedded-PostgreSQL default."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest

from ingest.pipeline import run_load
from ingest.sandbox import Sandbox
from moviemetric.config import get_settings
from moviemetric.warehouse import connect, database_url, is_embedded

CATALOG_DATE = date(2026, 1, 15)


def moviemetric_load(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "moviemetric.cli", "load"],
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
        expected = len(sandbox.catalog.dated_movie_ids(CATALOG_DATE))
        done = moviemetric_load(TMDB_BASE_URL=sandbox.base_url, TMDB_API_KEY=sandbox.api_key)
        refused = moviemetric_load(TMDB_BASE_URL=sandbox.base_url, TMDB_API_KEY="wrong-key")

    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"Loaded {expected:,} movies from {base_url} (backfill): ")
    assert f"{expected:,} details fetched" in line and "movies/s" in line

    assert refused.returncode == 1
    assert refused.stdout == ""
    (error,) = refused.stderr.strip().splitlines()
    assert error.startswith("moviemetric: error: TMDB rejected the credentials (HTTP 401")
    assert "TMDB_API_KEY" in error and "wrong-key" not in error


def test_without_a_key_the_built_in_sandbox_is_loaded(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("MOVIEMETRIC_SANDBOX_MOVIES", "150")
    monkeypatch.setenv("MOVIEMETRIC_SANDBOX_SEED", "9")
    monkeypatch.setenv("TMDB_REQUESTS_PER_SECOND", "100000")
    get_settings.cache_clear()

    summary = run_load(get_settings(), progress=False)

    assert "loading from the built-in TMDB sandbox" in capsys.readouterr().err
    assert summary.source == "the TMDB sandbox" and summary.backfill
    with connect(database_url) as conn:
        (count,) = conn.execute("select count(*) from raw_tmdb.movies").fetchone()
    assert count == summary.movies > 0


def test_load_into_the_embedded_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(movies=300, seed=5, catalog_date=CATALOG_DATE) as sandbox:
        monkeypatch.setenv("TMDB_BASE_URL", sandbox.base_url)
        monkeypatch.setenv("TMDB_API_KEY", sandbox.api_key)
        monkeypatch.setenv("TMDB_REQUESTS_PER_SECOND", "100000")
        get_settings.cache_clear()
        settings = get_settings()
        assert is_embedded(settings)

        summary = run_load(settings, progress=False)
        expected = sandbox.catalog.dated_movie_ids(CATALOG_DATE)

    with connect(database_url()) as conn:
        loaded = {movie_id for (movie_id,) in conn.execute("select id from raw_tmdb.movies")}
        (snapshots,) = conn.execute(
            "select count(*) from raw_tmdb.movie_popularity_snapshots where snapshot_date = %s",
            (CATALOG_DATE,),
        ).fetchone()
    assert loaded == expected
    assert snapshots == summary.snapshots == len(expected)

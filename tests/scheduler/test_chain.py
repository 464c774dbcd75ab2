"""`moviemetric run`: load -> transform -> index -> publish once, as a user runs it.

A failed step stops the chain.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg

from ingest.sandbox import Sandbox

CATALOG_DATE = date(2026, 1, 15)


def moviemetric_run(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "moviemetric.cli", "run"],
        env={**os.environ, "TMDB_REQUESTS_PER_SECOND": "100000", **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def published_version(url: str) -> int | None:
    with psycopg.connect(url) as conn:
        exists = conn.execute("select to_regclass('ops.data_version')").fetchone()[0]
        if exists is None:
            return None
        return conn.execute("select max(version) from ops.data_version").fetchone()[0]


def test_run_loads_then_publishes_and_a_failed_load_stops_the_chain(database_url: str) -> None:
    with Sandbox(movies=400, seed=5, catalog_date=CATALOG_DATE) as sandbox:
        env = sandbox.source_env()
        done = moviemetric_run(**env)
        assert done.returncode == 0, done.stderr
        steps = [line.split(":", 1)[0] for line in done.stdout.splitlines()]
        assert steps == ["load", "freshness", "transform", "index", "publish"]
        (freshness,) = [line for line in done.stdout.splitlines() if line.startswith("freshness:")]
        assert "source freshness pass" in freshness  # the sandbox was just loaded
        assert published_version(database_url) == 1
        with psycopg.connect(database_url) as conn:
            query = "select count(*) from artifacts.search_documents"
            (documents,) = conn.execute(query).fetchone()
        assert documents > 0
        # the build starts from the parse the freshness step saved, not a full parse
        dbt_log = (Path(os.environ["MOVIEMETRIC_HOME"]) / "dbt" / "logs" / "dbt.log").read_text()
        assert dbt_log.count("Starting full parse") == 1
        assert "no changes found, skipping parsing" in dbt_log

        sandbox.advance(days=1)
        refused = moviemetric_run(**{**env, "TMDB_API_KEY": "revoked"})

    assert refused.returncode == 1
    assert refused.stdout == ""  # the load failed: transform never ran
    (error,) = refused.stderr.strip().splitlines()
    assert error.startswith("moviemetric: error: TMDB rejected the credentials")
    assert published_version(database_url) == 1

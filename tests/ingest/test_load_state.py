"""dlt's state of the ``tmdb`` pipeline stays the same size whatever the catalog's size.

The known ids are read from ``raw_tmdb.movies``; the state holds only the date of the
last successful load (docs/architecture.md, "Raw layer").
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from dlt.common.versioned_state import decompress_state

from ingest import prune_load_packages
from ingest.sandbox import Sandbox
from moviemetric.config import Settings
from tests.sandbox_loads import load_sandbox

CATALOG_DATE = date(2026, 1, 15)
# what may differ between two states of one layout (digits of a version or a hash)
STATE_SLACK = 64


def stored_state(url: str) -> tuple[int, int, dict]:
    """The newest ``tmdb`` row of raw_tmdb._dlt_pipeline_state: the length of its stored
    (compressed) text, of the state as JSON, and the ``tmdb`` source's own state."""
    with psycopg.connect(url) as conn:
        (text,) = conn.execute(
            "select state from raw_tmdb._dlt_pipeline_state where pipeline_name = 'tmdb'"
            " order by version desc limit 1"
        ).fetchone()
    state = decompress_state(text)
    return len(text), len(json.dumps(state)), state["sources"]["tmdb"]


def test_dlt_state_does_not_grow_with_the_catalog(
    make_database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sizes = {}
    for movies in (300, 3_000):
        url = make_database()
        with Sandbox(movies=movies, seed=7, catalog_date=CATALOG_DATE) as sandbox:
            details = load_sandbox(monkeypatch, sandbox, url, tmp_path / str(movies))
            assert details["movies"] == len(sandbox.catalog.catalog_ids(CATALOG_DATE))
            # a second load of the day: incremental, and the state keeps its size
            assert not load_sandbox(monkeypatch, sandbox, url, tmp_path / str(movies))["backfill"]
        sizes[movies] = stored_state(url)
        print(f"dlt state after {movies:,} movies: {sizes[movies][:2]} (stored, JSON)")

    (small_text, small_json, small), (large_text, large_json, large) = sizes.values()
    assert small == large == {"last_load_date": CATALOG_DATE.isoformat()}
    assert abs(large_text - small_text) <= STATE_SLACK
    assert abs(large_json - small_json) <= STATE_SLACK


def test_completed_load_packages_older_than_the_retention_are_pruned(tmp_path: Path) -> None:
    settings = Settings(moviemetric_home=tmp_path)
    loaded = tmp_path / "dlt" / "tmdb" / "load" / "loaded"
    now = time.time()
    old, recent = loaded / f"{now - 31 * 86400:.6f}", loaded / f"{now - 3600:.6f}"
    for package in (old, recent, loaded / "not-a-package"):
        (package / "completed_jobs").mkdir(parents=True)

    assert prune_load_packages(settings, timedelta(days=30)) == 1

    assert sorted(path.name for path in loaded.iterdir()) == sorted([recent.name, "not-a-package"])
    assert prune_load_packages(Settings(moviemetric_home=tmp_path / "none"), timedelta(1)) == 0

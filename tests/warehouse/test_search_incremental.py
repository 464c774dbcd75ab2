"""The search index at the cost of what changed (int_search_text, incremental by movie).

A daily build folds again the text of the movies whose details were loaded again and
of the movies new to the catalog, and keeps every other movie's row as it was; the
published search index and bitmaps it gives equal those of a full rebuild of the same
day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ingest.sandbox import Sandbox
from moviemetric.steps import StepOptions
from moviemetric.warehouse import open_warehouse
from tests.sandbox_loads import load_sandbox
from tests.warehouse.conftest import warehouse_settings
from transform import run_transform

MOVIES, SEED, DAY = 1000, 23, date(2026, 4, 20)


def _rows(url: str, statement: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement).fetchall()


def _text_rows(url: str) -> dict[int, tuple[str, str]]:
    """movie -> (its details' loaded_at, the transaction that wrote its row)."""
    rows = _rows(
        url, "select movie_id, loaded_at::text, xmin::text from intermediate.int_search_text"
    )
    return {movie: (loaded_at, xmin) for movie, loaded_at, xmin in rows}


def _published_search(url: str) -> dict[str, list[tuple]]:
    return {
        "search_index": _rows(url, "select * from artifacts.search_index order by movie_id"),
        "search_bitmaps": _rows(url, "select * from artifacts.search_bitmaps order by kind, value"),
    }


def test_a_daily_build_folds_only_the_reloaded_movies_and_agrees_with_a_full_rebuild(
    make_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = make_database()
    warehouse = open_warehouse(warehouse_settings(url, tmp_path / "home"))
    with Sandbox(movies=MOVIES, seed=SEED, catalog_date=DAY) as sandbox:
        load_sandbox(monkeypatch, sandbox, url, tmp_path / "home")
        # the loader indexes the snapshots by load time: the daily models read the day
        assert _rows(
            url,
            "select 1 from pg_indexes where schemaname = 'raw_tmdb'"
            " and tablename = 'movie_popularity_snapshots' and indexdef like '%(_loaded_at)'",
        ) == [(1,)]
        run_transform(warehouse)
        before = _text_rows(url)
        sandbox.advance(days=1)
        load_sandbox(monkeypatch, sandbox, url, tmp_path / "home")
    run_transform(warehouse)
    after = _text_rows(url)
    daily = _published_search(url)

    catalog = {movie for (movie,) in _rows(url, "select movie_id from artifacts.movie_catalog")}
    assert set(after) == catalog
    reloaded = {
        m for m, (loaded_at, _xmin) in after.items() if m in before and before[m][0] != loaded_at
    }
    refolded = {
        m for m, (_loaded_at, xmin) in after.items() if m not in before or before[m][1] != xmin
    }
    assert reloaded, "the sandbox day should load some movies' details again"
    # the reloaded and new movies were folded again, and only those
    assert refolded == reloaded | (set(after) - set(before))
    assert len(refolded) < 0.5 * len(after), (len(refolded), len(after))

    run_transform(
        warehouse,
        StepOptions(full_refresh=True, select="int_search_text+ movie_catalog search_documents"),
    )
    assert {m: xmin for m, (_l, xmin) in _text_rows(url).items()} != {
        m: xmin for m, (_l, xmin) in after.items()
    }, "the full rebuild should write every row again"
    rebuilt = _published_search(url)
    for table, rows in rebuilt.items():
        assert rows, table
        assert rows == daily[table], table

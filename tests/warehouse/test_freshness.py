"""The chain's freshness step: `dbt source freshness` of raw_tmdb, recorded, never fatal
for stale data (the thresholds are the source's: warn after 26 h, error after 50 h)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from moviemetric.warehouse import open_warehouse
from tests.warehouse.conftest import warehouse_settings
from tests.warehouse.raw_fixture import load_raw, make_catalog
from transform import TransformError, run_freshness


def test_stale_sources_are_reported_not_raised(published_warehouse) -> None:
    # the session warehouse was loaded for days ending 2026-01-15: long past 50 hours
    result = run_freshness(open_warehouse(published_warehouse.settings))

    freshness = result.details["freshness"]
    assert result.step == "freshness"
    assert freshness["status"] == "error"
    assert set(freshness["sources"]) == {
        "movies",
        "genres",
        "movie_popularity_snapshots",
        "trending_movies",
    }
    assert freshness["sources"]["movies"]["status"] == "error"
    assert freshness["sources"]["movies"]["age_seconds"] > 50 * 3600
    assert freshness["max_loaded_at"].startswith("2026-01-15")
    assert result.summary.startswith("source freshness error: genres error, movie_popularity")


def test_a_fresh_load_passes(make_database, tmp_path) -> None:
    url = make_database()
    today = datetime.now(UTC).date()
    load_raw(url, make_catalog(movies=20, days=1, end=today), tmp_path / "dlt")

    result = run_freshness(open_warehouse(warehouse_settings(url, tmp_path / "home")))

    assert result.details["freshness"]["status"] == "pass"
    assert {source["status"] for source in result.details["freshness"]["sources"].values()} == {
        "pass"
    }


def test_a_check_that_cannot_run_fails_the_step(make_database, tmp_path) -> None:
    url = make_database()  # no raw_tmdb at all: dbt cannot query the sources

    with pytest.raises(TransformError, match=r"could not check .*has `moviemetric load` run"):
        run_freshness(open_warehouse(warehouse_settings(url, tmp_path / "home")))

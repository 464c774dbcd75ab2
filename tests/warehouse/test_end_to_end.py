"""Sandbox -> real dlt loader -> dbt build -> publish, over several sandbox days."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from ingest import run_load
from ingest.sandbox import Sandbox
from moviemetric.warehouse import open_warehouse
from tests.warehouse.conftest import ARTIFACTS, warehouse_settings
from transform import run_transform

pytestmark = pytest.mark.slow


def test_sandbox_days_load_transform_and_publish(database_url, tmp_path, monkeypatch):
    with Sandbox(movies=1500, seed=7, catalog_date=date(2026, 1, 15)) as sandbox:
        for name, value in sandbox.source_env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("TMDB_REQUESTS_PER_SECOND", "1000")
        settings = warehouse_settings(database_url, tmp_path / "home")
        for _ in range(3):
            run_load(open_warehouse(settings))
            sandbox.advance(days=1)

        first = run_transform(open_warehouse(settings))

        run_load(open_warehouse(settings))  # a fourth day, then an incremental build
        second = run_transform(open_warehouse(settings))

    with psycopg.connect(database_url) as conn:

        def scalar(statement: str):
            return conn.execute(statement).fetchone()[0]

        assert (first.version, second.version) == (1, 2)
        assert scalar("select version from ops.data_version") == 2
        assert set(second.rows) == set(ARTIFACTS)
        assert all(count > 0 for count in second.rows.values())

        catalog = scalar("select count(*) from raw_tmdb.movies where not coalesce(adult, false)")
        assert catalog > 1000
        assert scalar("select count(*) from artifacts.search_documents") == catalog
        dated = scalar(
            "select count(*) from raw_tmdb.movies"
            " where not coalesce(adult, false) and coalesce(release_date, '') != ''"
        )
        assert scalar("select sum(movie_count) from artifacts.ratings_by_decade") == dated

        # four source days: the incremental fact table kept them all, trending ranks each
        assert (
            scalar("select count(distinct snapshot_date) from marts.fct_movie_popularity_daily")
            == 4
        )
        days = conn.execute(
            "select trend_date, count(*), max(rank), count(*) filter (where momentum != 0)"
            " from artifacts.movie_trending_daily group by trend_date order by trend_date"
        ).fetchall()
        assert len(days) == 4
        assert all(count == top == 100 for _, count, top, _ in days)
        assert days[0][3] == 0  # first day: no history, no momentum
        assert days[-1][3] > 0  # later days move against their trailing average
        assert scalar("select count(distinct stat_date) from artifacts.genre_stats_daily") == 4

        assert (
            scalar(
                "select max(per_movie) from (select count(*) as per_movie"
                " from artifacts.movie_recommendations group by movie_id) as counts"
            )
            == 10
        )
        assert (
            scalar(
                "select count(*) from artifacts.movie_recommendations"
                " where movie_id = recommended_movie_id"
            )
            == 0
        )

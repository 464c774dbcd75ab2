"""The popularity history keeps var('snapshot_retention_days') days, and refuses a
retention shorter than what the daily artifacts read; raw keeps only its last
var('raw_snapshot_retention_days') days once the history holds them (transform/history.py),
so the history is stored once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from moviemetric.steps import StepOptions
from moviemetric.warehouse import open_warehouse
from tests.warehouse.conftest import warehouse_settings
from tests.warehouse.raw_fixture import load_raw, make_catalog
from transform import run_transform
from transform.dbt import run_dbt_command
from transform.history import raw_retention_days

DAYS = 20


def _fact_schema(conn: psycopg.Connection) -> str:
    (schema,) = conn.execute(
        "select table_schema from information_schema.tables"
        " where table_name = 'fct_movie_popularity_daily'"
    ).fetchone()
    return schema


def test_the_history_keeps_the_retention_period_and_refuses_one_too_short(
    make_database: Callable[[], str], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    url = make_database()
    load_raw(url, make_catalog(movies=40, days=DAYS), tmp_path / "dlt")
    warehouse = open_warehouse(warehouse_settings(url, tmp_path / "home"))

    def build(history_days: int, retention_days: int, raw_days: int = 45) -> int:
        variables = {
            "history_days": history_days,
            "snapshot_retention_days": retention_days,
            "raw_snapshot_retention_days": raw_days,
        }
        # the first build makes the fact's upstream; the refused ones need only the fact
        selection = "fct_movie_popularity_daily" if built else "+fct_movie_popularity_daily"
        built.append(selection)
        return run_dbt_command(
            warehouse, ["run", "--select", selection, "--vars", json.dumps(variables)]
        )

    built: list[str] = []

    assert build(history_days=3, retention_days=12) == 0
    with psycopg.connect(url) as conn:
        schema = _fact_schema(conn)
        days, oldest, newest = conn.execute(
            f"select count(distinct snapshot_date), min(snapshot_date), max(snapshot_date)"
            f" from {schema}.fct_movie_popularity_daily"
        ).fetchone()
        (raw_days,) = conn.execute(
            "select count(distinct snapshot_date) from raw_tmdb.movie_popularity_snapshots"
        ).fetchone()
    assert raw_days == DAYS
    # the newest day and the 12 before it stay; the older ones are gone
    assert (newest - oldest).days == 12
    assert days == 13

    capfd.readouterr()
    assert build(history_days=3, retention_days=10) != 0
    output = capfd.readouterr().out
    assert "snapshot_retention_days (10) must be longer than history_days + 7 (10)" in output
    # raw must keep a dev build's window too
    assert build(history_days=3, retention_days=12, raw_days=9) != 0
    output = capfd.readouterr().out
    assert "raw_snapshot_retention_days (9) must be at least history_days + 7 (10)" in output


def test_raw_keeps_its_last_weeks_once_the_history_holds_them(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    url = make_database()
    days = 60
    catalog = make_catalog(movies=40, days=days)
    end = max(row["snapshot_date"] for row in catalog.snapshots)
    gone, quiet = catalog.movies[5]["id"], catalog.movies[6]["id"]
    left_on = end - timedelta(days=50)
    # `gone` left the export 50 days ago; `quiet` has had no votes on a snapshot since
    catalog.snapshots = [
        row for row in catalog.snapshots if row["id"] != gone or row["snapshot_date"] <= left_on
    ]
    for row in catalog.snapshots:
        if row["id"] == quiet and row["snapshot_date"] > left_on:
            row["vote_average"] = row["vote_count"] = None
    load_raw(url, catalog, tmp_path / "dlt")
    warehouse = open_warehouse(warehouse_settings(url, tmp_path / "home"))
    keep = raw_retention_days(warehouse.settings.dbt_project_dir)
    assert keep < days - 10

    def raw_days(where: str = "true") -> list[tuple]:
        return conn.execute(
            "select id, snapshot_date from raw_tmdb.movie_popularity_snapshots"
            f" where {where} order by 1, 2"
        ).fetchall()

    def history() -> list[tuple]:
        return conn.execute(
            "select * from marts.fct_movie_popularity_daily order by movie_id, snapshot_date"
        ).fetchall()

    summary = run_transform(warehouse)
    with psycopg.connect(url) as conn:
        kept_from = end - timedelta(days=keep)
        # raw: the last `keep` days and the newest, plus each movie's newest snapshot
        # and newest one with votes from before them
        assert {day for _, day in raw_days()} == {
            kept_from + timedelta(days=n) for n in range(keep + 1)
        } | {left_on}
        assert raw_days(f"snapshot_date < '{kept_from}'") == [(gone, left_on), (quiet, left_on)]
        assert summary.details["raw_snapshots_pruned"] == len(catalog.snapshots) - len(raw_days())
        # the history holds every day, once
        full_history = history()
        assert len(full_history) == len(catalog.snapshots)
        assert len({day for _, day, *_ in full_history}) == days
        movies = conn.execute("select * from marts.dim_movies order by movie_id").fetchall()
        (removed,) = conn.execute(
            "select is_removed from marts.dim_movies where movie_id = %s", (gone,)
        ).fetchone()
        assert removed

    # a full refresh rebuilds the movies from the pruned raw but keeps the history, and
    # they come out the same (the removed one still removed, the old votes kept)
    full_refresh = StepOptions(full_refresh=True, select="+dim_movies fct_movie_popularity_daily")
    run_transform(warehouse, full_refresh)
    with psycopg.connect(url) as conn:
        assert history() == full_history
        assert conn.execute("select * from marts.dim_movies order by movie_id").fetchall() == movies

    # an analyst's dev build reads the pruned raw: its history is raw's days, and the
    # daily artifacts, which read their window of it, equal what prod published
    daily = ("movie_trending_daily", "genre_stats_daily")
    selection = " ".join(f"+{model}" for model in daily)
    assert run_dbt_command(warehouse, ["run", "--select", selection]) == 0
    with psycopg.connect(url) as conn:
        (dev_days,) = conn.execute(
            "select count(distinct snapshot_date) from dev_marts.fct_movie_popularity_daily"
        ).fetchone()
        assert dev_days == keep + 2  # the last `keep` days, the newest, and `left_on`
        for model in daily:
            published, dev = (
                conn.execute(f"select * from {schema}.{model} order by 1, 2").fetchall()
                for schema in ("artifacts", "dev_artifacts")
            )
            assert dev == published != []

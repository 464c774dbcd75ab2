"""The popularity history keeps var('snapshot_retention_days') days, and refuses a
retention shorter than what the daily artifacts read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from moviemetric.warehouse import open_warehouse
from tests.warehouse.conftest import warehouse_settings
from tests.warehouse.raw_fixture import load_raw, make_catalog
from transform.dbt import run_dbt_command

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

    def build(history_days: int, retention_days: int) -> int:
        variables = {"history_days": history_days, "snapshot_retention_days": retention_days}
        return run_dbt_command(
            warehouse,
            ["run", "--select", "+fct_movie_popularity_daily", "--vars", json.dumps(variables)],
        )

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

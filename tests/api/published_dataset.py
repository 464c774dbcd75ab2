"""A real published dataset: the TMDB sandbox loaded for several days, then transformed.

This is the path production data takes (sandbox -> ``run_load`` -> ``run_transform``,
which publishes ``artifacts`` and ``ops.data_version`` and grants the API role), so the
API tests and the API benchmark read exactly what the API reads in production.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg

from ingest import run_load
from ingest.sandbox import Sandbox
from moviemetric.config import Settings
from moviemetric.ops import publish_version
from moviemetric.warehouse import open_warehouse
from transform import run_transform

CATALOG_DATE = date(2026, 1, 15)


def publish_sandbox_dataset(
    url: str, home: Path, *, movies: int = 1500, days: int = 3, seed: int = 7
) -> None:
    """Load ``days`` consecutive sandbox days into ``url``, then build and publish."""
    with Sandbox(movies=movies, seed=seed, catalog_date=CATALOG_DATE) as sandbox:
        settings = Settings(
            database_url=url,
            moviemetric_home=home,
            redis_url=None,
            tmdb_base_url=sandbox.base_url,
            tmdb_exports_url=sandbox.exports_url,
            tmdb_api_key=sandbox.api_key,
            tmdb_access_token=None,
            tmdb_requests_per_second=1000,
        )
        for day in range(days):
            if day:
                sandbox.advance(days=1)
            run_load(open_warehouse(settings))
        run_transform(open_warehouse(settings))


def bump_data_version(conn: psycopg.Connection) -> int:
    """What a publish does last: bump ops.data_version and notify; returns the new version."""
    return publish_version(conn, "test")

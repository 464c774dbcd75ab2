"""A real published dataset: the TMDB sandbox loaded for several days, then transformed.

This is the path production data takes (sandbox -> ``run_load`` -> ``run_transform``,
which publishes ``artifacts`` and ``ops.data_version`` and grants the API role), so the
API tests and the API benchmark read exactly what the API reads in production.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from ingest.pipeline import run_load
from ingest.sandbox import Sandbox
from moviemetric.config import Settings
from moviemetric.transform import run_transform
from moviemetric.warehouse import OPS_SCHEMA, PUBLISH_CHANNEL

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
            tmdb_api_key=sandbox.api_key,
            tmdb_access_token=None,
            tmdb_requests_per_second=1000,
        )
        for day in range(days):
            if day:
                sandbox.advance(days=1)
            run_load(settings, progress=False)
        run_transform(settings)


def bump_data_version(conn: psycopg.Connection) -> int:
    """What a publish does last: bump ops.data_version and notify; returns the new version."""
    with conn.cursor(row_factory=tuple_row) as cursor:
        (version,) = cursor.execute(
            sql.SQL(
                "update {}.data_version set version = version + 1, published_at = now() "
                "returning version"
            ).format(sql.Identifier(OPS_SCHEMA))
        ).fetchone()
        cursor.execute("select pg_notify(%s, %s)", (PUBLISH_CHANNEL, str(version)))
    return version

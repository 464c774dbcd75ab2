"""Warehouse fixtures: one database for the session, loaded and transformed once.

dbt runs cost seconds each, so the tests share one published
warehouse and read it; tests that change raw data restore it before they end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from moviemetric.config import Settings
from moviemetric.steps import StepResult
from moviemetric.warehouse import open_warehouse
from tests.shared_datasets import dataset
from tests.warehouse.raw_fixture import RawCatalog, load_raw, make_catalog
from transform import run_transform

ARTIFACTS = (
    "genre_stats_daily",
    "movie_catalog",
    "movie_recommendations",
    "movie_trending_daily",
    "ratings_by_decade",
    "search_bitmaps",
    "search_catalog_facets",
    "search_documents",
    "search_facet_cells",
    "search_index",
    "search_term_variants",
    "search_terms",
)


@dataclass
class Warehouse:
    url: str
    settings: Settings
    catalog: RawCatalog
    pipelines_dir: Path
    summary: StepResult | None = None
    # schemas besides the published one right after the fixture's publish (later tests
    # may leave a failed build behind for inspection)
    schemas_after_publish: tuple[str, ...] = ()

    def query(self, statement: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(statement, params).fetchall()

    def load(self, catalog: RawCatalog) -> None:
        """Load ``catalog`` into raw_tmdb; it becomes this warehouse's catalog."""
        load_raw(self.url, catalog, self.pipelines_dir)
        self.catalog = catalog


CATALOG = {"movies": 300, "days": 10, "seed": 7}


def warehouse_settings(url: str, home: Path) -> Settings:
    return Settings(database_url=url, moviemetric_home=home)


def _publish_fixture_catalog(url: str, root: Path) -> tuple[StepResult, tuple[str, ...]]:
    load_raw(url, make_catalog(**CATALOG), root / "dlt")
    summary = run_transform(open_warehouse(warehouse_settings(url, root / "home")))
    with psycopg.connect(url) as conn:
        schemas = conn.execute(
            "select nspname from pg_namespace where nspname like 'artifacts\\_\\_%'"
        ).fetchall()
    return summary, tuple(s for (s,) in schemas)


@pytest.fixture(scope="session")
def published_warehouse(request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """300 movies with 10 days of snapshots, loaded through dlt and published once."""
    with dataset(request, "wh", _publish_fixture_catalog) as (url, root, (summary, schemas)):
        settings = warehouse_settings(url, root / "home")
        yield Warehouse(url, settings, make_catalog(**CATALOG), root / "dlt", summary, schemas)

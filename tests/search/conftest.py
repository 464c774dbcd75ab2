"""A published warehouse of ``tests/search/catalog.py``'s catalog, for the search tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from moviemetric.steps import StepResult
from moviemetric.warehouse import open_warehouse
from tests.search.catalog import search_catalog
from tests.shared_datasets import dataset
from tests.warehouse.conftest import Warehouse, warehouse_settings
from tests.warehouse.raw_fixture import load_raw
from transform import run_transform


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _publish_search_catalog(url: str, root: Path) -> StepResult:
    load_raw(url, search_catalog(), root / "dlt")
    return run_transform(open_warehouse(warehouse_settings(url, root / "home")))


@pytest.fixture(scope="session")
def search_warehouse(request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """The search catalog loaded through dlt, built and published once."""
    with dataset(request, "search", _publish_search_catalog) as (url, root, summary):
        settings = warehouse_settings(url, root / "home")
        yield Warehouse(url, settings, search_catalog(), root / "dlt", summary)

"""A published warehouse of ``tests/search/catalog.py``'s catalog, for the search tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from moviemetric.warehouse import open_warehouse
from tests.conftest import create_database, drop_database
from tests.search.catalog import search_catalog
from tests.warehouse.conftest import Warehouse, warehouse_settings
from tests.warehouse.raw_fixture import load_raw
from transform import run_transform


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def search_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """The search catalog loaded through dlt, built and published once."""
    name, url = create_database("mm_search")
    root = tmp_path_factory.mktemp("search-warehouse")
    try:
        catalog = search_catalog()
        load_raw(url, catalog, root / "dlt")
        settings = warehouse_settings(url, root / "home")
        summary = run_transform(open_warehouse(settings))
        yield Warehouse(url, settings, catalog, root / "dlt", summary)
    finally:
        drop_database(name)

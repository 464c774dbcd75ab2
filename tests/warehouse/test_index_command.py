"""`moviemetric index` on the PostgreSQL backend: dbt rebuilds the search artifacts alone.

They are published as a new data version with every other artifact carried over, and
the index step between build and publish reports the candidate's search artifacts.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from moviemetric.cli import app
from moviemetric.config import get_settings
from tests.warehouse.conftest import (
    ARTIFACTS,
    published_warehouse,  # noqa: F401  (a private instance)
)


def _counts(warehouse, schema: str = "artifacts") -> dict[str, int]:
    tables = warehouse.query(
        "select table_name from information_schema.tables where table_schema = %s", (schema,)
    )
    return {
        name: warehouse.query(f'select count(*) from {schema}."{name}"')[0][0] for (name,) in tables
    }


def test_index_rebuilds_the_search_artifacts_and_publishes_them_with_the_rest(
    published_warehouse,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (version,) = published_warehouse.query("select version from ops.data_version")[0]
    before = _counts(published_warehouse)
    monkeypatch.setenv("DATABASE_URL", published_warehouse.url)
    monkeypatch.setenv("MOVIEMETRIC_HOME", str(published_warehouse.settings.home_dir))
    get_settings.cache_clear()

    result = CliRunner().invoke(app, ["index"])

    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if ": " in line]
    assert [line.split(":", 1)[0] for line in lines] == ["transform", "index", "publish"]
    index_line = lines[1]
    documents = before["search_documents"]
    assert f"search_documents {documents:,}" in index_line
    assert f"search_index {documents:,}" in index_line
    assert "search_terms " in index_line and "search_term_variants " in index_line
    assert published_warehouse.query("select version from ops.data_version")[0] == (version + 1,)
    assert _counts(published_warehouse) == before  # same data, every artifact still there
    assert set(ARTIFACTS) <= set(before)

"""The chain with MEILI_URL set: transform -> index -> publish on a real warehouse.

The data version (the API cache's key) moves only once the index of that version is
live, and an index that fails to build or swap publishes nothing: the version, the
published schema and the live index stay as they were.
"""

from __future__ import annotations

import psycopg
import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from moviemetric.cli import app
from moviemetric.config import get_settings
from moviemetric.warehouse import open_warehouse
from scheduler import TRANSFORM_STEPS, run_chain
from search import IndexBuildError
from search.meili import LIVE_INDEX
from tests.search.meili_server import FakeMeili, task_error
from tests.warehouse.conftest import published_warehouse  # noqa: F401  (a private instance)
from transform import PublishError


@pytest.fixture
def meili(httpserver: HTTPServer) -> FakeMeili:
    return FakeMeili(httpserver).install()


def _state(url: str) -> tuple:
    """The published version, its build and the published schema's identity."""
    with psycopg.connect(url) as conn:
        version, build_id = conn.execute(
            "select version, build_id from ops.data_version"
        ).fetchone()
        (schema,) = conn.execute(
            "select oid from pg_namespace where nspname = 'artifacts'"
        ).fetchone()
        return version, build_id, schema


def _documents(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from artifacts.search_documents").fetchone()[0]


def _meili_warehouse(published, meili: FakeMeili):
    return open_warehouse(published.settings.model_copy(update={"meili_url": meili.url}))


def _old_live_index(meili: FakeMeili) -> dict:
    meili.indexes[LIVE_INDEX] = {
        "primaryKey": "movie_id",
        "documents": {1: {"movie_id": 1, "title": "the previous version"}},
        "settings": {},
    }
    return dict(meili.documents(LIVE_INDEX))


def test_the_publish_moves_the_version_only_after_the_index_swap(
    published_warehouse,  # noqa: F811
    meili: FakeMeili,
) -> None:
    url = published_warehouse.url
    before = _state(url)
    versions_at_swap = []
    meili.on_swap = lambda pair: versions_at_swap.append(_state(url)[0])

    results = run_chain(_meili_warehouse(published_warehouse, meili), steps=TRANSFORM_STEPS)

    assert [result.step for result in results] == ["transform", "index", "publish"]
    build, index, publish = results
    uid = index.details["index_uid"]
    assert uid == f"movies_build_{build.candidate.token}"
    assert index.summary.endswith("it goes live with the publish")
    assert versions_at_swap == [before[0]]  # swapped inside the publish, before its commit
    assert publish.version == _state(url)[0] == before[0] + 1
    assert len(meili.documents(LIVE_INDEX)) == _documents(url) == index.rows["search_documents"]
    assert sorted(meili.indexes) == [LIVE_INDEX]  # the replaced index is deleted
    swap = meili.calls("POST", "/swap-indexes")
    assert [call.body for call in swap] == [[{"indexes": [LIVE_INDEX, uid]}]]


def test_a_failed_index_build_publishes_nothing(
    published_warehouse,  # noqa: F811
    meili: FakeMeili,
) -> None:
    url = published_warehouse.url
    before = _state(url)
    old = _old_live_index(meili)
    meili.faults["documentAdditionOrUpdate"] = task_error(
        "The `movie_id` field is missing.", "missing_document_id"
    )

    with pytest.raises(IndexBuildError) as failure:
        run_chain(_meili_warehouse(published_warehouse, meili), steps=TRANSFORM_STEPS)

    assert "(documentAdditionOrUpdate) on index movies_build_" in str(failure.value)
    assert "missing_document_id" in str(failure.value)
    assert _state(url) == before  # same version, same build, same published schema
    assert meili.documents(LIVE_INDEX) == old
    assert sorted(meili.indexes) == [LIVE_INDEX]  # the half-built index is deleted
    assert not meili.calls("POST", "/swap-indexes")


def test_a_failed_index_swap_rolls_the_schema_swap_back(
    published_warehouse,  # noqa: F811
    meili: FakeMeili,
) -> None:
    url = published_warehouse.url
    before = _state(url)
    old = _old_live_index(meili)
    meili.faults["indexSwap"] = task_error("Index `movies` not found.", "index_not_found")

    with pytest.raises(PublishError) as failure:
        run_chain(_meili_warehouse(published_warehouse, meili), steps=TRANSFORM_STEPS)

    message = str(failure.value)
    assert message.startswith("publish failed, published artifacts unchanged: ")
    assert "(indexSwap) on index movies_build_" in message
    assert _state(url) == before
    assert meili.documents(LIVE_INDEX) == old
    assert sorted(meili.indexes) == [LIVE_INDEX]


def test_moviemetric_index_rebuilds_from_the_published_data_and_swaps_at_once(
    published_warehouse,  # noqa: F811
    meili: FakeMeili,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = published_warehouse.url
    before = _state(url)
    _old_live_index(meili)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MOVIEMETRIC_HOME", str(published_warehouse.settings.home_dir))
    monkeypatch.setenv("MEILI_URL", meili.url)
    get_settings.cache_clear()

    result = CliRunner().invoke(app, ["index"])

    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("index: ")]
    assert "from artifacts, swapped in" in line
    # the same tables and build, a new data version: cached /search answers retire
    version, build_id, schema = _state(url)
    assert (version, build_id, schema) == (before[0] + 1, before[1], before[2])
    assert line.endswith(f"data version {version}") or f"data version {version}" in line
    assert len(meili.documents(LIVE_INDEX)) == _documents(url)
    assert sorted(meili.indexes) == [LIVE_INDEX]

"""/lineage: the dbt docs site that ``moviemetric docs`` builds, served by the API and
opened in a headless Chromium that can reach 127.0.0.1 only (so a CDN asset would not
load): its lineage graph shows the artifact models and the API's exposures.

dbt docs draws the graph with cytoscape on a canvas, so the drawn nodes are not in the
DOM; the test reads them from the page's own cytoscape instance (cytoscape keeps it on
its container, ``#cy._cyreg.cy``) over the DevTools protocol: the nodes and edges the
graph view holds and shows, not the manifest the page loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import yaml

from api.main import create_app
from moviemetric.config import Settings
from moviemetric.warehouse import open_warehouse
from tests.api.chromium import DevToolsPage
from tests.api.conftest import served
from transform import run_docs

EXPOSURES_FILE = "models/artifacts/_artifacts__exposures.yml"
GRAPH = "document.getElementById('cy')?._cyreg?.cy"


@pytest.fixture(scope="module")
def lineage_server(published_url: str, tmp_path_factory) -> Iterator[str]:
    """The API over the published test warehouse, its lineage folder built by the real
    ``run_docs`` (``dbt docs generate`` against the published artifacts)."""
    settings = Settings(
        database_url=published_url,
        redis_url=None,
        moviemetric_home=tmp_path_factory.mktemp("lineage-home"),
    )
    run_docs(open_warehouse(settings))
    with served(create_app(settings)) as url:
        yield url


def _exposures() -> list[dict]:
    project = Settings().dbt_project_dir
    return yaml.safe_load((project / EXPOSURES_FILE).read_text())["exposures"]


def test_lineage_graph_shows_the_artifacts_and_the_api_exposures(lineage_server, tmp_path):
    manifest = httpx.get(f"{lineage_server}/lineage/manifest.json", timeout=30).json()
    artifacts = {
        unique_id
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["path"].startswith("artifacts/")
    }
    assert {"model.moviemetric.genre_stats_daily", "model.moviemetric.movie_catalog"} <= artifacts
    exposures = _exposures()

    with DevToolsPage(f"{lineage_server}/lineage/#!/overview?g_v=1", tmp_path / "chromium") as page:
        page.wait_for(f"{GRAPH}?.nodes(':visible').length > 0", timeout=60)
        drawn = page.evaluate(
            f"(() => {{ const cy = {GRAPH}; return {{"
            "nodes: cy.nodes(':visible').map(node => [node.id(), node.data('label')]),"
            "edges: cy.edges(':visible').map(edge => [edge.source().id(), edge.target().id()])"
            "}; })()"
        )
    labels = dict(drawn["nodes"])
    edges = {tuple(edge) for edge in drawn["edges"]}

    assert artifacts <= labels.keys(), sorted(artifacts - labels.keys())
    for exposure in exposures:
        unique_id = f"exposure.moviemetric.{exposure['name']}"
        assert labels.get(unique_id) == exposure["label"], unique_id
        for dependency in exposure["depends_on"]:
            (model,) = re.fullmatch(r"ref\('([a-z_]+)'\)", dependency).groups()
            assert (f"model.moviemetric.{model}", unique_id) in edges, (model, unique_id)

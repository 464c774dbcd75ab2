"""What each ``compute:<artifact>`` kind rebuilds, proven by dbt itself.

``dbt ls`` with the kind's selection and transform's ``--indirect-selection cautious``
selects the artifact, everything it is built from and everything built from it, the
catalog and the search artifacts; and only tests whose models are all selected (a test
that also reads an artifact left out would fail on the build, which lacks it). One
kind goes through the real chain: it publishes a new version with the artifacts it
left out carried over as published.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from moviemetric.config import Settings
from moviemetric.ops import COMPUTE_ARTIFACTS
from moviemetric.warehouse import open_warehouse
from scheduler import COMPUTE_SELECTIONS, run_kind, steps_for
from tests.warehouse.raw_fixture import load_raw, make_catalog

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = {
    "trending": "movie_trending_daily",
    "genre-stats": "genre_stats_daily",
    "ratings-by-decade": "ratings_by_decade",
    "recommendations": "movie_recommendations",
}
CATALOG_AND_SEARCH = {
    "movie_catalog",
    "search_documents",
    "search_index",
    "search_terms",
    "search_term_variants",
    "search_facet_cells",
    "search_catalog_facets",
    "search_bitmaps",
}


def dbt_ls(url: str, home: Path, *args: str) -> list[dict]:
    """dbt's nodes for ``args``: name, resource type and the models they depend on."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "moviemetric.cli",
            "dbt",
            "ls",
            "--quiet",
            "--output",
            "json",
            "--output-keys",
            "unique_id name resource_type depends_on",
            "--resource-type",
            "model",
            "--resource-type",
            "test",
            "--resource-type",
            "unit_test",
            *args,
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": url, "MOVIEMETRIC_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]


def model_parents(node: dict) -> set[str]:
    return {parent for parent in node["depends_on"]["nodes"] if parent.startswith("model.")}


def closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for following in edges.get(todo.pop(), ()):
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return seen


def test_the_compute_kinds_are_the_artifacts_of_the_run_queue() -> None:
    assert set(ARTIFACTS) | {"all"} == set(COMPUTE_ARTIFACTS)
    assert COMPUTE_SELECTIONS["compute:all"] is None
    for artifact in ARTIFACTS:
        assert steps_for(f"compute:{artifact}") == ("freshness", "transform", "index", "publish")


def test_each_compute_kind_selects_its_artifact_what_it_needs_and_what_needs_it(
    make_database, tmp_path
) -> None:
    url = make_database()
    graph = dbt_ls(url, tmp_path)
    models = {node["unique_id"]: node for node in graph if node["resource_type"] == "model"}
    by_name = {node["name"]: uid for uid, node in models.items()}
    parents = {uid: model_parents(node) for uid, node in models.items()}
    children: dict[str, set[str]] = {}
    for uid, ups in parents.items():
        for parent in ups:
            children.setdefault(parent, set()).add(uid)
    for artifact, model in ARTIFACTS.items():
        selection = COMPUTE_SELECTIONS[f"compute:{artifact}"]
        selected = dbt_ls(url, tmp_path, "--select", selection, "--indirect-selection", "cautious")
        selected_models = {
            node["unique_id"] for node in selected if node["resource_type"] == "model"
        }
        roots = {by_name[model], by_name["movie_catalog"]}
        # the artifact and the catalog, every model built from them (the search
        # artifacts), and all those are built from: nothing more
        wanted = closure(closure(roots, children), parents)
        assert selected_models == wanted, artifact
        others = {by_name[name] for name in ARTIFACTS.values()} - {by_name[model]}
        assert not selected_models & others, artifact
        tests = [node for node in selected if node["resource_type"] != "model"]
        assert tests, artifact
        for test in tests:
            assert model_parents(test) <= selected_models, (artifact, test["name"])
        names = {test["name"] for test in tests}
        assert "assert_ratings_within_0_and_10" not in names  # reads all four artifacts
        # the artifact's own tests come with it
        own = {
            node["name"]
            for node in graph
            if node["resource_type"] != "model" and model_parents(node) == {by_name[model]}
        }
        assert own <= names, artifact


def published(url: str, table: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"select * from artifacts.{table} order by 1, 2").fetchall()


def test_a_compute_run_rebuilds_its_artifact_and_publishes_the_rest_carried_over(
    make_database, tmp_path
) -> None:
    url = make_database()
    load_raw(url, make_catalog(movies=120, days=8, seed=5), tmp_path / "dlt")
    warehouse = open_warehouse(Settings(database_url=url, moviemetric_home=tmp_path / "home"))
    run_kind(warehouse, "compute:all")
    before = {table: published(url, table) for table in ARTIFACTS.values()}

    results = run_kind(warehouse, "compute:trending")

    assert [result.step for result in results] == ["freshness", "transform", "index", "publish"]
    built = set(results[1].rows)  # the transform's (after the freshness step)
    assert {"movie_trending_daily", *CATALOG_AND_SEARCH} <= built
    assert not built & {"genre_stats_daily", "ratings_by_decade", "movie_recommendations"}
    assert results[1].tests > 0
    assert results[-1].version == 2
    published_rows = results[-1].rows
    assert set(ARTIFACTS.values()) <= set(published_rows)  # carried over, still published
    for table, rows in before.items():
        assert published(url, table) == rows, table  # the same raw data: the same rows

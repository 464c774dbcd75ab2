"""`moviemetric transform --print-connection` and `moviemetric docs`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from moviemetric.cli import app
from moviemetric.config import get_settings
from tests.warehouse.conftest import ARTIFACTS

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_print_connection_gives_pg_exports_and_the_dbt_command(tmp_path):
    url = "postgresql://analyst:s3cret@db.example:6543/moviemetric?sslmode=require"

    result = CliRunner().invoke(app, ["transform", "--print-connection"], env={"DATABASE_URL": url})

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[:6] == [
        "export PGHOST=db.example",
        "export PGPORT=6543",
        "export PGUSER=analyst",
        "export PGPASSWORD=s3cret",
        "export PGDATABASE=moviemetric",
        "export PGSSLMODE=require",
    ]
    assert lines[6] == (
        f"dbt build --project-dir {REPO_ROOT / 'dbt_project'} --profiles-dir {REPO_ROOT}"
    )
    # the printed lines work in a shell
    script = "\n".join(lines[:6]) + '\necho "$PGUSER@$PGHOST:$PGPORT/$PGDATABASE"'
    echoed = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert echoed.stdout.strip() == "analyst@db.example:6543/moviemetric"


def test_docs_describe_the_published_artifacts(published_warehouse, monkeypatch):
    home = published_warehouse.settings.home_dir
    monkeypatch.setenv("DATABASE_URL", published_warehouse.url)
    monkeypatch.setenv("MOVIEMETRIC_HOME", str(home))
    get_settings.cache_clear()
    transform_manifest = home / "dbt" / "target" / "manifest.json"
    transform_target_before = transform_manifest.read_bytes()

    result = CliRunner().invoke(app, ["docs"])

    assert result.exit_code == 0, result.output
    lineage = Path(result.output.strip().splitlines()[-1])
    assert lineage == home / "lineage"
    assert "<html" in (lineage / "index.html").read_text().lower()
    manifest = json.loads((lineage / "manifest.json").read_text())
    catalog = json.loads((lineage / "catalog.json").read_text())
    assert "exposure.moviemetric.api_movies_trending" in manifest["exposures"]
    for artifact in ARTIFACTS:
        node_id = f"model.moviemetric.{artifact}"
        assert manifest["nodes"][node_id]["schema"] == "artifacts"
        entry = catalog["nodes"][node_id]
        assert entry["metadata"]["schema"] == "artifacts"
        assert entry["metadata"]["name"] == artifact
        published_columns = [
            row[0]
            for row in published_warehouse.query(
                "select column_name from information_schema.columns"
                " where table_schema = 'artifacts' and table_name = %s order by ordinal_position",
                (artifact,),
            )
        ]
        assert published_columns
        assert sorted(entry["columns"]) == sorted(published_columns)
        assert set(entry["columns"]) == set(manifest["nodes"][node_id]["columns"])
    assert catalog["nodes"]["model.moviemetric.dim_movies"]["metadata"]["schema"] == "marts"
    # docs ran in a target of their own: the transform's target is untouched
    assert (home / "dbt" / "target-docs" / "catalog.json").is_file()
    assert transform_manifest.read_bytes() == transform_target_before
    transform_nodes = json.loads(transform_target_before)["nodes"]
    assert transform_nodes["model.moviemetric.search_documents"]["schema"] == "artifacts__build"


def test_a_failing_build_prints_one_error_line_naming_the_full_log(published_warehouse, tmp_path):
    """The terminal gets one line; dbt's whole output is in the command log, secrets masked."""
    project = tmp_path / "dbt_project"
    shutil.copytree(
        REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs")
    )
    shutil.copy(REPO_ROOT / "profiles.yml", tmp_path / "profiles.yml")
    broken = project / "models" / "artifacts" / "ratings_by_decade.sql"
    broken.write_text(broken.read_text().replace("select * from final", "select * from finale"))
    home = tmp_path / "home"
    password_url = published_warehouse.url.replace("postgres@", "postgres:hunter2@")
    env = {
        **os.environ,
        "DATABASE_URL": password_url,
        "MOVIEMETRIC_HOME": str(home),
        "MOVIEMETRIC_DBT_PROJECT_DIR": str(project),
    }

    completed = subprocess.run(
        [sys.executable, "-m", "moviemetric.cli", "transform"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert completed.returncode == 1
    errors = [line for line in completed.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, completed.stderr
    log_file = home / "logs" / "moviemetric.log"
    assert errors[0].startswith("moviemetric: error: dbt build failed: ")
    assert "ratings_by_decade" in errors[0]
    assert errors[0].endswith(f"(full log: {log_file})")
    assert "Traceback" not in completed.stderr
    logged = log_file.read_text()
    assert 'relation "finale" does not exist' in logged
    assert "hunter2" not in logged

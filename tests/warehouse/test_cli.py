"""`moviemetric transform --print-connection` and `moviemetric docs`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from moviemetric.cli import app

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


def test_docs_writes_the_lineage_site(database_url, tmp_path):
    result = CliRunner().invoke(app, ["docs"])

    assert result.exit_code == 0, result.output
    lineage = Path(result.output.strip().splitlines()[-1])
    assert lineage == (tmp_path / "home" / "lineage").resolve()
    assert "<html" in (lineage / "index.html").read_text().lower()
    manifest = json.loads((lineage / "manifest.json").read_text())
    assert "model.moviemetric.movie_trending_daily" in manifest["nodes"]
    assert "exposure.moviemetric.api_movies_trending" in manifest["exposures"]
    assert json.loads((lineage / "catalog.json").read_text())["metadata"]

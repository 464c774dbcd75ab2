"""profiles.yml: libpq's PG* variables configure dbt, for TCP and socket warehouses."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from moviemetric.warehouse import libpq_env

REPO_ROOT = Path(__file__).resolve().parents[2]


def _dbt_debug_config(env: dict[str, str]) -> dict[str, str]:
    completed = subprocess.run(
        [
            str(REPO_ROOT / ".venv" / "bin" / "dbt"),
            "debug",
            "--no-version-check",
            "--project-dir",
            "dbt_project",
            "--profiles-dir",
            ".",
        ],
        cwd=REPO_ROOT,
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "DBT_USE_COLORS": "false",
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    fields = dict(
        re.findall(r"^\S+\s+(host|port|user|database|sslmode): (.*)$", completed.stdout, re.M)
    )
    assert fields, completed.stdout
    return fields


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:5432/somedb",
        "postgresql://postgres:@/moviemetric?host=/tmp/pg%20socket",
        "postgresql://someone:pw@db.example:6000/other?sslmode=require",
    ],
)
def test_profile_reads_the_pg_variables_that_libpq_env_gives(url):
    """One parser of DATABASE_URL (libpq_env); the profile reads libpq's own variables."""
    env = libpq_env(url)

    fields = _dbt_debug_config(env)

    assert fields["host"] == env["PGHOST"]
    assert fields["port"] == env["PGPORT"]
    assert fields["user"] == env["PGUSER"]
    assert fields["database"] == env["PGDATABASE"]
    assert fields["sslmode"] == env.get("PGSSLMODE", "prefer")

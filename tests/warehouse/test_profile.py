"""profiles.yml: DATABASE_URL alone (TCP or socket form) or PG* variables configure dbt."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

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
    ("env", "expected"),
    [
        (
            {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/somedb"},
            {"host": "127.0.0.1", "port": "5432", "user": "postgres", "database": "somedb"},
        ),
        (
            {"DATABASE_URL": "postgresql://postgres:@/moviemetric?host=/tmp/pg socket"},
            {
                "host": "/tmp/pg socket",
                "port": "5432",
                "user": "postgres",
                "database": "moviemetric",
            },
        ),
        (
            {
                "DATABASE_URL": "postgresql://someone:pw@db.example:6000/other?sslmode=require",
                "PGHOST": "override.example",
                "PGDATABASE": "analytics",
            },
            {
                "host": "override.example",
                "port": "6000",
                "user": "someone",
                "database": "analytics",
                "sslmode": "require",
            },
        ),
    ],
)
def test_profile_reads_database_url_and_pg_variables(env, expected):
    fields = _dbt_debug_config(env)

    assert {key: fields[key] for key in expected} == expected

"""Load a running sandbox into a warehouse through ``moviemetric load``'s own step."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import run_load
from ingest.sandbox import Sandbox
from moviemetric.config import get_settings
from moviemetric.warehouse import open_warehouse


def load_sandbox(
    monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, url: str, home: Path
) -> dict[str, object]:
    """One load of ``sandbox`` into ``url`` with ``home`` as MOVIEMETRIC_HOME; the step's
    details (movies, details, snapshots, backfill, source)."""
    for name, value in {
        "DATABASE_URL": url,
        "MOVIEMETRIC_HOME": str(home),
        **sandbox.source_env(),
        "TMDB_REQUESTS_PER_SECOND": "100000",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return run_load(open_warehouse(get_settings())).details

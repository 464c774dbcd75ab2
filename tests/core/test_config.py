"""The one settings object: defaults, variable names, and empty variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from moviemetric.config import DEFAULT_TMDB_BASE_URL, Settings, get_settings


def test_defaults_are_the_embedded_ones() -> None:
    settings = get_settings()
    assert settings.database_url is None
    assert settings.redis_url is None
    assert not settings.tmdb_configured
    assert settings.tmdb_base_url == DEFAULT_TMDB_BASE_URL
    assert settings.tmdb_requests_per_second == 40
    assert settings.cache_ttl_seconds == 3600
    assert settings.lineage_dir == settings.home_dir / "lineage"


def test_design_variable_names_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/d")
    monkeypatch.setenv("REDIS_URL", "redis://h:1/0")
    monkeypatch.setenv("TMDB_ACCESS_TOKEN", "token")
    monkeypatch.setenv("TMDB_BASE_URL", "http://127.0.0.1:9/3")
    monkeypatch.setenv("MOVIEMETRIC_HOME", str(tmp_path))
    settings = Settings()
    assert settings.database_url == "postgresql://u@h/d"
    assert settings.redis_url == "redis://h:1/0"
    assert settings.tmdb_configured
    assert settings.tmdb_access_token.get_secret_value() == "token"
    assert settings.tmdb_base_url == "http://127.0.0.1:9/3"
    assert settings.home_dir == tmp_path.resolve()


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMDB_API_KEY", "")
    monkeypatch.setenv("DATABASE_URL", "")
    settings = Settings()
    assert not settings.tmdb_configured
    assert settings.database_url is None


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMDB_REQUESTS_PER_SECOND", "fast")
    with pytest.raises(ValidationError) as excinfo:
        Settings()
    assert "TMDB_REQUESTS_PER_SECOND" in str(excinfo.value)


def test_cli_reports_a_bad_variable_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "moviemetric.cli", "load"],
        env={**os.environ, "TMDB_REQUESTS_PER_SECOND": "fast"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("moviemetric: error: invalid configuration: TMDB_REQUESTS_PER_SECOND")


def test_default_home_is_under_the_working_directory_whatever_home_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MOVIEMETRIC_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.chdir(tmp_path)
    assert Settings().home_dir == tmp_path / ".moviemetric"

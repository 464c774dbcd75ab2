"""Healthcheck of a `moviemetric scheduler` container (docker-compose.yml): exit 0 if healthy.

A running scheduler keeps two sessions open on the warehouse, its cron leader loop's
and its worker's (scheduler/service.py; more while a run works), and reopens them when
the warehouse comes back. Healthy, then, means: the warehouse answers, its ops schema
is the version this image expects, and the server sees at least two other sessions from
this container's address. Each container has its own address on the compose network,
so a replica whose threads lost the warehouse is unhealthy even while others lead.
"""

from __future__ import annotations

import sys

import psycopg

from moviemetric.config import Settings
from moviemetric.errors import MovieMetricError
from moviemetric.ops import SCHEMA_VERSION, schema_version
from moviemetric.warehouse import connect

SCHEDULER_SESSIONS = 2  # the leader loop's and the worker's

# Sessions of the warehouse's database from the address this session comes from.
SESSIONS_FROM_HERE_QUERY = """
select count(*) from pg_stat_activity
where datname = current_database()
    and client_addr is not distinct from inet_client_addr()
    and pid <> pg_backend_pid()
"""


def check(database_url: str) -> str | None:
    """None if healthy, else what is wrong."""
    with connect(database_url, autocommit=True) as conn:
        version = schema_version(conn)
        if version != SCHEMA_VERSION:
            return f"ops schema at version {version}, this image expects {SCHEMA_VERSION}"
        (sessions,) = conn.execute(SESSIONS_FROM_HERE_QUERY).fetchone()
    if sessions < SCHEDULER_SESSIONS:
        return (
            f"{sessions} scheduler session(s) on the warehouse from this container, "
            f"expected at least {SCHEDULER_SESSIONS}"
        )
    return None


def main() -> int:
    settings = Settings()
    if not settings.database_url:
        print("unhealthy: DATABASE_URL is unset", file=sys.stderr)
        return 1
    try:
        problem = check(settings.database_url)
    except (MovieMetricError, psycopg.Error) as exc:
        problem = str(exc)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())

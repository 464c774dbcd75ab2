"""The ``ops`` schema, owned here alone: migrations, the data version, locks, roles.

- Migrations: ``MIGRATIONS`` is numbered and append-only; ``prepare_warehouse`` applies
  the missing ones at start, in order, each in its own transaction, under an advisory
  lock, and records them in ``ops.schema_migrations``. Every migration is idempotent
  (``if not exists``), so warehouses made before migrations were tracked adopt them.
- The data version: ``data_version`` reads it, ``publish_version`` bumps it and sends
  NOTIFY ``moviemetric_publish`` in the publisher's transaction; API caches key on it.
- Locks: every advisory-lock key of MovieMetric, and ``advisory_lock``.
- Roles: the API's NOLOGIN role, which may SELECT what is published and nothing more.

Idempotent and safe to run concurrently, from several processes on one database (the
migration lock serialises the DDL) and from several databases on one server (the API
role is server-wide; losing the race to create it is success).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from moviemetric.errors import MovieMetricError
from moviemetric.warehouse import connect, redact

OPS_SCHEMA = "ops"
API_ROLE = "moviemetric_api"  # SELECT on the published artifacts and ops.data_version only
PUBLISH_CHANNEL = "moviemetric_publish"  # NOTIFY payload: the new data version

# Advisory-lock keys ("mm_..." as bytes): one per job that must not run twice at once.
LOAD_LOCK_KEY = 0x6D6D5F6C6F6164  # "mm_load": one load per warehouse
TRANSFORM_LOCK_KEY = 0x6D6D5F707562  # "mm_pub": one transform (build + publish)
MIGRATION_LOCK_KEY = 0x6D6D5F6F7073  # "mm_ops": ops DDL, transaction-scoped

# The one query for the published data version, for sync and async readers alike.
DATA_VERSION_QUERY = sql.SQL("select version, published_at, build_id from {}.data_version").format(
    sql.Identifier(OPS_SCHEMA)
)


class WarehouseBusyError(MovieMetricError):
    """Another MovieMetric process holds the lock this step needs."""


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    apply: Callable[[psycopg.Connection], None]


def _create_data_version(conn: psycopg.Connection) -> None:
    ops = sql.Identifier(OPS_SCHEMA)
    role = sql.Identifier(API_ROLE)
    conn.execute(
        sql.SQL(
            "create table if not exists {}.data_version ("
            " version bigint not null,"
            " published_at timestamptz,"
            " build_id text)"
        ).format(ops)
    )
    # one row, ever: a unique index on a constant
    conn.execute(
        sql.SQL(
            "create unique index if not exists data_version_one_row on {}.data_version ((true))"
        ).format(ops)
    )
    conn.execute(
        sql.SQL(
            "insert into {0}.data_version (version) select 0"
            " where not exists (select from {0}.data_version)"
        ).format(ops)
    )
    comment = (
        "Version of the published artifacts: bumped by every publish, "
        f"sent on NOTIFY {PUBLISH_CHANNEL}; caches key on it."
    )
    conn.execute(
        sql.SQL("comment on table {}.data_version is {}").format(ops, sql.Literal(comment))
    )
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(ops, role))
    conn.execute(sql.SQL("grant select on {}.data_version to {}").format(ops, role))


def _restrict_temporary_tables(conn: psycopg.Connection) -> None:
    """Take TEMPORARY on this database from PUBLIC, so the API role cannot create temp
    tables (PostgreSQL grants PUBLIC that by default), and keep it for the role running
    the migration: dbt runs as that role and its incremental models need temp tables.

    Roles other than that one (and superusers, who bypass privileges) lose it on this
    database; grant it to them by name. Run by a role that is neither the database's
    owner nor a superuser, PostgreSQL only warns that nothing could be revoked.
    """
    (database,) = conn.execute("select current_database()").fetchone()
    database = sql.Identifier(database)
    conn.execute(sql.SQL("revoke temporary on database {} from public").format(database))
    conn.execute(sql.SQL("grant temporary on database {} to current_user").format(database))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "data version", _create_data_version),
    Migration(2, "no temporary tables for the API role", _restrict_temporary_tables),
)
SCHEMA_VERSION = MIGRATIONS[-1].number  # what this MovieMetric expects of a warehouse


def prepare_warehouse(url: str) -> int:
    """Create the API role and apply every missing ops migration; the schema version."""
    with connect(url, autocommit=True) as conn:
        ensure_role(conn, API_ROLE)
    with connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        ops = sql.Identifier(OPS_SCHEMA)
        conn.execute(sql.SQL("create schema if not exists {}").format(ops))
        conn.execute(
            sql.SQL(
                "create table if not exists {}.schema_migrations ("
                " version int primary key,"
                " name text not null,"
                " applied_at timestamptz not null default now())"
            ).format(ops)
        )
        applied = {
            row[0]
            for row in conn.execute(sql.SQL("select version from {}.schema_migrations").format(ops))
        }
        for migration in MIGRATIONS:
            if migration.number in applied:
                continue
            migration.apply(conn)
            conn.execute(
                sql.SQL("insert into {}.schema_migrations (version, name) values (%s, %s)").format(
                    ops
                ),
                (migration.number, migration.name),
            )
    return SCHEMA_VERSION


def schema_version(conn: psycopg.Connection) -> int:
    """The newest ops migration applied to the warehouse (0 before any)."""
    exists = conn.execute(
        "select to_regclass(%s) is not null", (f"{OPS_SCHEMA}.schema_migrations",)
    ).fetchone()[0]
    if not exists:
        return 0
    row = conn.execute(
        sql.SQL("select coalesce(max(version), 0) from {}.schema_migrations").format(
            sql.Identifier(OPS_SCHEMA)
        )
    ).fetchone()
    return int(row[0])


def ensure_role(conn: psycopg.Connection, role: str) -> None:
    """Create the NOLOGIN ``role`` unless it exists; ``conn`` must be in autocommit."""
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    if exists:
        return
    try:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
        # another database on this server created it between our check and create
        return


def data_version(conn: psycopg.Connection) -> int:
    """The published data version (0 before the first publish)."""
    row = conn.execute(DATA_VERSION_QUERY).fetchone()
    return int(row[0]) if row else 0


def publish_version(conn: psycopg.Connection, build_id: str) -> int:
    """Bump the data version and NOTIFY it, in ``conn``'s open transaction."""
    cursor = conn.cursor(row_factory=tuple_row)
    (version,) = cursor.execute(
        sql.SQL(
            "update {}.data_version set version = version + 1,"
            " published_at = now(), build_id = %s returning version"
        ).format(sql.Identifier(OPS_SCHEMA)),
        (build_id,),
    ).fetchone()
    cursor.execute("select pg_notify(%s, %s)", (PUBLISH_CHANNEL, str(version)))
    return int(version)


@contextmanager
def advisory_lock(url: str, key: int, step: str) -> Iterator[psycopg.Connection]:
    """Hold a session advisory lock for the block, or fail at once naming ``step``.

    The lock lives as long as the yielded connection, so a killed process releases it.
    """
    with connect(url, autocommit=True) as conn:
        (locked,) = conn.execute("select pg_try_advisory_lock(%s)", (key,)).fetchone()
        if not locked:
            raise WarehouseBusyError(
                f"another {step} is running on the warehouse at {redact(url)}; "
                "wait for it to finish and retry"
            )
        yield conn

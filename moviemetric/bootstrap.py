"""What the warehouse needs before the first publish: the ops schema and the API role.

Idempotent and safe to run concurrently: from several processes on one database
(a per-database advisory lock serialises the DDL) and from several databases on
one server (the API role is server-wide; losing the race to create it is success).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from moviemetric.warehouse import API_ROLE, OPS_SCHEMA, connect

# pg_advisory_xact_lock key for the ops DDL ("mm_ops" as bytes); other parts pick their own.
_BOOTSTRAP_LOCK = 0x6D6D5F6F7073


def bootstrap_warehouse(url: str) -> None:
    """Create the API role, ``ops`` and ``ops.data_version`` (version 0) when missing, and
    keep TEMPORARY on the database from everyone but the bootstrapping role."""
    with connect(url, autocommit=True) as conn:
        ensure_role(conn, API_ROLE)
    with connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (_BOOTSTRAP_LOCK,))
        ops = sql.Identifier(OPS_SCHEMA)
        conn.execute(sql.SQL("create schema if not exists {}").format(ops))
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
            "sent on NOTIFY moviemetric_publish; caches key on it."
        )
        conn.execute(
            sql.SQL("comment on table {}.data_version is {}").format(ops, sql.Literal(comment))
        )
        role = sql.Identifier(API_ROLE)
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(ops, role))
        conn.execute(sql.SQL("grant select on {}.data_version to {}").format(ops, role))
        restrict_temporary_tables(conn)


def restrict_temporary_tables(conn: psycopg.Connection) -> None:
    """Take TEMPORARY on this database from PUBLIC, so the API role cannot create temp
    tables (PostgreSQL grants PUBLIC that by default), and keep it for the role running
    the bootstrap: dbt runs as that role and its incremental models need temp tables.

    Roles other than that one (and superusers, who bypass privileges) lose it on this
    database; grant it to them by name. Run by a role that is neither the database's
    owner nor a superuser, PostgreSQL only warns that nothing could be revoked.
    Called under the bootstrap lock: concurrent grants on one database would conflict.
    """
    (database,) = conn.execute("select current_database()").fetchone()
    database = sql.Identifier(database)
    conn.execute(sql.SQL("revoke temporary on database {} from public").format(database))
    conn.execute(sql.SQL("grant temporary on database {} to current_user").format(database))


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
    row = conn.execute(
        sql.SQL("select version from {}.data_version").format(sql.Identifier(OPS_SCHEMA))
    ).fetchone()
    return int(row[0]) if row else 0

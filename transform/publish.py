"""Write-audit-publish: the build schema in, the old artifacts out, in one transaction.

The transform builds and tests the artifacts in ``artifacts__build``; only when every
model and test passed does ``publish`` swap it in as ``artifacts``, grant the API
role, bump the data version and NOTIFY (``moviemetric.ops.publish_version``): the API
sees all new tables or all old ones, never a mix, and a failed build changes nothing
it reads. The replaced tables are dropped afterwards, in their own transaction, so the
swap never waits behind API reads of the old tables.

A build cannot be orphaned: its sessions carry ``moviemetric-build-<token>`` as their
``application_name``, and the next build, holding the transform lock, ends any such
session first (a killed client's backend runs its statement to the end otherwise).
The build schema carries its token as its comment, and a publish swaps in only a
build schema that is still its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from moviemetric.errors import MovieMetricError
from moviemetric.ops import API_ROLE, publish_version
from moviemetric.warehouse import (
    BUILD_SCHEMA,
    PREVIOUS_SCHEMA,
    PUBLISHED_SCHEMA,
    Warehouse,
    connect,
)
from transform.errors import PublishError

log = logging.getLogger(__name__)

_PUBLISH_LOCK_TIMEOUT = "30s"
# application_name of a build's dbt sessions: the prefix finds a dead build's sessions
BUILD_SESSION_PREFIX = "moviemetric-build-"
_STALE_SESSION_WAIT_SECONDS = 10.0


def end_stale_build_sessions(conn: psycopg.Connection) -> None:
    """End the sessions of builds whose transform died, and wait until they are gone.

    A killed client's backend runs its statement to the end, so a dead build could
    otherwise keep writing the build schema and marts under the next build.
    """
    pattern = BUILD_SESSION_PREFIX + "%"
    stale = conn.execute(
        "select pid, pg_terminate_backend(pid) from pg_stat_activity"
        " where datname = current_database() and application_name like %s"
        " and pid <> pg_backend_pid()",
        (pattern,),
    ).fetchall()
    if not stale:
        return
    log.warning("ended %d session(s) left by a dead build", len(stale))
    deadline = time.monotonic() + _STALE_SESSION_WAIT_SECONDS
    while time.monotonic() < deadline:
        (left,) = conn.execute(
            "select count(*) from pg_stat_activity where pid = any(%s)",
            ([pid for pid, _ in stale],),
        ).fetchone()
        if not left:
            return
        time.sleep(0.1)
    raise PublishError(
        f"sessions of a dead build did not end within {_STALE_SESSION_WAIT_SECONDS:.0f} s; "
        "retry the transform (nothing was built or published)"
    )


def prepare_build_schema(conn: psycopg.Connection, token: str) -> None:
    """A new, empty build schema marked with this build's token (checked at publish)."""
    build = sql.Identifier(BUILD_SCHEMA)
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(build))
    conn.execute(sql.SQL("create schema {}").format(build))
    conn.execute(
        sql.SQL("comment on schema {} is {}").format(build, sql.Literal(_build_marker(token)))
    )


def _build_marker(token: str) -> str:
    return f"moviemetric build {token}"


def publish(
    warehouse: Warehouse,
    build_id: str,
    token: str,
    *,
    before_commit: Callable[[], None] | None = None,
) -> tuple[int, dict[str, int]]:
    """Swap the build schema in as the published one, then drop the replaced tables.

    Only the build schema this transform made (its comment names ``token``) is
    swapped in: anything else there was written by another build, whose tests this
    transform never ran.

    The swap (renames, grants, version bump, NOTIFY) is one transaction that takes no
    lock on the old tables, so it never waits behind API reads. Dropping the old
    tables needs their exclusive locks: it runs afterwards in a short transaction of
    its own, when new reads already go to the new tables.

    ``before_commit`` (the chain's: the search index swap) runs inside that
    transaction, after the version bump and before the commit: if it raises, the
    schema swap and the version bump roll back, so the data version moves only with
    everything a request can read.
    """
    # left behind by a crash between a swap and its drop, or by a drop that timed out
    if not _drop_previous(warehouse.url):
        raise PublishError(
            f"publish failed, published artifacts unchanged: could not drop the stale "
            f"{PREVIOUS_SCHEMA} within {_PUBLISH_LOCK_TIMEOUT}; retry the transform"
        )
    build = sql.Identifier(BUILD_SCHEMA)
    published = sql.Identifier(PUBLISHED_SCHEMA)
    previous = sql.Identifier(PREVIOUS_SCHEMA)
    role = sql.Identifier(API_ROLE)
    with connect(warehouse.url) as conn:
        conn.execute(
            sql.SQL("set local lock_timeout = {}").format(sql.Literal(_PUBLISH_LOCK_TIMEOUT))
        )
        try:
            _require_own_build(conn, token)
            _carry_over_unbuilt_tables(conn)
            if _schema_exists(conn, PUBLISHED_SCHEMA):
                conn.execute(sql.SQL("alter schema {} rename to {}").format(published, previous))
            conn.execute(sql.SQL("alter schema {} rename to {}").format(build, published))
            conn.execute(sql.SQL("grant usage on schema {} to {}").format(published, role))
            conn.execute(
                sql.SQL("grant select on all tables in schema {} to {}").format(published, role)
            )
            version = publish_version(conn, build_id)
            if before_commit is not None:
                before_commit()
            conn.commit()
        except Exception as exc:
            conn.rollback()
            raise PublishError(
                f"publish failed, published artifacts unchanged: {' '.join(str(exc).split())}"
            ) from exc
    try:
        dropped = _drop_previous(warehouse.url)
    except (psycopg.Error, MovieMetricError) as exc:
        log.warning("dropping %s failed: %s", PREVIOUS_SCHEMA, " ".join(str(exc).split()))
        dropped = False
    if not dropped:
        # published all the same; the next publish drops it before its swap
        log.warning(
            "published version %s but left %s in place; the next publish drops it",
            version,
            PREVIOUS_SCHEMA,
        )
    with connect(warehouse.url) as conn:
        rows = row_counts(conn, PUBLISHED_SCHEMA)
    return int(version), rows


def _require_own_build(conn: psycopg.Connection, token: str) -> None:
    row = conn.execute(
        "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = %s",
        (BUILD_SCHEMA,),
    ).fetchone()
    if row is None or row[0] != _build_marker(token):
        raise PublishError(
            f"{BUILD_SCHEMA} is not the schema this build wrote and tested "
            "(another build replaced it); retry the transform"
        )


def _drop_previous(url: str) -> bool:
    """Drop ``artifacts__previous`` in a transaction of its own; False on a lock timeout."""
    with connect(url) as conn:
        conn.execute(
            sql.SQL("set local lock_timeout = {}").format(sql.Literal(_PUBLISH_LOCK_TIMEOUT))
        )
        try:
            conn.execute(
                sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(PREVIOUS_SCHEMA))
            )
        except psycopg.errors.LockNotAvailable:
            conn.rollback()
            return False
    return True


def _carry_over_unbuilt_tables(conn) -> None:
    """Copy published tables a partial build did not rebuild, so publishing keeps them."""
    rows = conn.execute(
        "select table_name from information_schema.tables"
        " where table_schema = %s and table_type = 'BASE TABLE'"
        " except select table_name from information_schema.tables where table_schema = %s",
        (PUBLISHED_SCHEMA, BUILD_SCHEMA),
    ).fetchall()
    for (table,) in rows:
        source = sql.Identifier(PUBLISHED_SCHEMA, table)
        copy = sql.Identifier(BUILD_SCHEMA, table)
        conn.execute(sql.SQL("create table {} (like {} including all)").format(copy, source))
        conn.execute(sql.SQL("insert into {} select * from {}").format(copy, source))


def _schema_exists(conn, schema: str) -> bool:
    row = conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone()
    return row is not None


def row_counts(conn, schema: str) -> dict[str, int]:
    """Rows of every table in ``schema``."""
    tables = conn.execute(
        "select table_name from information_schema.tables"
        " where table_schema = %s and table_type = 'BASE TABLE' order by table_name",
        (schema,),
    ).fetchall()
    return {
        table: conn.execute(
            sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
        ).fetchone()[0]
        for (table,) in tables
    }

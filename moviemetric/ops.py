"""The ``ops`` schema, owned here alone: migrations, the data version, locks, roles.

- Migrations: ``MIGRATIONS`` is numbered and append-only; ``prepare_warehouse`` applies
  the missing ones at start, in order, each in its own transaction, under an advisory
  lock, and records them in ``ops.schema_migrations``. Every migration is idempotent
  (``if not exists``), so warehouses made before migrations were tracked adopt them.
- The data version: ``data_version`` reads it, ``publish_version`` bumps it and sends
  NOTIFY ``moviemetric_publish`` in the publisher's transaction; API caches key on it.
- Locks: every advisory-lock key of MovieMetric, and ``advisory_lock``.
- Roles: the API's NOLOGIN role, which may SELECT what is published and nothing more.
- Runs: ``ops.pipeline_runs``, the queue and history of pipeline runs (migration 3);
  ``ops.request_run``, the SECURITY DEFINER function that enqueues one (the API's only
  write); ``ops.pipeline_run_status``, the view the API reads. ``scheduler/queue.py``
  holds the queries that claim and record runs.

Idempotent and safe to run concurrently, from several processes on one database (the
migration lock serialises the DDL) and from several databases on one server (the API
role is server-wide; losing the race to create it is success).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from moviemetric.errors import MovieMetricError
from moviemetric.warehouse import connect, redact

OPS_SCHEMA = "ops"
API_ROLE = "moviemetric_api"  # SELECT on the published artifacts and ops.data_version only
PUBLISH_CHANNEL = "moviemetric_publish"  # NOTIFY payload: the new data version
RUNS_CHANNEL = "moviemetric_runs"  # NOTIFY payload: the id of a newly queued run

# The kinds of run (docs/design.md section 7), as ops.pipeline_runs accepts them.
COMPUTE_ARTIFACTS = ("trending", "genre-stats", "ratings-by-decade", "recommendations", "all")
RUN_KINDS = ("ingest", *(f"compute:{name}" for name in COMPUTE_ARTIFACTS), "index", "full-refresh")
RUN_REQUESTERS = ("cron", "admin", "cli")
RUN_STATUSES = ("queued", "running", "succeeded", "failed")

# Advisory-lock keys ("mm_..." as bytes): one per job that must not run twice at once.
LOAD_LOCK_KEY = 0x6D6D5F6C6F6164  # "mm_load": one load per warehouse
TRANSFORM_LOCK_KEY = 0x6D6D5F707562  # "mm_pub": one transform (build + publish)
MIGRATION_LOCK_KEY = 0x6D6D5F6F7073  # "mm_ops": ops DDL, transaction-scoped
RUN_REQUEST_LOCK_KEY = 0x6D6D5F72756E71  # "mm_runq": ops.request_run's check-and-insert, xact
RUN_LOCK_KEY = 0x6D6D5F72756E  # "mm_run": held by the scheduler running a run, one at a time
SCHEDULER_LEADER_LOCK_KEY = 0x6D6D5F63726F6E  # "mm_cron": the one scheduler that fires cron

# The one query for the published data version, for sync and async readers alike.
DATA_VERSION_QUERY = sql.SQL("select version, published_at, build_id from {}.data_version").format(
    sql.Identifier(OPS_SCHEMA)
)

# The run queue's queries for every caller, sync or async (the API as its role may run
# exactly these; the scheduler's own claim and record queries live in scheduler.queue).
REQUEST_RUN_QUERY = sql.SQL("select {}.request_run(%s, %s, %s)").format(
    sql.Identifier(OPS_SCHEMA)
)  # (kind, requested_by, scheduled_for or None) -> the run's id
_RUN_STATUS_COLUMNS = (
    "id, kind, status, requested_by, requested_at, scheduled_for,"
    " started_at, ended_at, error, steps"
)
RUN_STATUS_QUERY = sql.SQL(
    "select " + _RUN_STATUS_COLUMNS + " from {}.pipeline_run_status where id = %s"
).format(sql.Identifier(OPS_SCHEMA))  # (id,) -> one row or none
RECENT_RUNS_QUERY = sql.SQL(
    "select " + _RUN_STATUS_COLUMNS + " from {}.pipeline_run_status"
    " where %(status)s::text is null or status = %(status)s"
    " order by requested_at desc, id desc limit %(limit)s"
).format(sql.Identifier(OPS_SCHEMA))  # {"status": str | None, "limit": int}, newest first


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


def _sql_list(values: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Literal(value) for value in values)


def _create_pipeline_runs(conn: psycopg.Connection) -> None:
    """The run queue and history, the function that enqueues and the view the API reads.

    ``ops.request_run(kind, requested_by[, scheduled_for])`` returns the id of the
    queued run that already does the work asked for, else queues a new one and NOTIFYs
    ``moviemetric_runs``. A queued run covers a request when it has the same kind, or:
    ``compute:all`` covers every ``compute:`` kind (the same steps over every artifact),
    and ``full-refresh`` covers ``ingest`` (the same steps, loading everything). Neither
    ``ingest`` nor ``full-refresh`` covers a ``compute:`` or the ``index`` kind: they
    start with a load from TMDB, and a load that fails stops the chain, so a compute or
    index request folded into them would be lost to an outage of the source. With
    ``scheduled_for`` (a cron fire time) an existing run of that kind and fire time, in
    any status, is the answer too, so a fire time is queued at most once. The advisory
    lock serialises the check and the insert; callers use READ COMMITTED (the default).
    """
    ops = sql.Identifier(OPS_SCHEMA)
    role = sql.Identifier(API_ROLE)
    conn.execute(
        sql.SQL(
            "create table if not exists {ops}.pipeline_runs ("
            " id bigint generated always as identity primary key,"
            " kind text not null check (kind in ({kinds})),"
            " status text not null default 'queued' check (status in ({statuses})),"
            " requested_by text not null check (requested_by in ({requesters})),"
            " requested_at timestamptz not null default now(),"
            " scheduled_for timestamptz,"
            " started_at timestamptz,"
            " ended_at timestamptz,"
            " lease_owner text,"
            " lease_expires_at timestamptz,"
            " error text,"
            " steps jsonb not null default '[]'::jsonb)"
        ).format(
            ops=ops,
            kinds=_sql_list(RUN_KINDS),
            statuses=_sql_list(RUN_STATUSES),
            requesters=_sql_list(RUN_REQUESTERS),
        )
    )
    comment = (
        "Pipeline runs: the queue (status queued, claimed FOR UPDATE SKIP LOCKED) and the "
        "history; steps holds one object per step. Enqueue through ops.request_run."
    )
    conn.execute(
        sql.SQL("comment on table {}.pipeline_runs is {}").format(ops, sql.Literal(comment))
    )
    for statement in (
        # claiming: the oldest queued run first
        "create index if not exists pipeline_runs_queued"
        " on {ops}.pipeline_runs (requested_at, id) where status = 'queued'",
        # finding lapsed leases
        "create index if not exists pipeline_runs_running"
        " on {ops}.pipeline_runs (lease_expires_at) where status = 'running'",
        # the history, newest first, and pruning it
        "create index if not exists pipeline_runs_requested_at"
        " on {ops}.pipeline_runs (requested_at desc)",
        # a cron fire time is queued once
        "create unique index if not exists pipeline_runs_scheduled_once"
        " on {ops}.pipeline_runs (kind, scheduled_for) where scheduled_for is not null",
    ):
        conn.execute(sql.SQL(statement).format(ops=ops))
    conn.execute(
        sql.SQL(
            """
            create or replace function {ops}.request_run(
                kind text, requested_by text, scheduled_for timestamptz default null
            ) returns bigint
            language plpgsql volatile security definer
            set search_path = pg_catalog, pg_temp
            as $function$
            declare
                run_id bigint;
            begin
                if request_run.kind is null or request_run.kind not in ({kinds}) then
                    raise exception using
                        errcode = '22023',
                        message = format('unknown kind of run %L', request_run.kind),
                        hint = 'known kinds: ' || {known};
                end if;
                if request_run.requested_by is null
                    or request_run.requested_by not in ({requesters}) then
                    raise exception using
                        errcode = '22023',
                        message = format('unknown requester %L', request_run.requested_by),
                        hint = 'known requesters: ' || {known_requesters};
                end if;
                perform pg_advisory_xact_lock({lock_key});
                if request_run.scheduled_for is not null then
                    select run.id into run_id from {ops}.pipeline_runs as run
                    where run.kind = request_run.kind
                        and run.scheduled_for = request_run.scheduled_for;
                    if found then
                        return run_id;
                    end if;
                end if;
                select run.id into run_id from {ops}.pipeline_runs as run
                where run.status = 'queued'
                    and (
                        run.kind = request_run.kind
                        or (run.kind = 'compute:all' and request_run.kind like 'compute:%')
                        or (run.kind = 'full-refresh' and request_run.kind = 'ingest')
                    )
                order by run.requested_at, run.id
                limit 1;
                if found then
                    return run_id;
                end if;
                insert into {ops}.pipeline_runs as run (kind, requested_by, scheduled_for)
                values (request_run.kind, request_run.requested_by, request_run.scheduled_for)
                returning run.id into run_id;
                perform pg_notify({channel}, run_id::text);
                return run_id;
            end
            $function$
            """
        ).format(
            ops=ops,
            kinds=_sql_list(RUN_KINDS),
            known=sql.Literal(", ".join(RUN_KINDS)),
            requesters=_sql_list(RUN_REQUESTERS),
            known_requesters=sql.Literal(", ".join(RUN_REQUESTERS)),
            lock_key=sql.Literal(RUN_REQUEST_LOCK_KEY),
            channel=sql.Literal(RUNS_CHANNEL),
        )
    )
    function = sql.SQL("{}.request_run(text, text, timestamptz)").format(ops)
    # functions are executable by PUBLIC by default: only the API role gets this one
    conn.execute(sql.SQL("revoke all on function {} from public").format(function))
    conn.execute(sql.SQL("grant execute on function {} to {}").format(function, role))
    conn.execute(
        sql.SQL(
            "create or replace view {ops}.pipeline_run_status as"
            " select id, kind, status, requested_by, requested_at, scheduled_for,"
            " started_at, ended_at, error, steps"
            " from {ops}.pipeline_runs"
        ).format(ops=ops)
    )
    conn.execute(sql.SQL("grant select on {}.pipeline_run_status to {}").format(ops, role))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "data version", _create_data_version),
    Migration(2, "no temporary tables for the API role", _restrict_temporary_tables),
    Migration(3, "pipeline runs: queue, history, request_run, status view", _create_pipeline_runs),
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


def request_run(
    conn: psycopg.Connection,
    kind: str,
    requested_by: str,
    scheduled_for: datetime | None = None,
) -> int:
    """Queue a run (``ops.request_run``): its id, or the id of the queued run covering it."""
    with conn.transaction():
        cursor = conn.cursor(row_factory=tuple_row)
        (run_id,) = cursor.execute(
            REQUEST_RUN_QUERY, (kind, requested_by, scheduled_for)
        ).fetchone()
    return int(run_id)


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
        try:
            yield conn
        finally:
            # unlock before closing: a closed connection's backend releases the lock only
            # when it exits, after the close returns, so the next step in this process
            # could still find its own lock held
            if not conn.closed:
                with suppress(psycopg.Error):
                    conn.execute("select pg_advisory_unlock(%s)", (key,))

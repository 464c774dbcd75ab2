"""dbt build, then write-audit-publish (docs/architecture.md, "Publish").

``run_transform`` builds staging and marts in place and the artifacts into
``artifacts__build``, with every test of the project. Only when every model and
test passes does one transaction swap ``artifacts__build`` in as ``artifacts``,
grant the API role, bump ``ops.data_version`` and NOTIFY ``moviemetric_publish``:
the API sees all new tables or all old ones, never a mix, and a failed build
changes nothing it reads. The replaced tables are dropped afterwards, in their own
transaction, so the swap never waits behind API reads of the old tables.

dbt runs in dbt's ``prod`` target as a subprocess of this Python (the ``dbt`` next
to it) with the warehouse given as PG* variables, so concurrent runs in one process
never share globals, and its state (target, logs) lives under ``MOVIEMETRIC_HOME/dbt``;
``run_docs`` has a target of its own there, so docs never overwrite a concurrent
transform's. The dbt child cannot outlive the transform: the kernel kills it when its
parent dies (``PR_SET_PDEATHSIG``), the next build first ends the PostgreSQL sessions a
dead build left (they carry its ``application_name``), and the build schema carries its
build's token, so a publish swaps only the build that its own tests passed. dbt's
output goes to the command log (``moviemetric.logs``), never to the terminal.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

from moviemetric.bootstrap import bootstrap_warehouse, data_version
from moviemetric.config import Settings
from moviemetric.errors import MovieMetricError
from moviemetric.warehouse import (
    API_ROLE,
    BUILD_SCHEMA,
    OPS_SCHEMA,
    PREVIOUS_SCHEMA,
    PUBLISH_CHANNEL,
    PUBLISHED_SCHEMA,
    RAW_SCHEMA,
    connect,
    database_url,
    libpq_env,
)

log = logging.getLogger(__name__)
dbt_log = logging.getLogger("moviemetric.dbt")

# pg_try_advisory_lock key held for a whole transform ("mm_pub" as bytes).
TRANSFORM_LOCK_KEY = 0x6D6D5F707562
_PUBLISH_LOCK_TIMEOUT = "30s"
_FAILED_STATUSES = {"error", "fail", "runtime error"}
_DOCS_FILES = ("index.html", "manifest.json", "catalog.json")
# dbt target of the pipeline (profiles.yml); analysts build in `dev`
PROD_TARGET = "prod"
# dbt var read by macros/generate_schema_name.sql: where prod builds the artifacts
_BUILD_VARS = {"artifacts_schema": BUILD_SCHEMA}
# application_name of a build's dbt sessions: the prefix finds a dead build's sessions
_BUILD_SESSION_PREFIX = "moviemetric-build-"
_STALE_SESSION_WAIT_SECONDS = 10.0
# "12 of 170 OK created sql view model ..." in dbt's text log
_DBT_NODE_LINE = re.compile(r"\b(\d+) of (\d+) (START|OK|PASS|FAIL|ERROR|WARN|SKIP)\b\s*(.*)")
_PR_SET_PDEATHSIG = 1

# (nodes done, nodes in all, what just finished)
ProgressCallback = Callable[[int, int, str], None]


class TransformError(MovieMetricError):
    """The transform could not run or publish; published artifacts are unchanged."""


class BuildFailedError(TransformError):
    """A dbt model or test failed, so nothing was published."""

    def __init__(self, message: str, failed_nodes: list[str], version: int) -> None:
        super().__init__(message)
        self.failed_nodes = failed_nodes
        self.version = version


@dataclass(frozen=True)
class TransformSummary:
    """What a passing transform published."""

    version: int
    build_id: str
    models: int
    tests: int
    elapsed_seconds: float
    artifact_rows: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        rows = ", ".join(f"{name} {count:,}" for name, count in sorted(self.artifact_rows.items()))
        return (
            f"published data version {self.version} (dbt build {self.build_id}): "
            f"{self.models} models and {self.tests} tests passed in "
            f"{self.elapsed_seconds:.1f}s; rows: {rows}"
        )


def run_transform(
    settings: Settings,
    *,
    full_refresh: bool = False,
    select: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> TransformSummary:
    """dbt build into the build schema, then publish it if every model and test passed.

    ``select`` is a dbt selection (e.g. ``"+movie_trending_daily"``); published
    artifacts outside it are carried over unchanged into the new version.
    ``on_progress`` hears of every dbt node as it finishes.
    """
    started = time.monotonic()
    url = database_url(settings)
    bootstrap_warehouse(url)
    with connect(url, autocommit=True) as lock_conn:
        locked = lock_conn.execute(
            "select pg_try_advisory_lock(%s)", (TRANSFORM_LOCK_KEY,)
        ).fetchone()
        if not locked[0]:
            raise TransformError(
                "another transform is running on this warehouse; wait for it to finish and retry"
            )
        _require_raw_tables(lock_conn, settings.dbt_project_dir)
        version_before = data_version(lock_conn)
        # holding the lock, every build session still open belongs to a dead transform
        _end_stale_build_sessions(lock_conn)
        token = uuid.uuid4().hex
        _prepare_build_schema(lock_conn, token)
        args = ["build", "--vars", json.dumps(_BUILD_VARS)]
        if full_refresh:
            args.append("--full-refresh")
        if select:
            # cautious: skip tests that also read artifacts outside the selection,
            # which are carried over as published (already tested) instead
            args += ["--select", select, "--indirect-selection", "cautious"]
        results = _run_dbt(
            args,
            settings,
            url,
            on_progress=on_progress,
            application_name=_BUILD_SESSION_PREFIX + token,
        )
        _raise_on_failures(results, version_before)
        if not results.get("results"):
            raise TransformError(
                f"the dbt selection {select!r} matches no model or test; "
                f"nothing was built or published (version {version_before})"
            )
        build_id = results.get("metadata", {}).get("invocation_id", "")
        version, rows = _publish(url, build_id, token)
    executed = results.get("results", [])
    return TransformSummary(
        version=version,
        build_id=build_id,
        models=sum(1 for node in executed if node["unique_id"].startswith("model.")),
        tests=sum(1 for node in executed if node["unique_id"].startswith(("test.", "unit_test."))),
        elapsed_seconds=time.monotonic() - started,
        artifact_rows=rows,
    )


def run_docs(settings: Settings, *, on_progress: ProgressCallback | None = None) -> Path:
    """``dbt docs generate`` of the published artifacts, copied into ``settings.lineage_dir``.

    In the prod target without the build var, the manifest and catalog describe the
    artifacts where the API reads them (``artifacts``). dbt writes into a target of its
    own (``MOVIEMETRIC_HOME/dbt/target-docs``), so a docs run never overwrites the
    target of a transform running at the same time.
    """
    url = database_url(settings)
    target = _dbt_home(settings) / "target-docs"
    _run_dbt(
        ["docs", "generate"],
        settings,
        url,
        on_progress=on_progress,
        check=True,
        target=target,
        application_name="moviemetric-docs",
    )
    lineage = settings.lineage_dir
    lineage.mkdir(parents=True, exist_ok=True)
    for name in _DOCS_FILES:
        source = target / name
        if not source.is_file():
            raise TransformError(f"dbt docs generate wrote no {name} in {target}")
        shutil.copy2(source, lineage / name)
    return lineage


def run_dbt_command(settings: Settings, args: list[str]) -> int:
    """Run ``dbt ARGS`` for an analyst against the configured warehouse; its exit status.

    dbt's output goes straight to the terminal, in the project's profile and its
    default target (dev) unless ``args`` name another; the embedded server, when it
    is the warehouse, stays up for the duration and stops when this process exits.
    """
    url = database_url(settings)
    project_dir = settings.dbt_project_dir
    command = [*_dbt_executable(), *args]
    if args and not args[0].startswith("-"):
        command += _project_options(project_dir, args)
    log.info("running %s", shlex.join(command))
    completed = subprocess.run(
        command,
        cwd=project_dir,
        env=dbt_environment(url),
        check=False,
        preexec_fn=_die_with_parent,
    )
    return completed.returncode


def dbt_environment(url: str, application_name: str | None = None) -> dict[str, str]:
    """The environment dbt runs in: this one, plus the warehouse as PG* variables."""
    env = {
        **os.environ,
        **libpq_env(url),
        "DATABASE_URL": url,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    if application_name:
        env["DBT_APPLICATION_NAME"] = application_name
    return env


def _project_options(project_dir: Path, args: list[str]) -> list[str]:
    """--project-dir and --profiles-dir unless the analyst gave them."""
    options = []
    if "--project-dir" not in args:
        options += ["--project-dir", str(project_dir)]
    if "--profiles-dir" not in args:
        options += ["--profiles-dir", str(project_dir.parent)]
    return options


def connection_exports(settings: Settings) -> str:
    """Shell lines an analyst pastes to run dbt against this warehouse by hand."""
    env = libpq_env(database_url(settings))
    lines = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    project = settings.dbt_project_dir
    lines.append(
        f"dbt build --project-dir {shlex.quote(str(project))}"
        f" --profiles-dir {shlex.quote(str(project.parent))}"
    )
    return "\n".join(lines)


def _dbt_home(settings: Settings) -> Path:
    return settings.home_dir / "dbt"


def _end_stale_build_sessions(conn: psycopg.Connection) -> None:
    """End the sessions of builds whose transform died, and wait until they are gone.

    A killed client's backend runs its statement to the end, so a dead build could
    otherwise keep writing the build schema and marts under the next build.
    """
    pattern = _BUILD_SESSION_PREFIX + "%"
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
    raise TransformError(
        f"sessions of a dead build did not end within {_STALE_SESSION_WAIT_SECONDS:.0f} s; "
        "retry the transform (nothing was built or published)"
    )


def _prepare_build_schema(conn: psycopg.Connection, token: str) -> None:
    """A new, empty build schema marked with this build's token (checked at publish)."""
    build = sql.Identifier(BUILD_SCHEMA)
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(build))
    conn.execute(sql.SQL("create schema {}").format(build))
    conn.execute(
        sql.SQL("comment on schema {} is {}").format(build, sql.Literal(_build_marker(token)))
    )


def _build_marker(token: str) -> str:
    return f"moviemetric build {token}"


def _require_raw_tables(conn, project_dir: Path) -> None:
    """Fail clearly before dbt does when the loader has not written raw_tmdb yet."""
    sources_file = project_dir / "models" / "staging" / "tmdb" / "_tmdb__sources.yml"
    if not sources_file.is_file():
        raise TransformError(
            f"no dbt project at {project_dir} (missing {sources_file.name}); "
            "set MOVIEMETRIC_DBT_PROJECT_DIR to the dbt_project folder"
        )
    sources = yaml.safe_load(sources_file.read_text())["sources"]
    wanted = {
        table["name"]
        for source in sources
        if source["schema"] == RAW_SCHEMA
        for table in source["tables"]
    }
    present = {
        row[0]
        for row in conn.execute(
            "select table_name from information_schema.tables where table_schema = %s",
            (RAW_SCHEMA,),
        )
    }
    missing = sorted(wanted - present)
    if missing:
        raise TransformError(
            f"{RAW_SCHEMA} has no table(s) {', '.join(missing)}: "
            "run `moviemetric load` first (nothing was built or published)"
        )


def _dbt_executable() -> list[str]:
    beside_python = Path(sys.executable).with_name("dbt")
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("dbt")
    if found:
        return [found]
    raise TransformError("dbt is not installed: pip install -e '.[dev]' (needs dbt-postgres)")


def _run_dbt(
    args: list[str],
    settings: Settings,
    url: str,
    *,
    on_progress: ProgressCallback | None = None,
    check: bool = False,
    target: Path | None = None,
    application_name: str | None = None,
) -> dict:
    """Run dbt (prod target) with ``target`` as its target path.

    The target path defaults to ``MOVIEMETRIC_HOME/dbt/target``. dbt's output goes to
    the log, one record a line; ``on_progress`` hears of each node as it finishes.
    Returns its run_results.json (empty when dbt wrote none).
    """
    project_dir = settings.dbt_project_dir
    dbt_home = _dbt_home(settings)
    target = target or dbt_home / "target"
    target.mkdir(parents=True, exist_ok=True)
    results_file = target / "run_results.json"
    results_file.unlink(missing_ok=True)
    command = [
        *_dbt_executable(),
        *args,
        "--target",
        PROD_TARGET,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir.parent),
        "--target-path",
        str(target),
        "--log-path",
        str(dbt_home / "logs"),
    ]
    env = dbt_environment(url, application_name)
    env["DBT_USE_COLORS"] = "false"  # no escape codes in the log
    log.info("running %s", shlex.join(command))
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(
        command,
        cwd=project_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        preexec_fn=_die_with_parent,
    ) as process:
        assert process.stdout is not None
        for raw_line in process.stdout:
            line = raw_line.rstrip()
            tail.append(line)
            dbt_log.info("%s", line)
            if on_progress is not None:
                _report_node(line, on_progress)
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    # a failing exit without failed nodes to name (bad project, lost connection,
    # interrupted run) is reported from dbt's own output; never treated as a pass
    if process.returncode != 0 and (check or not _failed_nodes(results)):
        raise TransformError(
            f"dbt {args[0]} failed (exit {process.returncode}): {_dbt_errors(tail)}; "
            "nothing was published"
        )
    return results


def _report_node(line: str, on_progress: ProgressCallback) -> None:
    match = _DBT_NODE_LINE.search(line)
    if match is None or match.group(3) == "START":
        return
    done, total, status, rest = match.groups()
    name = rest.split(" [", 1)[0].strip(" .")
    on_progress(int(done), int(total), f"{status} {name}")


def _die_with_parent() -> None:
    """In the dbt child, before exec: the kernel kills it when the transform dies.

    A process group alone does not survive ``kill -9`` of the parent; the parent-death
    signal does. Exits at once when the parent is already gone.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _dbt_errors(lines: deque[str]) -> str:
    """The informative part of dbt's output tail, for a one-line message."""
    interesting = [
        line.split("  ", 1)[-1].strip()
        for line in lines
        if "error" in line.lower() or "fail" in line.lower()
    ]
    return " | ".join(interesting[-6:] or [line.strip() for line in lines][-6:])


def _failed_nodes(results: dict) -> list[dict]:
    return [node for node in results.get("results", []) if node["status"] in _FAILED_STATUSES]


def _raise_on_failures(results: dict, version: int) -> None:
    failed = _failed_nodes(results)
    if not failed:
        return
    names = [_node_label(node) for node in failed]
    skipped = sum(1 for node in results["results"] if node["status"] == "skipped")
    shown = "; ".join(names[:6]) + (f"; and {len(names) - 6} more" if len(names) > 6 else "")
    message = (
        f"dbt build failed: {shown}"
        + (f" ({skipped} downstream nodes skipped)" if skipped else "")
        + f"; published artifacts unchanged (version {version})"
    )
    raise BuildFailedError(message, [node["unique_id"] for node in failed], version)


def _node_label(node: dict) -> str:
    kind, _, rest = node["unique_id"].partition(".")
    name = rest.split(".")[1] if kind in {"test", "model"} else rest.split(".", 1)[-1]
    kind = "unit test" if kind == "unit_test" else kind
    if node["status"] == "fail":
        failures = node.get("failures") or 0
        return f"{kind} {name} ({failures} failing row{'' if failures == 1 else 's'})"
    message = " ".join(str(node.get("message") or "").split())[:200]
    return f"{kind} {name} ({message})"


def _publish(url: str, build_id: str, token: str) -> tuple[int, dict[str, int]]:
    """Swap the build schema in as the published one, then drop the replaced tables.

    Only the build schema this transform made (its comment names ``token``) is
    swapped in: anything else there was written by another build, whose tests this
    transform never ran.

    The swap (renames, grants, version bump, NOTIFY) is one transaction that takes no
    lock on the old tables, so it never waits behind API reads. Dropping the old
    tables needs their exclusive locks: it runs afterwards in a short transaction of
    its own, when new reads already go to the new tables.
    """
    # left behind by a crash between a swap and its drop, or by a drop that timed out
    if not _drop_previous(url):
        raise TransformError(
            f"publish failed, published artifacts unchanged: could not drop the stale "
            f"{PREVIOUS_SCHEMA} within {_PUBLISH_LOCK_TIMEOUT}; retry the transform"
        )
    build = sql.Identifier(BUILD_SCHEMA)
    published = sql.Identifier(PUBLISHED_SCHEMA)
    previous = sql.Identifier(PREVIOUS_SCHEMA)
    role = sql.Identifier(API_ROLE)
    with connect(url) as conn:
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
            version = conn.execute(
                sql.SQL(
                    "update {}.data_version set version = version + 1,"
                    " published_at = now(), build_id = %s returning version"
                ).format(sql.Identifier(OPS_SCHEMA)),
                (build_id,),
            ).fetchone()[0]
            conn.execute("select pg_notify(%s, %s)", (PUBLISH_CHANNEL, str(version)))
            conn.commit()
        except Exception as exc:
            conn.rollback()
            raise TransformError(
                f"publish failed, published artifacts unchanged: {' '.join(str(exc).split())}"
            ) from exc
    try:
        dropped = _drop_previous(url)
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
    with connect(url) as conn:
        rows = _row_counts(conn, PUBLISHED_SCHEMA)
    return int(version), rows


def _require_own_build(conn: psycopg.Connection, token: str) -> None:
    row = conn.execute(
        "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = %s",
        (BUILD_SCHEMA,),
    ).fetchone()
    if row is None or row[0] != _build_marker(token):
        raise TransformError(
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


def _row_counts(conn, schema: str) -> dict[str, int]:
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

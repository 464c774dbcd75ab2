"""dbt build, then write-audit-publish (docs/architecture.md, "Publish").

``run_transform`` builds staging and marts in place and the artifacts into
``artifacts__build``, with every test of the project. Only when every model and
test passes does one transaction swap ``artifacts__build`` in as ``artifacts``,
grant the API role, bump ``ops.data_version`` and NOTIFY ``moviemetric_publish``:
the API sees all new tables or all old ones, never a mix, and a failed build
changes nothing it reads. The replaced tables are dropped afterwards, in their own
transaction, so the swap never waits behind API reads of the old tables.

dbt runs as a subprocess of this Python (the ``dbt`` next to it) with the warehouse
given as PG* variables, so concurrent runs in one process never share globals, and
its state (target, logs) lives under ``MOVIEMETRIC_HOME/dbt``; ``run_docs`` has a
target of its own there, so docs never overwrite a concurrent transform's.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections import deque
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

# pg_try_advisory_lock key held for a whole transform ("mm_pub" as bytes).
TRANSFORM_LOCK_KEY = 0x6D6D5F707562
_PUBLISH_LOCK_TIMEOUT = "30s"
_FAILED_STATUSES = {"error", "fail", "runtime error"}
_DOCS_FILES = ("index.html", "manifest.json", "catalog.json")
# dbt var read by macros/generate_schema_name.sql: docs describe the published schema
_DOCS_VARS = {"describe_published_artifacts": True}


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
    progress: bool = False,
) -> TransformSummary:
    """dbt build into the build schema, then publish it if every model and test passed.

    ``select`` is a dbt selection (e.g. ``"+movie_trending_daily"``); published
    artifacts outside it are carried over unchanged into the new version.
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
        lock_conn.execute(
            sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(BUILD_SCHEMA))
        )
        args = ["build"]
        if full_refresh:
            args.append("--full-refresh")
        if select:
            # cautious: skip tests that also read artifacts outside the selection,
            # which are carried over as published (already tested) instead
            args += ["--select", select, "--indirect-selection", "cautious"]
        results = _run_dbt(args, settings, url, progress=progress)
        _raise_on_failures(results, version_before)
        if not results.get("results"):
            raise TransformError(
                f"the dbt selection {select!r} matches no model or test; "
                f"nothing was built or published (version {version_before})"
            )
        build_id = results.get("metadata", {}).get("invocation_id", "")
        version, rows = _publish(url, build_id)
    executed = results.get("results", [])
    return TransformSummary(
        version=version,
        build_id=build_id,
        models=sum(1 for node in executed if node["unique_id"].startswith("model.")),
        tests=sum(1 for node in executed if node["unique_id"].startswith(("test.", "unit_test."))),
        elapsed_seconds=time.monotonic() - started,
        artifact_rows=rows,
    )


def run_docs(settings: Settings, *, progress: bool = False) -> Path:
    """``dbt docs generate`` of the published artifacts, copied into ``settings.lineage_dir``.

    The manifest and catalog describe the artifacts where the API reads them
    (``artifacts``), not the build schema a publish renames away. dbt writes into a
    target of its own (``MOVIEMETRIC_HOME/dbt/target-docs``), so a docs run never
    overwrites the target of a transform running at the same time.
    """
    url = database_url(settings)
    target = _dbt_home(settings) / "target-docs"
    _run_dbt(
        ["docs", "generate", "--vars", json.dumps(_DOCS_VARS)],
        settings,
        url,
        progress=progress,
        check=True,
        target=target,
    )
    lineage = settings.lineage_dir
    lineage.mkdir(parents=True, exist_ok=True)
    for name in _DOCS_FILES:
        source = target / name
        if not source.is_file():
            raise TransformError(f"dbt docs generate wrote no {name} in {target}")
        shutil.copy2(source, lineage / name)
    return lineage


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
    progress: bool,
    check: bool = False,
    target: Path | None = None,
) -> dict:
    """Run dbt with ``target`` as its target path (default ``MOVIEMETRIC_HOME/dbt/target``).

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
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir.parent),
        "--target-path",
        str(target),
        "--log-path",
        str(dbt_home / "logs"),
    ]
    env = {
        **os.environ,
        **libpq_env(url),
        "DATABASE_URL": url,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    if not (progress and sys.stderr.isatty()):
        env["DBT_USE_COLORS"] = "false"  # no escape codes in captured logs
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
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip())
            if progress:
                print(line, end="", file=sys.stderr, flush=True)
            else:
                log.debug("dbt: %s", line.rstrip())
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    # a failing exit without failed nodes to name (bad project, lost connection,
    # interrupted run) is reported from dbt's own output; never treated as a pass
    if process.returncode != 0 and (check or not _failed_nodes(results)):
        raise TransformError(
            f"dbt {' '.join(args)} failed (exit {process.returncode}): {_dbt_errors(tail)}; "
            "nothing was published"
        )
    return results


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


def _publish(url: str, build_id: str) -> tuple[int, dict[str, int]]:
    """Swap the build schema in as the published one, then drop the replaced tables.

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
            conn.execute(sql.SQL("create schema if not exists {}").format(build))
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

"""The transform's steps: dbt build of the prod target, then write-audit-publish.

``run_build`` (the chain's transform step) builds staging, intermediate and marts in
place and the artifacts into ``artifacts__build``, with every test of the project, and
returns the tested build as a ``Candidate``; ``run_publish`` (the chain's publish
step) swaps that candidate in (``transform.publish``), running the chain's hook inside
the publish transaction. ``run_transform`` is both in one hold of the transform lock.
``run_docs`` generates the dbt docs site that the API serves at ``/lineage``,
describing the published tables.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import yaml

from moviemetric.ops import (
    TRANSFORM_LOCK_KEY,
    WarehouseBusyError,
    advisory_lock,
    data_version,
    prepare_warehouse,
)
from moviemetric.steps import (
    Candidate,
    NullSink,
    ProgressSink,
    StepOptions,
    StepResult,
    utc_now,
)
from moviemetric.warehouse import BUILD_SCHEMA, RAW_SCHEMA, Warehouse
from transform.dbt import failed_nodes, run_dbt
from transform.errors import BuildFailedError, DbtError, TransformError
from transform.history import prune_landed_snapshots, raw_retention_days
from transform.publish import (
    BUILD_SESSION_PREFIX,
    end_stale_build_sessions,
    prepare_build_schema,
    publish,
    row_counts,
)

log = logging.getLogger(__name__)

_DOCS_FILES = ("index.html", "manifest.json", "catalog.json")
# dbt var read by macros/generate_schema_name.sql: where prod builds the artifacts
_BUILD_VARS = {"artifacts_schema": BUILD_SCHEMA}


def run_build(
    warehouse: Warehouse,
    options: StepOptions = StepOptions(),
    sink: ProgressSink = NullSink(),
) -> StepResult:
    """The chain's transform step: dbt build and test into the build schema, no publish.

    ``options.select`` is a dbt selection (e.g. ``"+movie_trending_daily"``). The
    result's ``candidate`` names the tested build for the index and publish steps;
    its ``rows`` are the build schema's row counts.
    """
    started = utc_now()
    prepare_warehouse(warehouse.url)
    with _transform_lock(warehouse) as lock_conn:
        candidate, results = _build(lock_conn, warehouse, options, sink)
        rows = row_counts(lock_conn, BUILD_SCHEMA)
    models, tests = _counts(results)
    return StepResult(
        step="transform",
        started_at=started,
        ended_at=utc_now(),
        rows=rows,
        models=models,
        tests=tests,
        summary=(
            f"built and tested dbt build {candidate.build_id} in {BUILD_SCHEMA}: {models} "
            f"models and {tests} tests passed; published version "
            f"{candidate.version_before} unchanged until the publish"
        ),
        details={"build_id": candidate.build_id},
        candidate=candidate,
    )


def run_publish(
    warehouse: Warehouse,
    options: StepOptions,
    sink: ProgressSink = NullSink(),
    *,
    before_commit: Callable[[], None] | None = None,
) -> StepResult:
    """The chain's publish step: swap in ``options.candidate``, the build it names.

    ``before_commit`` runs inside the publish transaction (``transform.publish``): the
    chain passes the search index swap, so the data version moves only once the index
    of that version is live, and a failed index swap rolls the schema swap back.
    """
    started = utc_now()
    candidate = options.candidate
    if candidate is None or not candidate.token:
        raise TransformError(
            "nothing to publish: the publish step needs the build of a transform step "
            "(run `moviemetric transform`)"
        )
    with _transform_lock(warehouse) as lock_conn:
        version, rows = publish(
            warehouse, candidate.build_id, candidate.token, before_commit=before_commit
        )
        pruned = _prune_raw_history(lock_conn, warehouse)
    return StepResult(
        step="publish",
        started_at=started,
        ended_at=utc_now(),
        rows=rows,
        version=version,
        summary=(
            f"published data version {version} (dbt build {candidate.build_id}); "
            f"rows: {_listed(rows)}"
        ),
        details={"build_id": candidate.build_id, "raw_snapshots_pruned": pruned},
    )


def run_transform(
    warehouse: Warehouse,
    options: StepOptions = StepOptions(),
    sink: ProgressSink = NullSink(),
    *,
    before_commit: Callable[[], None] | None = None,
) -> StepResult:
    """dbt build into the build schema, then publish it if every model and test passed.

    Build and publish in one hold of the transform lock, with no index step between
    them (the chain runs build -> index -> publish instead). ``options.select`` is a
    dbt selection; published artifacts outside it are carried over unchanged into the
    new version. The result's ``rows`` are the published artifacts' row counts.
    """
    started = utc_now()
    prepare_warehouse(warehouse.url)
    with _transform_lock(warehouse) as lock_conn:
        candidate, results = _build(lock_conn, warehouse, options, sink)
        version, rows = publish(
            warehouse, candidate.build_id, candidate.token, before_commit=before_commit
        )
        pruned = _prune_raw_history(lock_conn, warehouse)
    models, tests = _counts(results)
    build_id = candidate.build_id
    return StepResult(
        step="transform",
        started_at=started,
        ended_at=utc_now(),
        rows=rows,
        models=models,
        tests=tests,
        version=version,
        summary=(
            f"published data version {version} (dbt build {build_id}): {models} models and "
            f"{tests} tests passed; rows: {_listed(rows)}"
        ),
        details={"build_id": build_id, "raw_snapshots_pruned": pruned},
    )


def _prune_raw_history(lock_conn: psycopg.Connection, warehouse: Warehouse) -> int | None:
    """After a publish, still holding the transform lock: the raw snapshots the history
    holds go (``transform.history``). A failure is logged, not raised: the publish
    stands, and the next one prunes what this one left."""
    try:
        return prune_landed_snapshots(
            lock_conn, raw_retention_days(warehouse.settings.dbt_project_dir)
        )
    except (psycopg.Error, OSError, KeyError, ValueError) as exc:
        lock_conn.rollback()
        log.warning("pruning the landed raw snapshots failed: %s", " ".join(str(exc).split()))
        return None


def _build(
    lock_conn: psycopg.Connection,
    warehouse: Warehouse,
    options: StepOptions,
    sink: ProgressSink,
) -> tuple[Candidate, dict]:
    """dbt build and test into a fresh build schema, holding the transform lock."""
    _require_raw_tables(lock_conn, warehouse.settings.dbt_project_dir)
    version_before = data_version(lock_conn)
    # holding the lock, every build session still open belongs to a dead transform
    end_stale_build_sessions(lock_conn)
    token = uuid.uuid4().hex
    prepare_build_schema(lock_conn, token)
    # unit tests pin the SQL's logic on fixed inputs, whatever the data: they run in
    # the analysts' dev builds and in CI, not in every scheduled build (dbt's advice)
    args = ["build", "--vars", json.dumps(_BUILD_VARS), "--exclude-resource-type", "unit_test"]
    if options.full_refresh:
        args.append("--full-refresh")
    if options.select:
        # cautious: skip tests that also read artifacts outside the selection,
        # which are carried over as published (already tested) instead
        args += ["--select", options.select, "--indirect-selection", "cautious"]
    results = run_dbt(
        args,
        warehouse,
        sink=sink,
        task="dbt build",
        application_name=BUILD_SESSION_PREFIX + token,
        # the freshness step before it parsed the same project with the same vars
        reuse_parse_from=_freshness_target(warehouse),
    )
    _raise_on_failures(results, version_before)
    if not results.get("results"):
        raise TransformError(
            f"the dbt selection {options.select!r} matches no model or test; "
            f"nothing was built or published (version {version_before})"
        )
    build_id = results.get("metadata", {}).get("invocation_id", "")
    candidate = Candidate(
        schema=BUILD_SCHEMA, token=token, build_id=build_id, version_before=version_before
    )
    return candidate, results


def _counts(results: dict) -> tuple[int, int]:
    """(models built, data and unit tests passed) of a dbt run's results."""
    executed = results.get("results", [])
    models = sum(1 for node in executed if node["unique_id"].startswith("model."))
    tests = sum(1 for node in executed if node["unique_id"].startswith(("test.", "unit_test.")))
    return models, tests


def _listed(rows: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in sorted(rows.items()))


@contextmanager
def _transform_lock(warehouse: Warehouse) -> Iterator[psycopg.Connection]:
    try:
        with advisory_lock(warehouse.url, TRANSFORM_LOCK_KEY, "transform") as conn:
            yield conn
    except WarehouseBusyError:
        raise TransformError(
            "another transform is running on this warehouse; wait for it to finish and retry"
        ) from None


# dbt's freshness statuses, best first: the step reports the worst of its sources
_FRESHNESS_ORDER = ("pass", "warn", "error", "runtime error")


def run_freshness(
    warehouse: Warehouse,
    options: StepOptions = StepOptions(),
    sink: ProgressSink = NullSink(),
) -> StepResult:
    """The chain's freshness step: ``dbt source freshness`` of raw_tmdb, recorded.

    Stale sources (dbt's warn or error, per the thresholds in ``_tmdb__sources.yml``)
    are reported in the result, not raised: the run goes on to build what was loaded,
    and ``/health`` shows the freshness the last run recorded. Only a check that cannot
    run (bad project, warehouse down, a source table missing) fails the step.
    """
    started = utc_now()
    target = _freshness_target(warehouse)
    sources_file = target / "sources.json"
    sources_file.unlink(missing_ok=True)
    try:
        # with the build's vars, so the build that follows reuses this parse
        run_dbt(
            ["source", "freshness", "--vars", json.dumps(_BUILD_VARS)],
            warehouse,
            sink=sink,
            task="source freshness",
            target_path=target,
            application_name="moviemetric-freshness",
        )
    except DbtError:
        if not sources_file.is_file():  # dbt could not check: a real failure
            raise
    freshness = _read_freshness(sources_file)
    unchecked = sorted(
        name for name, source in freshness["sources"].items() if source["status"] == "runtime error"
    )
    if unchecked or not freshness["sources"]:
        which = f"raw_tmdb.{', raw_tmdb.'.join(unchecked)}" if unchecked else "any source"
        raise TransformError(
            f"dbt source freshness could not check {which}: "
            "has `moviemetric load` run on this warehouse?"
        )
    listed = ", ".join(
        f"{name} {source['status']}" for name, source in sorted(freshness["sources"].items())
    )
    return StepResult(
        step="freshness",
        started_at=started,
        ended_at=utc_now(),
        summary=f"source freshness {freshness['status']}: {listed}",
        details={"freshness": freshness},
    )


def _freshness_target(warehouse: Warehouse) -> Path:
    return warehouse.settings.home_dir / "dbt" / "target-freshness"


def _read_freshness(sources_file: Path) -> dict:
    """{"status": worst, "max_loaded_at": newest, "sources": {table: {...}}} of dbt's
    sources.json."""
    if not sources_file.is_file():
        raise TransformError(f"dbt source freshness wrote no {sources_file}")
    results = json.loads(sources_file.read_text()).get("results", [])
    sources = {
        result["unique_id"].rsplit(".", 1)[-1]: {
            "status": result.get("status", "runtime error"),
            "max_loaded_at": result.get("max_loaded_at"),
            "age_seconds": result.get("max_loaded_at_time_ago_in_s"),
        }
        for result in results
    }
    statuses = [source["status"] for source in sources.values()]
    worst = max(
        statuses or ["runtime error"],
        key=lambda status: _FRESHNESS_ORDER.index(status) if status in _FRESHNESS_ORDER else 3,
    )
    loaded = [source["max_loaded_at"] for source in sources.values() if source["max_loaded_at"]]
    return {"status": worst, "max_loaded_at": max(loaded, default=None), "sources": sources}


def run_docs(warehouse: Warehouse, sink: ProgressSink = NullSink()) -> Path:
    """``dbt docs generate`` of the published artifacts, copied into the lineage folder.

    In the prod target without the build var, the manifest and catalog describe the
    artifacts where the API reads them (``artifacts``). dbt writes into a target of its
    own (``MOVIEMETRIC_HOME/dbt/target-docs``), so a docs run never overwrites the
    target of a transform running at the same time.
    """
    target = warehouse.settings.home_dir / "dbt" / "target-docs"
    run_dbt(
        ["docs", "generate"],
        warehouse,
        sink=sink,
        task="dbt docs",
        check=True,
        target_path=target,
        application_name="moviemetric-docs",
    )
    lineage = warehouse.settings.lineage_dir
    lineage.mkdir(parents=True, exist_ok=True)
    for name in _DOCS_FILES:
        source = target / name
        if not source.is_file():
            raise TransformError(f"dbt docs generate wrote no {name} in {target}")
        shutil.copy2(source, lineage / name)
    return lineage


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


def _raise_on_failures(results: dict, version: int) -> None:
    failed = failed_nodes(results)
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

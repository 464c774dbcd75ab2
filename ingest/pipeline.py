"""``run_load``: TMDB (or the built-in sandbox) -> dlt -> PostgreSQL ``raw_tmdb``.

A load is all or nothing for the raw tables: dlt extracts everything before it loads,
so a failure while talking to TMDB leaves the warehouse untouched, and the failed
run's local packages and state are dropped so nothing of it is loaded later and the
last successful load date does not move. The next run restores state from the
warehouse (``_dlt_pipeline_state``), which only a successful load writes.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import dlt
import psycopg
import psycopg2
from dlt.common.destination.exceptions import DestinationException
from dlt.common.exceptions import SignalReceivedException
from dlt.common.runtime.telemetry import stop_telemetry
from dlt.destinations.impl.postgres.configuration import PostgresCredentials
from psycopg import sql
from pydantic import SecretStr

from ingest.id_export import IdSet
from ingest.tmdb import (
    DLT_LOGGER,
    MOVIES_TABLE,
    DetailSelection,
    ExportUsed,
    LoadProgress,
    TmdbApi,
    TmdbEndpoint,
    exception_chain,
    last_load_date,
    tmdb_source,
)
from moviemetric.config import Settings
from moviemetric.errors import MovieMetricError
from moviemetric.ops import LOAD_LOCK_KEY, advisory_lock
from moviemetric.steps import NullSink, ProgressSink, StepOptions, StepResult, utc_now
from moviemetric.warehouse import (
    RAW_SCHEMA,
    SNAPSHOTS_TABLE,
    Warehouse,
    WarehouseError,
    libpq_env,
    redact,
)

log = logging.getLogger(__name__)

PIPELINE_NAME = "tmdb"


@dataclass(frozen=True)
class LoadSummary:
    """What one ``moviemetric load`` did."""

    row_counts: dict[str, int]  # rows loaded per raw table
    movies: int  # movies the ID export listed (one popularity snapshot each)
    details: int  # /movie/{id} responses loaded
    snapshots: int
    seconds: float
    backfill: bool
    source: str
    source_date: date | None = None  # the source's day (its Date header)
    export_date: date | None = None  # the day of the ID export read

    @property
    def movies_per_second(self) -> float:
        return self.movies / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        kind = "backfill" if self.backfill else "incremental"
        text = (
            f"Loaded {self.movies:,} movies from {self.source} ({kind}): "
            f"{self.details:,} details fetched, {self.snapshots:,} popularity snapshots "
            f"in {self.seconds:.1f}s ({self.movies_per_second:,.0f} movies/s)"
        )
        if self.export_date is not None and self.export_date != self.source_date:
            text += (
                f"; the ID export of {self.source_date} is not out yet, so popularity "
                f"is that of {self.export_date}'s export"
            )
        return text


# The built-in sandbox is a local process, not TMDB: its loads are not throttled unless
# TMDB_REQUESTS_PER_SECOND says so.
SANDBOX_REQUESTS_PER_SECOND = 1e9


def _requests_per_second(settings: Settings) -> float:
    if settings.tmdb_configured or "tmdb_requests_per_second" in settings.model_fields_set:
        return settings.tmdb_requests_per_second
    return SANDBOX_REQUESTS_PER_SECOND


def run_load(
    warehouse: Warehouse,
    options: StepOptions = StepOptions(),
    sink: ProgressSink = NullSink(),
) -> StepResult:
    """The load step: TMDB into ``raw_tmdb``, a backfill first, then only what changed.

    ``options.full_refresh`` backfills the whole catalog again. The result's ``rows``
    are the rows loaded per raw table; ``details`` holds the ``LoadSummary`` figures.
    """
    started_at = utc_now()
    summary = _load(warehouse, full_refresh=options.full_refresh, sink=sink)
    return StepResult(
        step="load",
        started_at=started_at,
        ended_at=utc_now(),
        rows=dict(summary.row_counts),
        summary=str(summary),
        details={
            "movies": summary.movies,
            "details": summary.details,
            "snapshots": summary.snapshots,
            "backfill": summary.backfill,
            "source": summary.source,
            "export_date": summary.export_date.isoformat() if summary.export_date else None,
        },
    )


def _load(warehouse: Warehouse, *, full_refresh: bool, sink: ProgressSink) -> LoadSummary:
    settings = warehouse.settings
    started = time.perf_counter()
    route_dlt_logs()  # before dlt first reads its configuration (TmdbApi does)
    with _tmdb_endpoint(settings, sink) as (endpoint, source_name):
        api = TmdbApi(
            endpoint,
            requests_per_second=_requests_per_second(settings),
            concurrency=settings.tmdb_concurrency,
        )
        source_date = api.source_date()  # fails fast on a bad key or a dead server
        export_used = ExportUsed()
        url = warehouse.url
        # One load at a time per warehouse (they share the dlt working folder and state);
        # connecting also names a down warehouse before any work is done.
        with advisory_lock(url, LOAD_LOCK_KEY, "load") as conn:
            pipeline = _pipeline(settings, url)
            reporter = _SinkProgress(sink)
            try:
                if pipeline.has_pending_data:
                    # left by a process that died mid-run: never load it with this run
                    log.warning("dropping unfinished dlt packages of an earlier, killed load")
                    _discard_local_work(pipeline)
                pipeline.sync_destination()
                selection = _detail_selection(pipeline, conn, api, source_date, full_refresh)
                # One extract: dlt fetches everything before anything is loaded.
                source = tmdb_source(
                    api,
                    source_date,
                    selection,
                    progress=reporter,
                    include_adult=settings.tmdb_include_adult,
                    discover_pages=settings.tmdb_discover_pages,
                    export_used=export_used,
                )
                pipeline.extract(source)
                row_counts = pipeline.normalize().row_counts
                reporter.start("load", None)
                pipeline.load(raise_on_failed_jobs=True)
                _index_snapshot_loads(conn)
            except BaseException as exc:  # interrupted runs too: nothing of them loads later
                _discard_local_work(pipeline)
                if _signalled(exc):
                    raise KeyboardInterrupt from exc  # the command stops as on any signal
                error = _user_error(exc, api, url) if isinstance(exc, Exception) else None
                if error is None:
                    raise
                raise error from exc
    return LoadSummary(
        row_counts=dict(row_counts),
        movies=selection.offered,
        details=row_counts.get(MOVIES_TABLE, 0),
        snapshots=row_counts.get(SNAPSHOTS_TABLE, 0),
        seconds=time.perf_counter() - started,
        backfill=selection.backfill,
        source=source_name,
        source_date=source_date,
        export_date=export_used.day,
    )


def _detail_selection(
    pipeline: dlt.Pipeline,
    conn: psycopg.Connection,
    api: TmdbApi,
    source_date: date,
    full_refresh: bool,
) -> DetailSelection:
    """A backfill on the first load or a full refresh; afterwards the movies not loaded
    yet and those ``/movie/changes`` names since the last successful load."""
    last_load = last_load_date(pipeline.state)
    if full_refresh or last_load is None:
        return DetailSelection()
    return DetailSelection(
        known=_loaded_movie_ids(conn), changed=api.changed_ids(last_load, source_date)
    )


def _index_snapshot_loads(conn: psycopg.Connection) -> None:
    """Index the landed snapshots, once: by load time, since the daily models read only
    the snapshots loaded since their last build (``_loaded_at``); by day, since the
    transform prunes the days the history holds (transform/history.py)."""
    if _raw_table_exists(conn, SNAPSHOTS_TABLE):
        for column in ("_loaded_at", "snapshot_date"):
            conn.execute(
                sql.SQL("create index if not exists {} on {} ({})").format(
                    sql.Identifier(f"{SNAPSHOTS_TABLE}__{column.lstrip('_')}"),
                    sql.Identifier(RAW_SCHEMA, SNAPSHOTS_TABLE),
                    sql.Identifier(column),
                )
            )


def _raw_table_exists(conn: psycopg.Connection, table: str) -> bool:
    (exists,) = conn.execute(
        "select to_regclass(%s) is not null", (f"{RAW_SCHEMA}.{table}",)
    ).fetchone()
    return exists


def _loaded_movie_ids(conn: psycopg.Connection) -> IdSet:
    """The ids in raw_tmdb.movies (none when the table is missing), streamed with COPY
    into a bitmap: the memory does not grow with the catalog."""
    known = IdSet()
    if not _raw_table_exists(conn, MOVIES_TABLE):
        return known
    query = sql.SQL("copy (select id from {}) to stdout").format(
        sql.Identifier(RAW_SCHEMA, MOVIES_TABLE)
    )
    with conn.cursor().copy(query) as copy:
        copy.set_types(["int8"])
        for (movie_id,) in copy.rows():
            known.add(movie_id)
    return known


@contextmanager
def _tmdb_endpoint(settings: Settings, sink: ProgressSink) -> Iterator[tuple[TmdbEndpoint, str]]:
    """TMDB from the settings, or the built-in sandbox started for this load."""
    if settings.tmdb_configured:
        endpoint = TmdbEndpoint(
            base_url=settings.tmdb_base_url.rstrip("/"),
            api_key=_secret(settings.tmdb_api_key),
            access_token=_secret(settings.tmdb_access_token),
            exports_url=settings.tmdb_exports_url.rstrip("/"),
        )
        yield endpoint, endpoint.base_url
        return
    from ingest.sandbox import Sandbox

    sink.message(
        "No TMDB_API_KEY/TMDB_ACCESS_TOKEN set: loading from the built-in TMDB sandbox "
        f"({settings.sandbox_movies:,} movies, seed {settings.sandbox_seed})."
    )
    with Sandbox(movies=settings.sandbox_movies, seed=settings.sandbox_seed) as sandbox:
        endpoint = TmdbEndpoint(
            base_url=sandbox.base_url, api_key=sandbox.api_key, exports_url=sandbox.exports_url
        )
        yield endpoint, "the TMDB sandbox"


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _pipeline(settings: Settings, url: str) -> dlt.Pipeline:
    _no_dlt_telemetry()
    # Details run in dlt's thread pool; TMDB_CONCURRENCY sizes it.
    dlt.config["extract.workers"] = settings.tmdb_concurrency
    dlt.config["extract.max_parallel_items"] = max(20, settings.tmdb_concurrency * 4)
    # The package's files live minutes and are deleted once loaded: compressing them only
    # costs CPU, in the extract and again in the normalize.
    dlt.config["data_writer.disable_compression"] = True
    route_dlt_logs()
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(settings.home_dir / "dlt"),
        destination=dlt.destinations.postgres(credentials=_dlt_credentials(url)),
        dataset_name=RAW_SCHEMA,
    )
    route_dlt_logs()  # in case creating the pipeline set dlt's logging up again
    return pipeline


def prune_load_packages(settings: Settings, older_than: timedelta) -> int:
    """Delete the completed dlt load packages (``load/loaded/<load_id>``, kept by dlt for
    inspection) older than ``older_than``; returns how many. A package's load id is
    the Unix time it was created; what it loaded is in ``raw_tmdb._dlt_loads``."""
    loaded = settings.home_dir / "dlt" / PIPELINE_NAME / "load" / "loaded"
    cutoff = time.time() - older_than.total_seconds()
    pruned = 0
    for package in loaded.iterdir() if loaded.is_dir() else ():
        try:
            created = float(package.name)
        except ValueError:
            continue  # not a load package
        if package.is_dir() and created < cutoff:
            shutil.rmtree(package, ignore_errors=True)
            pruned += 1
    return pruned


def _no_dlt_telemetry() -> None:
    """Keep dlt's anonymous usage telemetry off. Setting ``runtime.dlthub_telemetry`` alone
    is too late: dlt starts its tracker when it first reads its configuration (which a
    load does before it builds the pipeline), and later settings do not stop it."""
    dlt.config["runtime.dlthub_telemetry"] = False
    stop_telemetry()


class _ToRootHandlers(logging.Handler):
    """dlt's logger's only handler: hands each record to the root logger's handlers, as if
    the logger propagated (the command's log file and terminal decide what they show).

    dlt sets its logger up again whenever it initialises its runtime: it turns
    propagation off and keeps the logger's first handler (adding a stderr handler only
    when there is none), so this handler survives that.
    """

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger().handle(record)


def route_dlt_logs() -> None:
    """Send dlt's log records through Python logging, never to a stderr handler of dlt's.

    Their level is dlt's ``runtime.log_level`` (``RUNTIME__LOG_LEVEL``, WARNING unless set).
    """
    logger = logging.getLogger(DLT_LOGGER)
    for handler in list(logger.handlers):
        if not isinstance(handler, _ToRootHandlers):
            logger.removeHandler(handler)
    if not logger.handlers:
        logger.addHandler(_ToRootHandlers())


def _dlt_credentials(url: str) -> PostgresCredentials:
    """dlt's credentials for ``url``: dlt requires a password field (trust auth has none)
    and a host, which for the embedded server is a socket directory in the query."""
    env = libpq_env(url)
    credentials = PostgresCredentials()
    credentials.drivername = "postgresql"
    credentials.username = env["PGUSER"]
    credentials.password = env["PGPASSWORD"]
    credentials.database = env["PGDATABASE"]
    credentials.port = int(env["PGPORT"])
    credentials.host = env["PGHOST"]
    query = {"sslmode": env["PGSSLMODE"]} if "PGSSLMODE" in env else {}
    if env["PGHOST"].startswith("/"):  # a Unix socket directory: libpq takes it as a parameter
        credentials.host = "localhost"
        query["host"] = env["PGHOST"]
    credentials.query = query
    return credentials


def _discard_local_work(pipeline: dlt.Pipeline) -> None:
    """Drop the failed run's packages and local state; the warehouse keeps the truth."""
    pipeline.drop()


def _signalled(exc: BaseException) -> bool:
    """A signal stopped the load: dlt took SIGINT or SIGTERM over during its step and
    raised it as an error, or wrapped the KeyboardInterrupt they raise here (as its
    ``sync`` step does) in its own error."""
    return any(
        isinstance(cause, SignalReceivedException | KeyboardInterrupt)
        for cause in exception_chain(exc)
    )


def _user_error(exc: Exception, api: TmdbApi, url: str) -> MovieMetricError | None:
    """The one-line error for a failure the user can act on; None for a bug."""
    tmdb = api.error_for(exc)
    if tmdb is not None:
        return tmdb
    for cause in exception_chain(exc):
        if isinstance(cause, MovieMetricError):
            return cause
        if isinstance(cause, DestinationException | psycopg2.Error):
            return WarehouseError(
                f"loading into the warehouse at {redact(url)} failed: "
                f"{' '.join(str(cause).split())[:300]}"
            )
    return None


_PROGRESS_LABELS = {
    "discover": "discover (votes)",
    "export": "ID export",
    "details": "details",
    "load": "normalize + load",
}


class _SinkProgress(LoadProgress):
    """The load's progress callbacks, counted and handed to the step's sink."""

    def __init__(self, sink: ProgressSink) -> None:
        self._sink = sink
        self._totals: dict[str, int | None] = {}
        self._done: dict[str, int] = {}
        self._lock = threading.Lock()

    def start(self, task: str, total: int | None) -> None:
        with self._lock:
            self._totals[task], self._done[task] = total, 0
        self._sink.progress(_PROGRESS_LABELS.get(task, task), 0, total)

    def advance(self, task: str, amount: int = 1) -> None:
        self._update(task, done=amount)

    def add_to_total(self, task: str, amount: int) -> None:
        self._update(task, total=amount)

    def _update(self, task: str, *, done: int = 0, total: int = 0) -> None:
        with self._lock:
            if task not in self._done:
                return
            self._done[task] += done
            if total:
                self._totals[task] = (self._totals[task] or 0) + total
            now_done, now_total = self._done[task], self._totals[task]
        self._sink.progress(_PROGRESS_LABELS.get(task, task), now_done, now_total)

"""``run_load``: TMDB (or the built-in sandbox) -> dlt -> PostgreSQL ``raw_tmdb``.

A load is all or nothing for the raw tables: dlt extracts everything before it loads,
so a failure while talking to TMDB leaves the warehouse untouched, and the failed
run's local packages and state are dropped so nothing of it is loaded later and the
last successful load date does not move. The next run restores state from the
warehouse (``_dlt_pipeline_state``), which only a successful load writes.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dlt
import psycopg2
from dlt.common.destination.exceptions import DestinationException
from dlt.common.runtime.telemetry import stop_telemetry
from dlt.destinations.impl.postgres.configuration import PostgresCredentials
from pydantic import SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ingest.tmdb import (
    DETAIL_RESOURCES,
    SWEEP_RESOURCES,
    LoadProgress,
    TmdbApi,
    TmdbEndpoint,
    TmdbRun,
    exception_chain,
    tmdb_source,
)
from moviemetric.config import Settings
from moviemetric.errors import MovieMetricError
from moviemetric.warehouse import (
    LOAD_LOCK_KEY,
    RAW_SCHEMA,
    WarehouseError,
    advisory_lock,
    database_url,
    libpq_env,
    redact,
)

log = logging.getLogger(__name__)

PIPELINE_NAME = "tmdb"


@dataclass(frozen=True)
class LoadSummary:
    """What one ``moviemetric load`` did."""

    movies: int  # movies the discover sweep saw (one popularity snapshot each)
    details: int  # /movie/{id} responses loaded
    snapshots: int
    seconds: float
    backfill: bool
    source: str

    @property
    def movies_per_second(self) -> float:
        return self.movies / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        kind = "backfill" if self.backfill else "incremental"
        return (
            f"Loaded {self.movies:,} movies from {self.source} ({kind}): "
            f"{self.details:,} details fetched, {self.snapshots:,} popularity snapshots "
            f"in {self.seconds:.1f}s ({self.movies_per_second:,.0f} movies/s)"
        )


# The built-in sandbox is a local process, not TMDB: its loads are not throttled unless
# TMDB_REQUESTS_PER_SECOND says so.
SANDBOX_REQUESTS_PER_SECOND = 1e9


def _requests_per_second(settings: Settings) -> float:
    if settings.tmdb_configured or "tmdb_requests_per_second" in settings.model_fields_set:
        return settings.tmdb_requests_per_second
    return SANDBOX_REQUESTS_PER_SECOND


def run_load(
    settings: Settings, *, full_refresh: bool = False, progress: bool = True
) -> LoadSummary:
    """Load TMDB into ``raw_tmdb``: a backfill first, then only changed and new movies."""
    started = time.perf_counter()
    route_dlt_logs()  # before dlt first reads its configuration (TmdbApi does)
    with _tmdb_endpoint(settings) as (endpoint, source_name):
        api = TmdbApi(
            endpoint,
            requests_per_second=_requests_per_second(settings),
            concurrency=settings.tmdb_concurrency,
        )
        source_date = api.source_date()  # fails fast on a bad key or a dead server
        url = database_url(settings)
        # One load at a time per warehouse (they share the dlt working folder and state);
        # connecting also names a down warehouse before any work is done.
        with advisory_lock(url, LOAD_LOCK_KEY, "load"):
            pipeline = _pipeline(settings, url)
            with _progress(progress) as reporter:
                run = TmdbRun(api, source_date, full_refresh=full_refresh, progress=reporter)
                try:
                    if pipeline.has_pending_data:
                        # left by a process that died mid-run: never load it with this run
                        log.warning("dropping unfinished dlt packages of an earlier, killed load")
                        _discard_local_work(pipeline)
                    pipeline.sync_destination()
                    # The detail ids depend on the whole sweep: extract it first. Both
                    # packages are loaded together, after everything was fetched.
                    row_counts: Counter[str] = Counter()
                    for resources in (SWEEP_RESOURCES, DETAIL_RESOURCES):
                        pipeline.extract(tmdb_source(run).with_resources(*resources))
                        row_counts.update(pipeline.normalize().row_counts)
                    reporter.start("load", None)
                    pipeline.load(raise_on_failed_jobs=True)
                except BaseException as exc:  # interrupted runs too: nothing of them loads later
                    _discard_local_work(pipeline)
                    error = _user_error(exc, api, url) if isinstance(exc, Exception) else None
                    if error is None:
                        raise
                    raise error from exc
    return LoadSummary(
        movies=len(run.discovered_ids),
        details=row_counts.get("movies", 0),
        snapshots=row_counts.get("movie_popularity_snapshots", 0),
        seconds=time.perf_counter() - started,
        backfill=run.backfill,
        source=source_name,
    )


@contextmanager
def _tmdb_endpoint(settings: Settings) -> Iterator[tuple[TmdbEndpoint, str]]:
    """TMDB from the settings, or the built-in sandbox started for this load."""
    if settings.tmdb_configured:
        endpoint = TmdbEndpoint(
            base_url=settings.tmdb_base_url.rstrip("/"),
            api_key=_secret(settings.tmdb_api_key),
            access_token=_secret(settings.tmdb_access_token),
        )
        yield endpoint, endpoint.base_url
        return
    from ingest.sandbox import Sandbox

    print(
        "No TMDB_API_KEY/TMDB_ACCESS_TOKEN set: loading from the built-in TMDB sandbox "
        f"({settings.sandbox_movies:,} movies, seed {settings.sandbox_seed}).",
        file=sys.stderr,
    )
    with Sandbox(movies=settings.sandbox_movies, seed=settings.sandbox_seed) as sandbox:
        yield TmdbEndpoint(base_url=sandbox.base_url, api_key=sandbox.api_key), "the TMDB sandbox"


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _pipeline(settings: Settings, url: str) -> dlt.Pipeline:
    _no_dlt_telemetry()
    # Details run in dlt's thread pool; TMDB_CONCURRENCY sizes it.
    dlt.config["extract.workers"] = settings.tmdb_concurrency
    dlt.config["extract.max_parallel_items"] = max(20, settings.tmdb_concurrency * 4)
    route_dlt_logs()
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(settings.home_dir / "dlt"),
        destination=dlt.destinations.postgres(credentials=_dlt_credentials(url)),
        dataset_name=RAW_SCHEMA,
    )
    route_dlt_logs()  # in case creating the pipeline set dlt's logging up again
    return pipeline


def _no_dlt_telemetry() -> None:
    """Keep dlt's anonymous usage telemetry off. Setting ``runtime.dlthub_telemetry`` alone
    is too late: dlt starts its tracker when it first reads its configuration (which a
    load does before it builds the pipeline), and later settings do not stop it."""
    dlt.config["runtime.dlthub_telemetry"] = False
    stop_telemetry()


DLT_LOGGER = "dlt"


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


_PROGRESS_LABELS = {"discover": "discover", "details": "details", "load": "normalize + load"}


class _RichProgress(LoadProgress):
    """Progress bars on stderr: discover sweep, details, then normalize and load."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, int] = {}

    def start(self, task: str, total: int | None) -> None:
        label = _PROGRESS_LABELS.get(task, task)
        if task in self._tasks:
            self._progress.update(self._tasks[task], total=total, completed=0)
        else:
            self._tasks[task] = self._progress.add_task(label, total=total)

    def advance(self, task: str, amount: int = 1) -> None:
        if task in self._tasks:
            self._progress.advance(self._tasks[task], amount)


@contextmanager
def _progress(enabled: bool) -> Iterator[LoadProgress]:
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield LoadProgress()
        return
    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    terminal = sys.stderr
    with (
        Progress(*columns, console=console, transient=True) as progress,
        _log_lines_above_the_bars(terminal),
    ):
        yield _RichProgress(progress)


@contextmanager
def _log_lines_above_the_bars(terminal: object) -> Iterator[None]:
    """While the bars are drawn, log lines meant for the terminal (a retry's warning)
    are printed above them: the handlers writing to ``terminal`` write to the progress
    display's stand-in for stderr instead of through the bars."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if type(handler) is logging.StreamHandler and handler.stream in (terminal, sys.__stderr__)
    ]
    streams = [handler.setStream(sys.stderr) for handler in handlers]
    try:
        yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            if stream is not None:
                handler.setStream(stream)

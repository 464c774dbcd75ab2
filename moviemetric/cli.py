"""The ``moviemetric`` command (docs/design.md section 6).

Each command reads the variables of docs/design.md section 2 through ``get_settings()``,
so two commands with the same environment see the same warehouse. A failure the
user can act on (``MovieMetricError``) prints one line on stderr and exits 1.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError

from moviemetric.config import get_settings
from moviemetric.errors import MovieMetricError
from moviemetric.logs import attach_log_file
from moviemetric.steps import StepOptions
from moviemetric.terminal import TerminalSink
from moviemetric.warehouse import open_warehouse

app = typer.Typer(
    name="moviemetric",
    help="MovieMetric: TMDB -> dlt -> PostgreSQL -> dbt -> FastAPI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., object])


def _one_line_errors(command: F) -> F:
    """Turn a MovieMetricError into one line on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except MovieMetricError as exc:
            message = " ".join(str(exc).split())
            if _LOG_FILE[0] is not None:
                message += f" (full log: {_LOG_FILE[0]})"
            typer.echo(f"moviemetric: error: {message}", err=True)
            raise typer.Exit(code=1) from None
        except ValidationError as exc:  # a bad environment variable
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            typer.echo(f"moviemetric: error: invalid configuration: {problems}", err=True)
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            typer.echo("moviemetric: interrupted", err=True)
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


_OWN_LOGGERS = ("moviemetric", "ingest", "transform", "search", "scheduler", "api")


class _OwnWarnings(logging.Filter):
    """On the terminal: our own warnings; libraries' records go to the log file only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.split(".", 1)[0] in _OWN_LOGGERS


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug output.")] = False,
) -> None:
    terminal = logging.StreamHandler(sys.stderr)
    terminal.setFormatter(logging.Formatter("moviemetric: %(levelname)s: %(message)s"))
    if verbose:
        terminal.setLevel(logging.DEBUG)
    else:
        terminal.setLevel(logging.WARNING)
        terminal.addFilter(_OwnWarnings())
    terminal.set_name("moviemetric-terminal")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == terminal.get_name()]:
        root.removeHandler(handler)  # a second command in one process (tests)
    root.addHandler(terminal)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("urllib3", "httpx", "httpcore", "asyncio", "psycopg"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    _stop_cleanly_on_sigterm()
    try:
        log_path = attach_log_file(get_settings().home_dir)
    except ValidationError:
        log_path = None  # the command reports the bad variable itself
    _LOG_FILE[0] = log_path


# the command log of this process, named in the one error line
_LOG_FILE: list[Path | None] = [None]


def _stop_cleanly_on_sigterm() -> None:
    """SIGTERM (docker stop, systemd) unwinds like Ctrl-C, so exit handlers run.

    Python's default for SIGTERM ends the process at once, skipping ``atexit``: the
    embedded PostgreSQL would be left running. uvicorn restores this handler and
    re-raises the signal after its own graceful shutdown, so ``serve`` ends here too.
    ``scheduler`` (``SchedulerService.run_until_signalled``) takes SIGTERM and SIGINT
    over while it runs, to stop its threads first, and puts this handler back.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@app.command()
@_one_line_errors
def load(
    full_refresh: Annotated[
        bool, typer.Option(help="Backfill the whole catalog again instead of loading changes.")
    ] = False,
) -> None:
    """Load TMDB (or the built-in sandbox) into raw_tmdb with dlt.

    Retried: HTTP 429 and 500/502/503/504, dropped connections, timeouts, broken JSON bodies.

    A request is tried at most 5 times, waiting 1, 2, 4, 8 s (Retry-After honoured, 10 s at most).

    A load gives up once its retries have waited 60 s in all within 10 minutes.

    Each retry is one warning line; a failure is one error line naming the last status and path.

    RUNTIME__REQUEST_MAX_ATTEMPTS, _BACKOFF_FACTOR and _MAX_RETRY_DELAY change the request limits.
    """
    from ingest import run_load

    warehouse = open_warehouse(get_settings())
    with TerminalSink() as sink:
        result = run_load(warehouse, StepOptions(full_refresh=full_refresh), sink)
    typer.echo(result.summary)


@app.command()
@_one_line_errors
def run(
    full_refresh: Annotated[
        bool, typer.Option(help="Backfill and rebuild everything instead of incrementally.")
    ] = False,
) -> None:
    """Run the pipeline once: load, source freshness, dbt build and test, index, publish."""
    from scheduler import run_chain

    warehouse = open_warehouse(get_settings())
    with TerminalSink() as sink:
        run_chain(
            warehouse,
            options=StepOptions(full_refresh=full_refresh),
            sink=sink,
            on_step=lambda result: typer.echo(str(result)),
        )


@app.command()
@_one_line_errors
def sandbox(
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8765,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    movies: Annotated[int, typer.Option(min=100, max=1_000_000, help="Catalog size.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Catalog seed.")] = 42,
    day: Annotated[
        str | None,
        typer.Option(help="Catalog date (YYYY-MM-DD); default today (UTC)."),
    ] = None,
    faults: Annotated[
        str | None,
        typer.Option(
            metavar="NAME=VALUE,...",
            help=(
                "Inject faults. Kinds, each the share of requests it hits (0 to 1): "
                "rate_limit (HTTP 429, Retry-After: 1), server_error (HTTP 500/502/503), "
                "slow (answered after slow_seconds), malformed (HTTP 200, truncated JSON). "
                "Also slow_seconds=SECONDS (default 0.5), rate_limit_every=N (every Nth "
                "request gets 429), rate_limit_per_second=N, seed=N (default 0). "
                "E.g. server_error=0.2,slow=0.05"
            ),
        ),
    ] = None,
) -> None:
    """Serve the offline TMDB-compatible sandbox alone."""
    from ingest.sandbox import parse_faults, serve

    try:
        catalog_date = date.fromisoformat(day) if day else None
    except ValueError:
        raise MovieMetricError(f"--day must be a date formatted YYYY-MM-DD, got {day!r}") from None
    injected = parse_faults(faults) if faults is not None else None
    serve(
        host=host, port=port, movies=movies, seed=seed, catalog_date=catalog_date, faults=injected
    )


@app.command()
@_one_line_errors
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default MOVIEMETRIC_API_HOST).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port to listen on (default MOVIEMETRIC_API_PORT)."),
    ] = None,
) -> None:
    """Serve the read-only HTTP API over the published warehouse."""
    from api import create_app, listening_message
    from api import serve as serve_api

    settings = get_settings()
    serve_api(
        create_app(settings),
        host=host or settings.api_host,
        port=settings.api_port if port is None else port,
        announce=lambda url: typer.echo(listening_message(url)),
    )


@app.command()
@_one_line_errors
def up(
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port to listen on (default MOVIEMETRIC_API_PORT)."),
    ] = None,
) -> None:
    """Everything in one process: the first run if nothing is published, then the API
    and the scheduler.

    With nothing configured: the embedded PostgreSQL and the TMDB sandbox (3,000 movies
    loaded over 8 days). Prints the URLs and the admin token; SIGINT or SIGTERM stops it all.
    """
    from moviemetric.up import run_up

    run_up(get_settings(), port=port, echo=lambda line: typer.echo(line))


@app.command()
@_one_line_errors
def scheduler() -> None:
    """The scheduler service: cron enqueues runs, its worker runs the queue.

    Prints its schedule and next fire times (UTC), then runs until SIGTERM or SIGINT:
    it stops claiming, fails a running run as interrupted and exits within 10 s.

    MOVIEMETRIC_SCHEDULE_INGEST (default '0 2 * * *') and
    MOVIEMETRIC_SCHEDULE_FULL_REFRESH (default '0 4 * * mon') set the cron; any number of
    replicas may run: one fires cron, and all of them run queued runs one at a time.
    """
    from scheduler import SchedulerService

    settings = get_settings()
    service = SchedulerService(open_warehouse(settings), settings)
    _log_own_progress()
    service.run_until_signalled(echo=lambda line: typer.echo(line))
    typer.echo("scheduler: stopped")


def _log_own_progress() -> None:
    """A service's log is its output: our own info lines too, on the terminal."""
    for handler in logging.getLogger().handlers:
        if handler.get_name() == "moviemetric-terminal" and handler.level > logging.INFO:
            handler.setLevel(logging.INFO)


@app.command()
@_one_line_errors
def transform(
    full_refresh: Annotated[
        bool, typer.Option(help="Rebuild incremental models from scratch.")
    ] = False,
    select: Annotated[
        str | None,
        typer.Option(help="dbt selection to build (e.g. '+movie_trending_daily'); default all."),
    ] = None,
    print_connection: Annotated[
        bool,
        typer.Option(
            "--print-connection",
            help="Print the PG* exports and dbt command to run dbt by hand, and exit.",
        ),
    ] = False,
) -> None:
    """dbt build (every model and test) -> search index -> publish, if every test passed."""
    from scheduler import TRANSFORM_STEPS, run_chain
    from transform import connection_exports

    warehouse = open_warehouse(get_settings())
    if print_connection:
        typer.echo(connection_exports(warehouse))
        return
    with TerminalSink() as sink:
        run_chain(
            warehouse,
            steps=TRANSFORM_STEPS,
            options=StepOptions(full_refresh=full_refresh, select=select),
            sink=sink,
            on_step=lambda result: typer.echo(str(result)),
        )


@app.command()
@_one_line_errors
def index() -> None:
    """Rebuild the search index from the published data.

    Meilisearch (MEILI_URL set): a fresh index, swapped in for the live one at once.

    PostgreSQL: dbt rebuilds the search artifacts alone and publishes them as a new data
    version, the other artifacts carried over.
    """
    from scheduler import run_index_rebuild

    warehouse = open_warehouse(get_settings())
    with TerminalSink() as sink:
        run_index_rebuild(warehouse, sink=sink, on_step=lambda result: typer.echo(str(result)))


@app.command()
@_one_line_errors
def docs() -> None:
    """Generate the dbt docs site (lineage) that the API serves at /lineage."""
    from transform import run_docs

    warehouse = open_warehouse(get_settings())
    with TerminalSink() as sink:
        lineage = run_docs(warehouse, sink)
    typer.echo(str(lineage))


@app.command()
@_one_line_errors
def export(
    file: Annotated[Path, typer.Argument(help="The archive to write (pg_dump custom format).")],
) -> None:
    """Dump raw_tmdb, marts (the popularity history), artifacts and ops into FILE."""
    from moviemetric.transfer import export_warehouse

    result = export_warehouse(open_warehouse(get_settings()), file)
    typer.echo(f"exported {result.path}: {result}")


@app.command("import")
@_one_line_errors
def import_(
    file: Annotated[Path, typer.Argument(help="An archive written by `moviemetric export`.")],
) -> None:
    """Restore FILE into this empty warehouse; with MEILI_URL, rebuild the search index."""
    from moviemetric.transfer import import_warehouse

    warehouse = open_warehouse(get_settings())
    result = import_warehouse(warehouse, file)
    typer.echo(f"imported {result.path}: {result}")
    if warehouse.settings.meili_url:
        from search import run_index

        with TerminalSink() as sink:
            typer.echo(str(run_index(warehouse, sink=sink)))


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
@_one_line_errors
def dbt(ctx: typer.Context) -> None:
    """Run dbt ARGS against the configured warehouse (embedded included), target dev.

    e.g. `moviemetric dbt build`, `moviemetric dbt test`, `moviemetric dbt docs generate`;
    `--target prod` reads what the pipeline published (tests and docs only).
    """
    from transform import run_dbt_command

    status = run_dbt_command(open_warehouse(get_settings()), list(ctx.args))
    raise typer.Exit(code=status)


if __name__ == "__main__":  # pragma: no cover
    app()

"""``moviemetric up``: the whole of MovieMetric in one process, with nothing configured.

What it does, in order:

1. Opens the warehouse (``DATABASE_URL``, or the embedded PostgreSQL under
   ``MOVIEMETRIC_HOME``) and applies the ops migrations.
2. If nothing is published yet, makes the first run. Without a TMDB key that is the
   built-in sandbox (``UP_SANDBOX_MOVIES`` movies unless ``MOVIEMETRIC_SANDBOX_MOVIES``
   says otherwise) loaded by the real loader once per sandbox day, ``SANDBOX_DAYS`` days
   ending today (UTC), so the 7-day trending momentum and the genre statistics have a
   series; the last day runs the whole chain (``scheduler.STEPS``: load, freshness,
   transform, index, publish).
   With a TMDB key the chain runs once against TMDB. When something is published
   already, the data is reused and the chain is skipped.
3. Serves the API in the main thread, prints the URLs and the admin token, and starts the
   scheduler service in a thread once the API listens; SIGINT or SIGTERM stops uvicorn,
   then the scheduler, then (at exit) the embedded PostgreSQL.
4. Builds the dbt docs site for ``/lineage`` in a thread once the API listens, unless it
   is there already (dbt's start and parse take as long as a small build; the data
   need not wait for them), and prints when it is ready.

The admin token is ``MOVIEMETRIC_ADMIN_TOKEN`` when set, otherwise one generated once and
kept in ``MOVIEMETRIC_HOME/admin-token`` (mode 0600), so a restart keeps it.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from psycopg import sql
from pydantic import SecretStr

from moviemetric.config import Settings
from moviemetric.ops import data_version, prepare_warehouse
from moviemetric.schedule import CRON_SETTINGS, cron_expressions, cron_trigger
from moviemetric.steps import NullSink, ProgressSink, StepResult
from moviemetric.terminal import TerminalSink
from moviemetric.warehouse import PUBLISHED_SCHEMA, Warehouse, open_warehouse

log = logging.getLogger(__name__)

UP_SANDBOX_MOVIES = 3_000
# 8 days: today's trending momentum compares today's popularity with the 7 days before.
SANDBOX_DAYS = 8
ADMIN_TOKEN_FILE = "admin-token"
# The sandbox serves a local process, so its loads are not throttled.
SANDBOX_REQUESTS_PER_SECOND = 1e9

Echo = Callable[[str], None]


def run_up(settings: Settings, *, port: int | None, echo: Echo) -> None:
    """Prepare, make the first run if needed, then serve the API and run the scheduler."""
    from api import create_app, serve

    settings = up_settings(settings)
    for kind, expression in cron_expressions(settings).items():
        cron_trigger(expression, CRON_SETTINGS[kind][1])  # a bad schedule fails now
    warehouse = open_warehouse(settings)
    prepare_warehouse(warehouse.url)
    version = published_version(warehouse)
    if version:
        echo(
            f"Reusing the data published under {settings.home_dir} (data version {version}): "
            "no first run needed."
        )
    else:
        with TerminalSink() as sink:
            first_run(warehouse, sink, echo)
    example = search_example(warehouse)
    docs_built = (settings.lineage_dir / "index.html").is_file()
    scheduler = BackgroundScheduler(warehouse, echo)

    def announce(url: str) -> None:
        echo(banner(url, settings, example, docs_built))
        scheduler.start()
        if not docs_built:
            build_docs_in_background(warehouse, url, echo)

    try:
        serve(
            create_app(settings),
            host=settings.api_host,
            port=settings.api_port if port is None else port,
            announce=announce,
        )
    finally:
        echo("moviemetric up: stopping")
        scheduler.stop()
    echo("moviemetric up: stopped")


class BackgroundScheduler:
    """The scheduler service, started in a thread once the API listens.

    Importing the scheduler imports the whole chain (dlt, the transform, search): a
    second or more that the API need not wait for. ``stop`` stops a service that has
    started and keeps one still being made from starting.
    """

    def __init__(self, warehouse: Warehouse, echo: Echo) -> None:
        self._warehouse = warehouse
        self._echo = echo
        self._lock = threading.Lock()
        self._stopped = False
        self._service = None

    def start(self) -> None:
        threading.Thread(target=self._start, name="scheduler-start", daemon=True).start()

    def _start(self) -> None:
        from scheduler import SchedulerService

        try:
            service = SchedulerService(self._warehouse, self._warehouse.settings)
            with self._lock:
                if self._stopped:
                    return
                service.start()
                self._service = service
        except Exception as exc:  # the API serves on; the log and the terminal say why
            log.error("the scheduler did not start: %s", exc)
            return
        for line in service.describe_schedule():
            self._echo(line)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            service = self._service
        if service is not None:
            service.stop()


def up_settings(settings: Settings) -> Settings:
    """The settings ``up`` runs with: its sandbox size and the admin token filled in."""
    update: dict[str, object] = {"admin_token": SecretStr(admin_token(settings))}
    if "sandbox_movies" not in settings.model_fields_set:
        update["sandbox_movies"] = UP_SANDBOX_MOVIES
    return settings.model_copy(update=update)


def admin_token(settings: Settings) -> str:
    """MOVIEMETRIC_ADMIN_TOKEN, or the token kept under MOVIEMETRIC_HOME (made once)."""
    if settings.admin_token is not None:
        return settings.admin_token.get_secret_value()
    path = admin_token_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) != 0o600:
            path.chmod(0o600)
        token = path.read_text().strip()
        if token:
            return token
        path.unlink()
        return admin_token(settings)
    token = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    return token


def admin_token_path(settings: Settings) -> Path:
    return settings.home_dir / ADMIN_TOKEN_FILE


def published_version(warehouse: Warehouse) -> int:
    """The published data version, 0 when nothing is published (migrations applied)."""
    with warehouse.connect() as conn:
        return data_version(conn)


def first_run(warehouse: Warehouse, sink: ProgressSink, echo: Echo) -> None:
    """The first load -> transform -> index -> publish: from TMDB once, or over the
    sandbox's days."""
    from scheduler import STEPS, run_chain

    def on_step(result: StepResult) -> None:
        echo(str(result))

    if warehouse.settings.tmdb_configured:
        run_chain(warehouse, steps=tuple(STEPS), sink=sink, on_step=on_step)
        return
    from ingest.sandbox import Sandbox

    settings = warehouse.settings
    first_day = datetime.now(UTC).date() - timedelta(days=SANDBOX_DAYS - 1)
    echo(
        f"No TMDB_API_KEY/TMDB_ACCESS_TOKEN set: loading the built-in TMDB sandbox "
        f"({settings.sandbox_movies:,} movies, seed {settings.sandbox_seed}) for "
        f"{SANDBOX_DAYS} days, {first_day} to {first_day + timedelta(days=SANDBOX_DAYS - 1)}."
    )
    with Sandbox(
        movies=settings.sandbox_movies, seed=settings.sandbox_seed, catalog_date=first_day
    ) as sandbox:
        # The loader sees the sandbox as a TMDB server, one catalog day per load.
        served = replace(
            warehouse,
            settings=settings.model_copy(
                update={
                    "tmdb_base_url": sandbox.base_url,
                    "tmdb_exports_url": sandbox.exports_url,
                    "tmdb_api_key": SecretStr(sandbox.api_key),
                    "tmdb_requests_per_second": SANDBOX_REQUESTS_PER_SECOND,
                }
            ),
        )
        for day in range(SANDBOX_DAYS):
            if day:
                sandbox.advance(1)
            sink.progress("sandbox days", day, SANDBOX_DAYS, str(sandbox.catalog_date))
            last = day == SANDBOX_DAYS - 1
            steps = tuple(STEPS) if last else ("load",)
            run_chain(
                served,
                steps=steps,
                sink=sink,
                on_step=lambda result, today=sandbox.catalog_date: echo(f"{today} {result}"),
            )
            sink.progress("sandbox days", day + 1, SANDBOX_DAYS, str(sandbox.catalog_date))


def build_docs_in_background(warehouse: Warehouse, base_url: str, echo: Echo) -> None:
    """``moviemetric docs`` while the API already serves: /lineage answers once it is built.

    The API reads the lineage folder per request, so it needs no restart. The thread is a
    daemon: a stop does not wait for it (dbt dies with the process, and the next ``up``
    builds the docs again, as the folder is only written once dbt succeeded).
    """
    from transform import run_docs

    def build() -> None:
        started = time.perf_counter()
        try:
            run_docs(warehouse, NullSink())
        except Exception as exc:  # the API serves on; /lineage says how to build the docs
            log.error("the dbt docs site for /lineage failed: %s; run `moviemetric docs`", exc)
            return
        elapsed = time.perf_counter() - started
        echo(f"lineage: the dbt docs site is ready at {base_url}/lineage/ ({elapsed:.1f} s)")

    threading.Thread(target=build, name="lineage-docs", daemon=True).start()


def search_example(warehouse: Warehouse) -> str:
    """A word of the most popular published title, for the printed /search example."""
    with warehouse.connect() as conn:
        row = conn.execute(
            sql.SQL(
                "select title from {}.movie_catalog where title is not null"
                " order by popularity desc nulls last, movie_id limit 1"
            ).format(sql.Identifier(PUBLISHED_SCHEMA))
        ).fetchone()
    return title_word(row[0] if row else "")


def title_word(title: str) -> str:
    """The longest word of ``title`` (letters only): not a stop word full-text search drops."""
    words = re.findall(r"[^\W\d_]+", title)
    return max(words, key=len, default="movie")


def banner(base_url: str, settings: Settings, example: str, docs_built: bool) -> str:
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    path = admin_token_path(settings)
    kept_in_file = path.is_file() and path.read_text().strip() == token
    kept = f"kept in {path}" if kept_in_file else "from MOVIEMETRIC_ADMIN_TOKEN"
    lines = [
        f"MovieMetric is up; its data is under {settings.home_dir}",
        f"  API        {base_url}",
        f"  docs       {base_url}/docs",
        f"  dashboard  {base_url}/dashboard",
        f"  lineage    {base_url}/lineage/"
        + ("" if docs_built else "  (the dbt docs site is being generated)"),
        f"  search     {base_url}/search?q={example}",
        f"  trending   {base_url}/movies/trending",
        f"  admin token ({kept}): {token}",
        f"    curl -H 'Authorization: Bearer {token}' {base_url}/admin/jobs",
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines)

"""The scheduler service: cron enqueues runs, a worker claims and runs them.

- Cron (APScheduler 3 ``BackgroundScheduler``, ``CronTrigger`` in UTC): the jobs only
  enqueue, with ``requested_by='cron'`` and the fire time as ``scheduled_for`` (a fire
  time is queued once per kind, whoever fires it). Only the leader fires: the service
  holding the session advisory lock ``SCHEDULER_LEADER_LOCK_KEY`` on a connection of
  its own. A follower retries the lock every ``leader_retry_seconds`` (10 s), so it
  takes over well within a minute of the leader's death, and on taking over it queues
  the latest fire time still within the misfire grace (a no-op when the old leader
  already did).
- Worker: claims the oldest queued run (``scheduler.queue``), woken by NOTIFY on
  ``moviemetric_runs`` and polling every ``poll_seconds`` as a fallback. It runs one
  run at a time across every replica (session advisory lock ``RUN_LOCK_KEY`` while it
  claims and runs), so runs never overlap. The run's work happens in a thread; another
  thread renews its lease every third of the lease; each finished step is recorded;
  the run ends succeeded, or failed with the failing step's error.
- ``stop()`` (SIGTERM, SIGINT): stops firing and claiming, fails a running run with
  ``INTERRUPTED_ERROR`` and returns within a few seconds. The run's thread is a daemon
  that dies with the process when it exits; dbt, a child of that thread, gets SIGKILL
  from the kernel then (``PR_SET_PDEATHSIG``), and the next transform ends its
  leftover database sessions. Nothing is half-published: a publish is one transaction.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from ingest import prune_load_packages
from moviemetric.config import Settings
from moviemetric.errors import MovieMetricError
from moviemetric.ops import (
    RUN_KINDS,
    RUN_LOCK_KEY,
    SCHEDULER_LEADER_LOCK_KEY,
    prepare_warehouse,
)
from moviemetric.schedule import CRON_SETTINGS, cron_expressions, cron_trigger
from moviemetric.steps import NullSink, ProgressSink, StepOptions, StepResult, utc_now
from moviemetric.warehouse import Warehouse, redact
from scheduler import chain, queue
from search import SEARCH_DBT_SELECTION

log = logging.getLogger(__name__)

INTERRUPTED_ERROR = "interrupted: the scheduler was stopped while the run was working"

OnStep = Callable[[StepResult], None]
Execute = Callable[[Warehouse, str, OnStep], list[StepResult]]

# The dbt selection of each compute kind: the artifact with everything it is built from,
# and the catalog with the search artifacts built from it (the API joins every
# artifact's movies to the catalog, and the run's index step reads the search
# artifacts). Ancestors only (``+name``), never descendants (``name+``): a descendant
# selection selects tests directly, including singular tests that also read artifacts
# outside the selection (``assert_ratings_within_0_and_10`` reads all four), which then
# fail on a build that lacks them. Transform adds ``--indirect-selection cautious``, so
# each model's tests come with it unless they read a model left out. None of the four
# artifacts has a model built from it but the search ones. Artifacts outside a
# selection are carried over as published (transform's publish copies them in).
_CATALOG_AND_SEARCH = tuple(SEARCH_DBT_SELECTION.split())
COMPUTE_ARTIFACT_MODELS = {
    "trending": "movie_trending_daily",
    "genre-stats": "genre_stats_daily",
    "ratings-by-decade": "ratings_by_decade",
    "recommendations": "movie_recommendations",
}
COMPUTE_SELECTIONS: dict[str, str | None] = {
    **{
        f"compute:{artifact}": " ".join(f"+{name}" for name in (model, *_CATALOG_AND_SEARCH))
        for artifact, model in COMPUTE_ARTIFACT_MODELS.items()
    },
    "compute:all": None,
}


class SchedulerError(MovieMetricError):
    """The schedule or a run kind is wrong; the message says which and how to fix it."""


class StepFailedError(MovieMetricError):
    """A step of a run failed; the run fails with this step's error."""

    def __init__(
        self, step: str, started_at: datetime, ended_at: datetime, cause: BaseException
    ) -> None:
        self.step = step
        self.started_at = started_at
        self.ended_at = ended_at
        self.cause = cause
        super().__init__(f"step {step} failed: {_describe(cause)}")


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, MovieMetricError) else f"{type(exc).__name__}: {exc}"


def steps_for(kind: str) -> tuple[str, ...]:
    """The chain steps a kind of run takes, in chain order (``STEPS`` read now).

    ``index`` is the chain's own index rebuild (``run_index_rebuild``), whose steps
    depend on the search backend: it returns ``()`` for it.
    """
    names = tuple(chain.STEPS)
    if kind in ("ingest", "full-refresh"):
        return names
    if kind in COMPUTE_SELECTIONS:
        return tuple(name for name in names if name != "load")
    if kind == "index":
        return ()
    raise SchedulerError(f"unknown kind of run {kind!r}; known: {', '.join(RUN_KINDS)}")


def options_for(kind: str) -> StepOptions:
    """The step options of a kind of run: full refresh, and the compute kinds' selection."""
    return StepOptions(full_refresh=kind == "full-refresh", select=COMPUTE_SELECTIONS.get(kind))


def run_kind(
    warehouse: Warehouse,
    kind: str,
    sink: ProgressSink = NullSink(),
    on_step: OnStep | None = None,
) -> list[StepResult]:
    """Run the chain for ``kind``; a failure raises ``StepFailedError`` naming the step."""
    steps = steps_for(kind)
    done: list[StepResult] = []
    started_at = utc_now()

    def record(result: StepResult) -> None:
        done.append(result)
        if on_step is not None:
            on_step(result)

    try:
        if kind == "index":
            rebuild = getattr(chain, "run_index_rebuild", None)
            if rebuild is not None:
                return rebuild(warehouse, sink=sink, on_step=record)
            if "index" not in chain.STEPS:
                raise SchedulerError(f"this MovieMetric has no index step: {list(chain.STEPS)}")
            steps = ("index",)
        return chain.run_chain(
            warehouse, steps=steps, options=options_for(kind), sink=sink, on_step=record
        )
    except Exception as exc:
        # the step after the last one that finished (for ``index``: its first, "index")
        if steps:
            failed = steps[min(len(done), len(steps) - 1)]
        else:
            names = [name for name in chain.STEPS if name != "load"]
            after = names.index(done[-1].step) + 1 if done and done[-1].step in names else 0
            failed = names[after] if done and after < len(names) else "index"
        raise StepFailedError(
            failed, done[-1].ended_at if done else started_at, utc_now(), exc
        ) from exc


def latest_fire_time(trigger: BaseTrigger, now: datetime, grace: float) -> datetime | None:
    """The latest fire time of ``trigger`` at or before ``now``, within ``grace`` s."""
    latest = None
    fire = trigger.get_next_fire_time(None, now - timedelta(seconds=grace))
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(None, fire + timedelta(microseconds=1))
    return latest


class SchedulerService:
    """Cron (leader only) plus a worker that runs queued runs; ``start``, then ``stop``."""

    def __init__(
        self,
        warehouse: Warehouse,
        settings: Settings | None = None,
        *,
        execute: Execute | None = None,
        crons: Mapping[str, str | BaseTrigger] | None = None,
        owner: str | None = None,
        poll_seconds: float = 5.0,
        leader_retry_seconds: float = 10.0,
        misfire_grace_seconds: int = 600,
    ) -> None:
        self._warehouse = warehouse
        settings = settings or warehouse.settings
        self._execute: Execute = execute or (
            lambda warehouse, kind, on_step: run_kind(warehouse, kind, NullSink(), on_step)
        )
        self._lease_seconds = settings.run_lease_seconds
        self._retention = timedelta(days=settings.run_retention_days)
        self._poll_seconds = poll_seconds
        self._leader_retry_seconds = leader_retry_seconds
        self._grace = misfire_grace_seconds
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

        if crons is None:
            crons = cron_expressions(settings)
        variables = {kind: variable for kind, (_, variable) in CRON_SETTINGS.items()}
        self._crons: dict[str, tuple[str, BaseTrigger]] = {}
        for kind, cron in crons.items():
            if kind not in RUN_KINDS:
                raise SchedulerError(f"cannot schedule unknown kind of run {kind!r}")
            if isinstance(cron, str):
                trigger = cron_trigger(cron, variables.get(kind, kind))
                self._crons[kind] = (f"cron {cron!r} UTC", trigger)
            else:
                self._crons[kind] = (str(cron), cron)

        self._stopping = threading.Event()
        self._is_leader = threading.Event()
        self._last_prune = 0.0
        self._scheduler = BackgroundScheduler(timezone=UTC)
        for kind, (_, trigger) in self._crons.items():
            self._scheduler.add_job(
                self._fire,
                trigger,
                args=(kind,),
                id=f"cron:{kind}",
                name=f"enqueue {kind}",
                coalesce=True,
                misfire_grace_time=misfire_grace_seconds,
                max_instances=1,
            )
        self._threads: list[threading.Thread] = []

    @property
    def is_leader(self) -> bool:
        return self._is_leader.is_set()

    def describe_schedule(self) -> list[str]:
        """What the service prints at start: its jobs, their next fire times, its role."""
        now = utc_now()
        lines = [f"scheduler {self.owner} on {redact(self._warehouse.url)}"]
        for kind, (description, trigger) in self._crons.items():
            fire = trigger.get_next_fire_time(None, now)
            when = fire.astimezone(UTC).isoformat(timespec="seconds") if fire else "never"
            lines.append(f"  {kind}: {description}, next at {when}")
        lines.append(
            f"  runs: claimed from ops.pipeline_runs, lease {self._lease_seconds} s; "
            f"history kept {self._retention.days} days"
        )
        return lines

    def start(self) -> None:
        """Apply the ops migrations, then start the leader election, cron and the worker."""
        prepare_warehouse(self._warehouse.url)
        for name, target in (("leader", self._lead), ("worker", self._work)):
            thread = threading.Thread(target=target, name=f"scheduler-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._scheduler.start()

    def stop(self, timeout: float = 8.0) -> None:
        """Stop firing and claiming, fail a running run as interrupted; within ``timeout``."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def run_until_signalled(self, echo: Callable[[str], None] = print) -> None:
        """Start, print the schedule, run until SIGTERM or SIGINT, then stop.

        Call from the main thread (signal handlers live there).
        """
        signalled = threading.Event()

        def handle(signum: int, frame: object) -> None:
            signalled.set()

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            for line in self.describe_schedule():
                echo(line)
            # a timed wait, so the main thread returns to Python and runs the handlers
            while not signalled.wait(0.5):
                continue
            echo("scheduler: stopping")
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # cron

    def _fire(self, kind: str) -> None:
        if not self._is_leader.is_set() or self._stopping.is_set():
            return
        _, trigger = self._crons[kind]
        scheduled_for = latest_fire_time(trigger, utc_now(), self._grace)
        try:
            with self._warehouse.connect(autocommit=True) as conn:
                run_id = queue.enqueue(conn, kind, "cron", scheduled_for=scheduled_for)
        except (psycopg.Error, MovieMetricError) as exc:
            log.error("cron: could not enqueue %s: %s", kind, _describe(exc))
            return
        log.info("cron: fired %s for %s: run %d", kind, _iso(scheduled_for), run_id)

    def _catch_up(self, conn: psycopg.Connection) -> None:
        """On taking the lead: queue each job's latest fire time within the grace."""
        now = utc_now()
        for kind, (_, trigger) in self._crons.items():
            scheduled_for = latest_fire_time(trigger, now, self._grace)
            if scheduled_for is not None:
                run_id = queue.enqueue(conn, kind, "cron", scheduled_for=scheduled_for)
                log.info("cron: caught up %s for %s: run %d", kind, _iso(scheduled_for), run_id)

    def _lead(self) -> None:
        conn: psycopg.Connection | None = None
        try:
            while not self._stopping.is_set():
                try:
                    if conn is None:
                        conn = psycopg.connect(
                            self._warehouse.url, autocommit=True, connect_timeout=10
                        )
                    if not self._is_leader.is_set():
                        (locked,) = conn.execute(
                            "select pg_try_advisory_lock(%s)", (SCHEDULER_LEADER_LOCK_KEY,)
                        ).fetchone()
                        if locked:
                            self._is_leader.set()
                            log.info("scheduler %s leads: it fires cron", self.owner)
                            self._catch_up(conn)
                    else:
                        conn.execute("select 1")  # a lost connection has lost the lock
                    if self._is_leader.is_set():
                        self._prune(conn)
                except Exception as exc:  # the warehouse went away, or a bug: retry
                    if self._is_leader.is_set():
                        log.warning("scheduler %s lost the lead: %s", self.owner, _describe(exc))
                    self._is_leader.clear()
                    if conn is not None:
                        conn.close()
                    conn = None
                self._stopping.wait(self._leader_retry_seconds)
        finally:
            self._is_leader.clear()
            if conn is not None:
                conn.close()  # releases the lock

    def _prune(self, conn: psycopg.Connection) -> None:
        if time.monotonic() - self._last_prune < 3600:
            return
        self._last_prune = time.monotonic()
        pruned = queue.prune(conn, self._retention)
        packages = prune_load_packages(self._warehouse.settings, self._retention)
        if pruned or packages:
            log.info(
                "pruned %d runs and %d dlt load packages older than %d days",
                pruned,
                packages,
                self._retention.days,
            )

    # runs

    def _work(self) -> None:
        conn: psycopg.Connection | None = None
        try:
            while not self._stopping.is_set():
                try:
                    if conn is None:
                        conn = psycopg.connect(
                            self._warehouse.url, autocommit=True, connect_timeout=10
                        )
                        queue.listen(conn)
                    if self._claim_and_run(conn):
                        continue  # look for the next run at once
                    self._wait(conn)
                except Exception as exc:  # the warehouse went away, or a bug: retry
                    log.warning("scheduler worker: %s; reconnecting", _describe(exc))
                    if conn is not None:
                        conn.close()
                    conn = None
                    self._stopping.wait(self._poll_seconds)
        finally:
            if conn is not None:
                conn.close()

    def _claim_and_run(self, conn: psycopg.Connection) -> bool:
        """Claim and run one run, if no other replica is running one; True if it ran."""
        (locked,) = conn.execute("select pg_try_advisory_lock(%s)", (RUN_LOCK_KEY,)).fetchone()
        if not locked:
            return False
        try:
            run = queue.claim(conn, self.owner, self._lease_seconds)
            if run is None:
                return False
            self._run(conn, run)
            return True
        finally:
            if not conn.closed:
                conn.execute("select pg_advisory_unlock(%s)", (RUN_LOCK_KEY,))

    def _wait(self, conn: psycopg.Connection) -> None:
        """Until a NOTIFY, the poll interval, or stop (checked every second)."""
        deadline = time.monotonic() + self._poll_seconds
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or queue.wait_for_runs(conn, min(1.0, remaining)):
                return

    def _run(self, conn: psycopg.Connection, run: queue.Run) -> None:
        log.info("run %d (%s, by %s) started", run.id, run.kind, run.requested_by)
        done = threading.Event()
        outcome: dict[str, str | None] = {"error": INTERRUPTED_ERROR}

        def work() -> None:
            try:
                with self._warehouse.connect(autocommit=True) as steps_conn:

                    def on_step(result: StepResult) -> None:
                        queue.record_step(steps_conn, run.id, result)
                        log.info("run %d: %s", run.id, result)

                    try:
                        self._execute(self._warehouse, run.kind, on_step)
                        outcome["error"] = None
                    except StepFailedError as exc:
                        failed = queue.failed_step_record(
                            exc.step, exc.started_at, exc.ended_at, _describe(exc.cause)
                        )
                        queue.record_step(steps_conn, run.id, failed)
                        outcome["error"] = str(exc)
            except BaseException as exc:  # the run fails; the service goes on
                outcome["error"] = _describe(exc)
            finally:
                done.set()

        threading.Thread(target=work, name=f"run-{run.id}", daemon=True).start()
        threading.Thread(
            target=self._renew, args=(run, done), name=f"lease-{run.id}", daemon=True
        ).start()
        while not done.wait(0.2):
            if self._stopping.is_set():
                self._finish(conn, run.id, INTERRUPTED_ERROR)
                log.warning("run %d (%s) %s", run.id, run.kind, INTERRUPTED_ERROR)
                return
        self._finish(conn, run.id, outcome["error"])
        if outcome["error"] is None:
            log.info("run %d (%s) succeeded", run.id, run.kind)
        else:
            log.error("run %d (%s) failed: %s", run.id, run.kind, outcome["error"])

    def _finish(self, conn: psycopg.Connection, run_id: int, error: str | None) -> None:
        """Record the verdict, on a fresh connection if the worker's broke meanwhile."""
        try:
            queue.finish(conn, run_id, error=error)
        except psycopg.OperationalError:
            with self._warehouse.connect(autocommit=True) as fresh:
                queue.finish(fresh, run_id, error=error)

    def _renew(self, run: queue.Run, done: threading.Event) -> None:
        """Renew the lease every third of it until the run ends; a failed renewal retries."""
        while not done.wait(self._lease_seconds / 3) and not self._stopping.is_set():
            try:
                with self._warehouse.connect(autocommit=True) as conn:
                    renewed = queue.renew(conn, run.id, self.owner, self._lease_seconds)
            except (psycopg.Error, MovieMetricError) as exc:
                log.error("run %d: cannot renew its lease: %s", run.id, _describe(exc))
                continue
            if not renewed:
                log.warning("run %d: its lease is no longer %s's", run.id, self.owner)
                return


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "now"

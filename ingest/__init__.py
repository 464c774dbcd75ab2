"""Ingest: TMDB v3 (or the offline sandbox, ``ingest.sandbox``) -> dlt -> ``raw_tmdb``.

Public entry point: ``run_load(warehouse, options, sink) -> StepResult``, the chain's load
step (``moviemetric load``); ``prune_load_packages(settings, older_than)`` for the
scheduler's retention; ``ingest.sandbox`` is the TMDB sandbox. Inside:
``ingest.tmdb`` is the dlt source; ``ingest.ratelimit`` keeps requests under TMDB's rate
limit.

Retry budget (``ingest.retry``): a request answered HTTP 429 or 500/502/503/504, cut
off, timed out, or sent a body that is not JSON is tried at most 5 times, waiting
1, 2, 4 and 8 s in between (a 429's ``Retry-After`` is honoured; no wait is longer than
10 s), so one request waits at most 15 s. A load gives up once the waits of its
retries add up to 60 s within 10 minutes: a source failing half its responses fails
the load after at most 60 s of retry waits plus the requests' own time (each attempt
times out after dlt's ``runtime.request_timeout``, 60 s). Every retry logs one WARNING
line (``ingest.retry``: status, path with secrets masked, attempt, wait); the load then
fails with one error naming the last status and path. dlt's
``RUNTIME__REQUEST_MAX_ATTEMPTS``, ``RUNTIME__REQUEST_BACKOFF_FACTOR`` and
``RUNTIME__REQUEST_MAX_RETRY_DELAY`` override the per-request limits.

Logging: ingest logs through the ``ingest.*`` loggers, and dlt's own logger (``dlt``)
is routed through Python logging with no stderr handler of its own
(``ingest.pipeline.route_dlt_logs``), so the command decides what reaches the
terminal and what only its log file.
"""

from ingest.pipeline import LoadSummary, prune_load_packages, run_load

__all__ = ["LoadSummary", "prune_load_packages", "run_load"]

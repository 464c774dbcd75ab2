"""Prometheus metrics of one app instance (its own registry, so several apps can coexist).

- ``moviemetric_api_requests_total`` and ``moviemetric_api_request_duration_seconds``
  per route template (a mounted app: its mount path), method and status (paths that no
  route matches share one label);
- ``moviemetric_api_cache_hits_total`` / ``..._misses_total`` per layer (l1, redis, memory),
  ``..._cache_errors_total`` per backend;
- ``moviemetric_api_pool_*`` gauges read from the connection pool at scrape time;
- ``moviemetric_api_data_version``: the published version this process serves;
- the pipeline runs, from the view ``ops.pipeline_run_status`` (``api.runs``), read at
  scrape time (at most every few seconds): ``moviemetric_run_last_success_timestamp_seconds``
  per kind, ``moviemetric_run_step_duration_seconds`` per kind and step (its last success),
  ``moviemetric_run_step_failures`` per step (in the retained history; ``stopped``: runs
  that failed between steps, interrupted or with a lapsed lease),
  ``moviemetric_run_queue_depth`` (queued runs) and ``moviemetric_runs_running``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE = "<unmatched>"
# Set by the response cache on a hit, which answers before routing.
ROUTE_SCOPE_KEY = "moviemetric.route"


class PoolStatsCollector(Collector):
    """Size, idle connections and waiting requests of the warehouse pool, read when scraped."""

    _GAUGES = (
        ("pool_size", "moviemetric_api_pool_size", "Connections in the pool, busy or idle."),
        ("pool_available", "moviemetric_api_pool_available", "Idle connections in the pool."),
        ("requests_waiting", "moviemetric_api_pool_waiting", "Requests waiting for a connection."),
    )

    def __init__(self, read_stats: Callable[[], dict[str, int]]) -> None:
        self._read_stats = read_stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self._read_stats()
        for key, name, documentation in self._GAUGES:
            yield GaugeMetricFamily(name, documentation, value=stats.get(key, 0))


class RunsCollector(Collector):
    """The run metrics from the last runs summary read (``api.runs.RunsSummary.value``);
    nothing before the first read."""

    def __init__(self, read_summary: Callable[[], dict[str, Any] | None]) -> None:
        self._read_summary = read_summary

    def collect(self) -> Iterator[GaugeMetricFamily]:
        summary = self._read_summary()
        if summary is None:
            return
        last_success = GaugeMetricFamily(
            "moviemetric_run_last_success_timestamp_seconds",
            "When the last successful run of each kind ended (Unix time).",
            labels=("kind",),
        )
        for kind, ended_at in sorted(summary["last_success"].items()):
            last_success.add_metric((kind,), ended_at.timestamp())
        yield last_success
        durations = GaugeMetricFamily(
            "moviemetric_run_step_duration_seconds",
            "How long each step took in the last run of each kind where it succeeded.",
            labels=("kind", "step"),
        )
        for kind, step, seconds in sorted(summary["step_seconds"]):
            durations.add_metric((kind, step), seconds)
        yield durations
        failures = GaugeMetricFamily(
            "moviemetric_run_step_failures",
            "Failed steps in the retained run history, by step "
            "(stopped: runs that failed between steps, interrupted or with a lapsed lease).",
            labels=("step",),
        )
        for step, count in sorted(summary["step_failures"].items()):
            failures.add_metric((step,), count)
        yield failures
        yield GaugeMetricFamily(
            "moviemetric_run_queue_depth", "Runs queued, not yet claimed.", value=summary["queued"]
        )
        yield GaugeMetricFamily(
            "moviemetric_runs_running", "Runs running now.", value=summary["running"]
        )


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "moviemetric_api_requests_total",
            "HTTP requests by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "moviemetric_api_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ("route", "method", "status"),
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "moviemetric_api_cache_hits_total",
            "Response cache hits by layer.",
            ("layer",),
            registry=self.registry,
        )
        self.cache_misses = Counter(
            "moviemetric_api_cache_misses_total",
            "Response cache misses by layer.",
            ("layer",),
            registry=self.registry,
        )
        self.cache_errors = Counter(
            "moviemetric_api_cache_errors_total",
            "Cache backend failures (the request is served from the warehouse).",
            ("backend",),
            registry=self.registry,
        )
        self.data_version = Gauge(
            "moviemetric_api_data_version",
            "Published data version this process serves (-1: unknown).",
            registry=self.registry,
        )
        self.data_version.set(-1)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def watch_pool(self, read_stats: Callable[[], dict[str, int]]) -> None:
        self.registry.register(PoolStatsCollector(read_stats))

    def watch_runs(self, read_summary: Callable[[], dict[str, Any] | None]) -> None:
        self.registry.register(RunsCollector(read_summary))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        labels = (route, method, status)
        children = self._children.get(labels)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method, str(status)),
            )
            self._children[labels] = children
        children[0].inc()
        children[1].observe(seconds)


class MetricsMiddleware:
    """Pure ASGI: counts and times every HTTP request under its route template.

    FastAPI's own routes put themselves in the scope; other routes (``/openapi.json``) and
    mounted apps (``/lineage``, the docs assets) do not, so the request's path is matched
    against ``routes`` (the app's, as they are when the request ends): a mount is labelled
    with its mount path. A path no route matches shares ``UNMATCHED_ROUTE``.
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        # as received: routing rewrites root_path for a mounted app
        request = {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", "")}

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = route_template(scope)
            if route == UNMATCHED_ROUTE:
                route = self._match(request)
            self.metrics.observe(route, scope["method"], status, time.perf_counter() - started)

    def _match(self, request: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches({**request, "method": "GET"})
            if match is not Match.NONE:
                return getattr(route, "path", UNMATCHED_ROUTE)
        return UNMATCHED_ROUTE


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path", UNMATCHED_ROUTE)
    return scope.get(ROUTE_SCOPE_KEY, UNMATCHED_ROUTE)

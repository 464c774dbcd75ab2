"""The cache's building blocks: the bounded in-process backend, the circuit breaker, and
the single-flight middleware over them."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from api.cache import CachedResponse, CircuitBreaker, MemoryBackend, ResponseCache, etag_for
from api.http_cache import ResponseCacheMiddleware
from api.metrics import ApiMetrics
from api.versions import DataVersionTracker

pytestmark = pytest.mark.anyio


def _response(size: int, marker: str = "x") -> CachedResponse:
    return CachedResponse("/movies", marker.encode() * size)


async def test_memory_backend_evicts_least_recently_used_beyond_its_bound():
    one = _response(400)
    backend = MemoryBackend(max_bytes=3 * one.size)
    for key in ("a", "b", "c"):
        await backend.set(key, _response(400, key), ttl_seconds=60)
    assert (await backend.get("a")).body == b"a" * 400  # now the most recently used
    await backend.set("d", _response(400, "d"), ttl_seconds=60)
    assert await backend.get("b") is None
    for key in "acd":
        assert (await backend.get(key)).body == key.encode() * 400
    assert len(backend) == 3
    await backend.set("huge", _response(10 * one.size), ttl_seconds=60)
    assert await backend.get("huge") is None and len(backend) == 3


async def test_memory_backend_expires_entries_after_their_ttl():
    backend = MemoryBackend(max_bytes=10_000)
    await backend.set("short", _response(10), ttl_seconds=1)
    await backend.set("long", _response(10), ttl_seconds=60)
    time.sleep(1.05)
    assert await backend.get("short") is None
    assert await backend.get("long") is not None


def test_cached_response_round_trips_through_bytes_with_its_etag():
    response = CachedResponse("/movies/{movie_id}", b'{"id": 1, "title": "a\\nb"}\n')
    decoded = CachedResponse.decode(response.encode())
    assert (decoded.route, decoded.body, decoded.etag) == (
        response.route,
        response.body,
        etag_for(response.body),
    )
    assert dict(decoded.hit_headers)[b"content-length"] == str(len(response.body)).encode()


def test_circuit_breaker_skips_then_lets_one_probe_through():
    breaker = CircuitBreaker(retry_seconds=0.05)
    assert breaker.allow()
    breaker.record_failure(ConnectionError("refused"))
    assert breaker.is_open and not breaker.allow()
    assert breaker.last_error == "ConnectionError: refused"
    time.sleep(0.06)
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else keeps skipping while it runs
    breaker.record_success()
    assert not breaker.is_open and breaker.allow() and breaker.allow()


class _LateMissBackend(MemoryBackend):
    """The in-process backend, whose first lookup answers "miss" only when released:
    a read that left before the leader stored the key and came back after it left."""

    def __init__(self) -> None:
        super().__init__(max_bytes=1 << 20)
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()
        self.first = True

    async def get(self, key: str) -> CachedResponse | None:
        if self.first:
            self.first = False
            self.waiting.set()
            await self.release.wait()
            return None
        return await super().get(key)


async def test_a_miss_answered_after_the_leader_left_is_served_from_the_cache():
    app_runs = []

    async def app(scope, receive, send) -> None:
        app_runs.append(scope["path"])
        body = json.dumps({"run": len(app_runs)}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    backend = _LateMissBackend()
    versions = DataVersionTracker("", on_change=lambda version: None)
    versions.cache_namespace = "1"
    cache = ResponseCache(backend, ttl_seconds=60, metrics=ApiMetrics())
    middleware = ResponseCacheMiddleware(app, cache=cache, versions=versions)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        late = asyncio.create_task(client.get("/movies?limit=5"))
        await asyncio.wait_for(backend.waiting.wait(), 10)  # the late lookup is under way
        leader = await asyncio.wait_for(client.get("/movies?limit=5"), 10)
        assert leader.headers["x-cache"] == "miss"
        backend.release.set()
        late_response = await asyncio.wait_for(late, 10)
    assert app_runs == ["/movies"], "the app ran again for a key the leader had stored"
    assert late_response.headers["x-cache"] == "hit"
    assert late_response.content == leader.content

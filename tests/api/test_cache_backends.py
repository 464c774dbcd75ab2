"""The cache's building blocks: the bounded in-process backend and the circuit breaker."""

from __future__ import annotations

import time

import pytest

from api.cache import CachedResponse, CircuitBreaker, MemoryBackend, etag_for

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

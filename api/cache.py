"""The response cache: one interface, two backends, and a bounded in-process L1.

Keys carry the published data version (``api.versions``), so a publish makes every
older entry unreachable at once; entries also expire after ``cache_ttl_seconds``.

- ``RedisBackend`` (REDIS_URL set) is shared by every API replica. Short socket
  timeouts and a circuit breaker keep a down or slow Redis from slowing requests:
  after a failure Redis is skipped for ``REDIS_RETRY_SECONDS``, then one request tries
  it again, and caching resumes by itself once it answers.
- ``MemoryBackend`` is the in-process default, and also the L1 in front of Redis.

A cache failure is never a request failure: the caller serves from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from typing import Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from api.metrics import ApiMetrics
from moviemetric.config import Settings

log = logging.getLogger(__name__)

REDIS_SOCKET_TIMEOUT_SECONDS = 0.25
REDIS_RETRY_SECONDS = 1.0
MEMORY_CACHE_MAX_BYTES = 256 * 1024 * 1024  # the in-process backend, when Redis is not set
L1_MAX_BYTES = 32 * 1024 * 1024  # the in-process layer in front of Redis
CACHE_CONTROL = b"public, max-age=60"
KEY_PREFIX = "moviemetric:api"

_REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def etag_for(body: bytes) -> bytes:
    """A strong ETag: a hash of the response body."""
    return b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'


class CachedResponse:
    """A 200 JSON response as served: body, ETag, ready-made headers, and its route template."""

    __slots__ = ("body", "etag", "hit_headers", "miss_headers", "route")

    def __init__(self, route: str, body: bytes, etag: bytes | None = None) -> None:
        self.route = route
        self.body = body
        self.etag = etag or etag_for(body)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"etag", self.etag),
            (b"cache-control", CACHE_CONTROL),
        ]
        self.hit_headers = [*headers, (b"x-cache", b"hit")]
        self.miss_headers = [*headers, (b"x-cache", b"miss")]

    def encode(self) -> bytes:
        return self.route.encode() + b"\n" + self.etag + b"\n" + self.body

    @classmethod
    def decode(cls, data: bytes) -> CachedResponse:
        route, etag, body = data.split(b"\n", 2)
        return cls(route.decode(), body, etag)

    @property
    def size(self) -> int:
        return len(self.body) + len(self.route) + 128


class CacheBackend(Protocol):
    """What the response cache needs from a store."""

    name: str

    async def get(self, key: str) -> CachedResponse | None: ...

    async def set(self, key: str, response: CachedResponse, ttl_seconds: int) -> None: ...

    async def check(self) -> str | None:
        """None when the backend works, else why it does not."""

    def clear(self) -> None:
        """Forget what this process holds (older versions are unreachable anyway)."""

    async def close(self) -> None: ...


class MemoryBackend:
    """A bounded LRU of responses in this process, with per-entry expiry."""

    def __init__(self, max_bytes: int, name: str = "memory") -> None:
        self.name = name
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, tuple[float, CachedResponse]] = OrderedDict()

    async def get(self, key: str) -> CachedResponse | None:
        found = self._entries.get(key)
        if found is None:
            return None
        expires_at, response = found
        if expires_at < time.monotonic():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return response

    async def set(self, key: str, response: CachedResponse, ttl_seconds: int) -> None:
        if response.size > self._max_bytes:
            return
        if key in self._entries:
            self._remove(key)
        self._entries[key] = (time.monotonic() + ttl_seconds, response)
        self._bytes += response.size
        while self._bytes > self._max_bytes:
            self._remove(next(iter(self._entries)))

    async def check(self) -> str | None:
        return None

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    async def close(self) -> None:
        self.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _remove(self, key: str) -> None:
        _, response = self._entries.pop(key)
        self._bytes -= response.size


class CircuitBreaker:
    """Skip a failing service for ``retry_seconds``; then let one call through to probe it."""

    def __init__(self, retry_seconds: float) -> None:
        self._retry_seconds = retry_seconds
        self._retry_at = 0.0
        self.is_open = False
        self.last_error: str | None = None

    def allow(self) -> bool:
        if not self.is_open:
            return True
        now = time.monotonic()
        if now < self._retry_at:
            return False
        self._retry_at = now + self._retry_seconds  # this caller is the probe; others wait
        return True

    def record_failure(self, error: BaseException) -> None:
        if not self.is_open:
            log.warning("cache backend failed, serving from the warehouse: %s", error)
        self.is_open = True
        self._retry_at = time.monotonic() + self._retry_seconds
        self.last_error = f"{type(error).__name__}: {error}"

    def record_success(self) -> None:
        if self.is_open:
            log.warning("cache backend is back")
        self.is_open = False
        self.last_error = None


class RedisBackend:
    """Responses in Redis, shared by every API replica; failures open the circuit breaker."""

    name = "redis"

    def __init__(self, url: str, metrics: ApiMetrics) -> None:
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )
        self._metrics = metrics
        self.breaker = CircuitBreaker(REDIS_RETRY_SECONDS)

    async def get(self, key: str) -> CachedResponse | None:
        if not self.breaker.allow():
            return None
        try:
            data = await self._client.get(key)
        except _REDIS_FAILURES as exc:
            self._failed(exc)
            return None
        self.breaker.record_success()
        return CachedResponse.decode(data) if data is not None else None

    async def set(self, key: str, response: CachedResponse, ttl_seconds: int) -> None:
        if not self.breaker.allow():
            return
        try:
            await self._client.set(key, response.encode(), ex=ttl_seconds)
        except _REDIS_FAILURES as exc:
            self._failed(exc)
            return
        self.breaker.record_success()

    async def check(self) -> str | None:
        try:
            await self._client.ping()
        except _REDIS_FAILURES as exc:
            self._failed(exc)
            return f"redis unreachable: {type(exc).__name__}: {exc}"
        self.breaker.record_success()
        return None

    def clear(self) -> None:
        """Nothing to do: Redis expires older versions' keys by TTL."""

    async def close(self) -> None:
        await self._client.aclose()

    def _failed(self, exc: BaseException) -> None:
        self._metrics.cache_errors.labels(self.name).inc()
        self.breaker.record_failure(exc)


class ResponseCache:
    """Cache-aside for whole responses: L1 (in-process, optional) in front of one backend."""

    def __init__(
        self,
        backend: CacheBackend,
        *,
        ttl_seconds: int,
        metrics: ApiMetrics,
        l1: MemoryBackend | None = None,
    ) -> None:
        self.backend = backend
        self.l1 = l1
        self.ttl_seconds = ttl_seconds
        layers = [layer.name for layer in (backend, l1) if layer is not None]
        self._hits = {name: metrics.cache_hits.labels(name) for name in layers}
        self._misses = {name: metrics.cache_misses.labels(name) for name in layers}

    @classmethod
    def from_settings(cls, settings: Settings, metrics: ApiMetrics) -> ResponseCache:
        if settings.redis_url:
            return cls(
                RedisBackend(settings.redis_url, metrics),
                ttl_seconds=settings.cache_ttl_seconds,
                metrics=metrics,
                l1=MemoryBackend(L1_MAX_BYTES, name="l1"),
            )
        return cls(
            MemoryBackend(MEMORY_CACHE_MAX_BYTES),
            ttl_seconds=settings.cache_ttl_seconds,
            metrics=metrics,
        )

    @staticmethod
    def key(namespace: str, path: str, query: str) -> str:
        return f"{KEY_PREFIX}:v{namespace}:GET:{path}?{query}"

    async def get(self, key: str) -> CachedResponse | None:
        if self.l1 is not None:
            response = await self.l1.get(key)
            if response is not None:
                self._hits[self.l1.name].inc()
                return response
            self._misses[self.l1.name].inc()
        response = await self.backend.get(key)
        if response is None:
            self._misses[self.backend.name].inc()
            return None
        self._hits[self.backend.name].inc()
        if self.l1 is not None:
            await self.l1.set(key, response, self.ttl_seconds)
        return response

    async def get_local(self, key: str) -> CachedResponse | None:
        """What this process holds under ``key`` (the L1, or the in-process backend), not
        counted as a hit or miss; None with Redis and no L1. A ``set`` of this process is
        found here at once unless the entry was too big for the layer or evicted."""
        local = self.l1 if self.l1 is not None else self.backend
        return await local.get(key) if isinstance(local, MemoryBackend) else None

    async def set(self, key: str, response: CachedResponse) -> None:
        if self.l1 is not None:
            await self.l1.set(key, response, self.ttl_seconds)
        await self.backend.set(key, response, self.ttl_seconds)

    def forget_local(self) -> None:
        """Drop what this process holds; called when the data version changes."""
        if self.l1 is not None:
            self.l1.clear()
        self.backend.clear()

    async def health(self) -> str | None:
        return await self.backend.check()

    async def close(self) -> None:
        if self.l1 is not None:
            await self.l1.close()
        await self.backend.close()

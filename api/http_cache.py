"""Serve cached responses before routing: a pure ASGI middleware over ``ResponseCache``.

For a GET on a cacheable path the key is the published data version (``api.versions``)
+ path + normalized query. A hit is answered with the stored bytes and ETag, without
routing, validation or serialization. A miss goes through the app once (single-flight:
concurrent requests for the same key wait for that one), and a 200 is stored. Every
200 of a cacheable path carries an ETag, and ``If-None-Match`` on it gets a 304.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.cache import CACHE_CONTROL, CachedResponse, ResponseCache
from api.metrics import ROUTE_SCOPE_KEY, route_template
from api.versions import DataVersionTracker

CACHEABLE_PREFIXES = ("/movies", "/search", "/analytics/")
MAX_QUERY_BYTES = 1024  # longer query strings are served, not cached


def normalized_query(query_string: bytes) -> str:
    """The query with its parameters in a stable order, so equal requests share a key."""
    if not query_string:
        return ""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return urlencode(sorted(pairs))


class _QueryNormalizer:
    """``normalized_query`` remembered for the most recent distinct query strings."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._max_entries = max_entries
        self._known: dict[bytes, str] = {}

    def __call__(self, query_string: bytes) -> str:
        normalized = self._known.get(query_string)
        if normalized is None:
            normalized = normalized_query(query_string)
            if len(self._known) >= self._max_entries:
                self._known.clear()
            self._known[query_string] = normalized
        return normalized


def etag_matches(scope: Scope, etag: bytes) -> bool:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            if value.strip() == b"*":
                return True
            candidates = (tag.strip().removeprefix(b"W/") for tag in value.split(b","))
            return etag in candidates
    return False


class ResponseCacheMiddleware:
    def __init__(self, app: ASGIApp, *, cache: ResponseCache, versions: DataVersionTracker) -> None:
        self.app = app
        self.cache = cache
        self.versions = versions
        self._in_flight: dict[str, asyncio.Future[CachedResponse | None]] = {}
        self._normalize = _QueryNormalizer()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(CACHEABLE_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        namespace = self.versions.cache_namespace
        query_string = scope["query_string"]
        if namespace is None or len(query_string) > MAX_QUERY_BYTES:
            await self._serve_uncached(scope, receive, send, key=None)
            return
        key = self.cache.key(namespace, scope["path"], self._normalize(query_string))
        cached = await self.cache.get(key)
        if cached is not None:
            await _send_cached(scope, send, cached, hit=True)
            return
        leader = self._in_flight.get(key)
        if leader is not None:
            cached = await asyncio.shield(leader)
            if cached is not None:
                await _send_cached(scope, send, cached, hit=True)
                return
        await self._serve_uncached(scope, receive, send, key=key)

    async def _serve_uncached(
        self, scope: Scope, receive: Receive, send: Send, key: str | None
    ) -> None:
        """Run the app, buffer its response; store a 200 under ``key`` and wake the waiters."""
        done: asyncio.Future[CachedResponse | None] | None = None
        if key is not None and key not in self._in_flight:
            done = asyncio.get_running_loop().create_future()
            self._in_flight[key] = done
        cached: CachedResponse | None = None
        try:
            if done is not None:
                # a leader of this process may have stored it and left while this
                # request's miss was on its way back: look at what this process holds
                cached = await self.cache.get_local(key)
            if cached is not None:
                hit = True
            else:
                hit = False
                start, body = await self._run_app(scope, receive, send)
                if start["status"] == 200:
                    cached = CachedResponse(route_template(scope), body)
                    if done is not None:
                        await self.cache.set(key, cached)
        finally:
            if done is not None:
                self._in_flight.pop(key, None)
                done.set_result(cached)
        if cached is not None:
            await _send_cached(scope, send, cached, hit=hit)
            return
        await send(start)
        await send({"type": "http.response.body", "body": body})

    async def _run_app(self, scope: Scope, receive: Receive, send: Send) -> tuple[Message, bytes]:
        """The app's response, buffered. If the app fails after answering (FastAPI's error
        handler sends the 500, then re-raises for the server log), that answer is sent."""
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, capture)
        except Exception:
            if start:
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks)})
            raise
        return start, b"".join(chunks)


async def _send_cached(scope: Scope, send: Send, cached: CachedResponse, *, hit: bool) -> None:
    # the metrics label a response not routed by this request with the entry's route
    scope[ROUTE_SCOPE_KEY] = cached.route
    if etag_matches(scope, cached.etag):
        await send(
            {
                "type": "http.response.start",
                "status": 304,
                "headers": [(b"etag", cached.etag), (b"cache-control", CACHE_CONTROL)],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": cached.hit_headers if hit else cached.miss_headers,
        }
    )
    await send({"type": "http.response.body", "body": cached.body})

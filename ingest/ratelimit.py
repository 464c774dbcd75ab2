"""A client-side request-rate limit shared by every thread of a load.

dlt retries 429s after the fact; TMDB asks clients to stay under its rate limit in
the first place (about 40 requests/s per IP), and dlt has no limiter of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

# Refills are floating point: a bucket refilled to 0.9999999999 holds a whole token.
_EPSILON = 1e-9


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``acquire`` blocks for one."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"requests per second must be positive, got {rate!r}")
        self.rate = float(rate)
        self.capacity = float(burst if burst is not None else max(1.0, rate))
        if self.capacity < 1:
            raise ValueError(f"burst must allow at least one request, got {burst!r}")
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1.0 - _EPSILON:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return
                wait = (1.0 - self._tokens) / self.rate
            self._sleep(wait)


class RateLimitedAdapter(HTTPAdapter):
    """An HTTP adapter that takes a token from a shared bucket before every request.

    Mounted under dlt's retrying session, so every attempt (retries included) pays.
    """

    def __init__(self, bucket: TokenBucket, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket

    def send(self, request: PreparedRequest, **kwargs) -> Response:
        self.bucket.acquire()
        return super().send(request, **kwargs)

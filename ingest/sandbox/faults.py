"""Faults the sandbox injects on demand: rate limiting, 5xx, slow and malformed responses.

Decisions are deterministic given ``Faults.seed`` and the order of requests (every
request draws the same number of random values whatever happens to it), except the
per-second rate limit, which by nature depends on the wall clock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, fields

from moviemetric.errors import MovieMetricError

RATE_LIMIT = "rate_limit"
SERVER_ERROR = "server_error"
SLOW = "slow"
MALFORMED = "malformed"
FAULT_KINDS = (RATE_LIMIT, SERVER_ERROR, SLOW, MALFORMED)

SERVER_ERROR_STATUSES = (500, 502, 503)


@dataclass(frozen=True)
class Faults:
    """Which faults to inject. ``Faults()`` injects none.

    rate_limit_burst: every Nth request is refused with HTTP 429.
    rate_limit_per_second: requests beyond N within one wall-clock second get HTTP 429.
    server_error_rate: share of requests answered with HTTP 500, 502 or 503.
    slow_rate / slow_seconds: share of requests delayed by ``slow_seconds``.
    malformed_rate: share of requests answered HTTP 200 with a truncated or broken body.
    """

    seed: int = 0
    rate_limit_burst: int | None = None
    rate_limit_per_second: int | None = None
    server_error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.5
    malformed_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rate_limit_burst", "rate_limit_per_second"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise MovieMetricError(
                    f"Faults.{name} must be a positive integer or None, got {value!r}"
                )
        for name in ("server_error_rate", "slow_rate", "malformed_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise MovieMetricError(f"Faults.{name} must be a share from 0 to 1, got {value!r}")
        if not isinstance(self.slow_seconds, int | float) or self.slow_seconds < 0:
            raise MovieMetricError(
                f"Faults.slow_seconds must be a non-negative number, got {self.slow_seconds!r}"
            )

    @property
    def enabled(self) -> bool:
        return any(
            getattr(self, field.name) != field.default
            for field in fields(self)
            if field.name not in ("seed", "slow_seconds")
        )


@dataclass(frozen=True)
class Decision:
    """What to do to one request: ``fault`` is None, or one of FAULT_KINDS (the
    response-changing one); ``delay`` seconds are waited first in any case."""

    fault: str | None = None
    status: int = 200
    delay: float = 0.0
    cut: float = 0.5  # share of the body a malformed response keeps
    request_number: int = 0


NO_FAULT = Decision()


class FaultInjector:
    """Draws a Decision per request from the current Faults; counts what it injected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.set(Faults())

    def set(self, faults: Faults) -> None:
        if not isinstance(faults, Faults):
            raise MovieMetricError(f"expected a Faults instance, got {faults!r}")
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)
            self._requests = 0
            self._second = 0
            self._in_second = 0

    def decide(self) -> Decision:
        faults = self.faults
        if not faults.enabled:
            return NO_FAULT
        with self._lock:
            self._requests += 1
            number = self._requests
            error_draw, malformed_draw, slow_draw, pick, cut = (
                self._rng.random() for _ in range(5)
            )
            now = int(time.monotonic())
            if now != self._second:
                self._second, self._in_second = now, 0
            self._in_second += 1
            limited = (
                faults.rate_limit_burst is not None and number % faults.rate_limit_burst == 0
            ) or (
                faults.rate_limit_per_second is not None
                and self._in_second > faults.rate_limit_per_second
            )
            delay = faults.slow_seconds if slow_draw < faults.slow_rate else 0.0
            if delay:
                self.counts[SLOW] += 1
            if limited:
                fault, status = RATE_LIMIT, 429
            elif error_draw < faults.server_error_rate:
                fault = SERVER_ERROR
                status = SERVER_ERROR_STATUSES[int(pick * len(SERVER_ERROR_STATUSES))]
            elif malformed_draw < faults.malformed_rate:
                fault, status = MALFORMED, 200
            else:
                fault, status = None, 200
            if fault:
                self.counts[fault] += 1
            return Decision(fault, status, delay, 0.1 + 0.8 * cut, number)

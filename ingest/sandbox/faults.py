"""Faults the sandbox injects on demand: rate limiting, 5xx, slow and malformed responses.

Decisions are deterministic given ``Faults.seed`` and the order of the requests they
apply to (every such request draws the same number of random values whatever happens
to it), except the per-second rate limit, which by nature depends on the wall clock.

``parse_faults`` reads the ``moviemetric sandbox --faults`` spec: comma-separated
NAME=VALUE items, e.g. ``rate_limit=0.1,server_error=0.2,slow=0.05,malformed=0.02``.
The four kinds (``FAULT_KINDS``) take the share of requests they hit, from 0 to 1;
``slow_seconds``, ``rate_limit_every``, ``rate_limit_per_second`` and ``seed`` set the
other ``Faults`` fields.
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

    rate_limit_rate: share of requests refused with HTTP 429 (``Retry-After: 1``).
    rate_limit_burst: every Nth request is refused with HTTP 429.
    rate_limit_per_second: requests beyond N within one wall-clock second get HTTP 429.
    server_error_rate: share of requests answered with HTTP 500, 502 or 503.
    slow_rate / slow_seconds: share of requests delayed by ``slow_seconds``.
    malformed_rate: share of requests answered HTTP 200 with a truncated or broken body.
    routes: route templates (``/movie/{movie_id}``, ...) the faults apply to; all when empty.
    """

    seed: int = 0
    rate_limit_burst: int | None = None
    rate_limit_per_second: int | None = None
    server_error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.5
    malformed_rate: float = 0.0
    rate_limit_rate: float = 0.0
    routes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("rate_limit_burst", "rate_limit_per_second"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise MovieMetricError(
                    f"Faults.{name} must be a positive integer or None, got {value!r}"
                )
        for name in ("server_error_rate", "slow_rate", "malformed_rate", "rate_limit_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise MovieMetricError(f"Faults.{name} must be a share from 0 to 1, got {value!r}")
        if not isinstance(self.slow_seconds, int | float) or self.slow_seconds < 0:
            raise MovieMetricError(
                f"Faults.slow_seconds must be a non-negative number, got {self.slow_seconds!r}"
            )
        if not isinstance(self.routes, tuple) or not all(
            isinstance(route, str) and route.startswith("/") for route in self.routes
        ):
            raise MovieMetricError(
                f"Faults.routes must be a tuple of route templates like '/movie/{{movie_id}}', "
                f"got {self.routes!r}"
            )

    @property
    def enabled(self) -> bool:
        return any(
            getattr(self, field.name) != field.default
            for field in fields(self)
            if field.name not in ("seed", "slow_seconds", "routes")
        )

    def spec(self) -> str:
        """These faults as a ``--faults`` spec (``parse_faults`` reads it back); routes are
        not part of the spec."""
        items = [
            f"{name}={getattr(self, field)}"
            for name, field in _SPEC_FIELDS.items()
            if name != "seed" and getattr(self, field) != _DEFAULTS[field]
        ]
        if items:
            items.append(f"seed={self.seed}")
        return ",".join(items)


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
            # a generator of its own: the other faults of a seed stay as they were
            self._rate_limit_rng = random.Random(f"{faults.seed}:{RATE_LIMIT}")
            self._requests = 0
            self._second = 0
            self._in_second = 0

    def decide(self, route: str | None = None) -> Decision:
        faults = self.faults
        if not faults.enabled or (faults.routes and route not in faults.routes):
            return NO_FAULT
        with self._lock:
            self._requests += 1
            number = self._requests
            error_draw, malformed_draw, slow_draw, pick, cut = (
                self._rng.random() for _ in range(5)
            )
            limit_draw = self._rate_limit_rng.random()
            now = int(time.monotonic())
            if now != self._second:
                self._second, self._in_second = now, 0
            self._in_second += 1
            limited = (
                (faults.rate_limit_burst is not None and number % faults.rate_limit_burst == 0)
                or limit_draw < faults.rate_limit_rate
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


# --faults names -> Faults fields; the four kinds take a share of requests from 0 to 1
_SPEC_FIELDS = {
    RATE_LIMIT: "rate_limit_rate",
    SERVER_ERROR: "server_error_rate",
    SLOW: "slow_rate",
    MALFORMED: "malformed_rate",
    "slow_seconds": "slow_seconds",
    "rate_limit_every": "rate_limit_burst",
    "rate_limit_per_second": "rate_limit_per_second",
    "seed": "seed",
}
_DEFAULTS = {field.name: field.default for field in fields(Faults)}
_SPEC_VALUES = {
    **dict.fromkeys(FAULT_KINDS, "a share from 0 to 1"),
    "slow_seconds": "a number of seconds, 0 or more",
    "rate_limit_every": "a whole number, 1 or more",
    "rate_limit_per_second": "a whole number, 1 or more",
    "seed": "a whole number, 0 or more",
}


def parse_faults(spec: str, option: str = "--faults") -> Faults:
    """``Faults`` from a spec like ``rate_limit=0.1,server_error=0.2,slow=0.05,seed=3``.

    A bad item is refused with a one-line MovieMetricError naming ``option`` and the item.
    """
    values: dict[str, float | int] = {}
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        name, equals, text = (part.strip() for part in item.partition("="))
        if not equals or not name:
            raise MovieMetricError(f"{option}: expected NAME=VALUE, got {item!r}")
        if name not in _SPEC_FIELDS:
            raise MovieMetricError(
                f"{option}: unknown fault {name!r}; use {', '.join(_SPEC_FIELDS)}"
            )
        if _SPEC_FIELDS[name] in values:
            raise MovieMetricError(f"{option}: {name} is given twice")
        values[_SPEC_FIELDS[name]] = _spec_value(name, text, option)
    if not values:
        raise MovieMetricError(
            f"{option}: no faults given; use NAME=VALUE items like server_error=0.2"
        )
    return Faults(**values)


def _spec_value(name: str, text: str, option: str) -> float | int:
    expected = _SPEC_VALUES[name]
    bad = MovieMetricError(f"{option}: {name} must be {expected}, got {text!r}")
    whole = _DEFAULTS[_SPEC_FIELDS[name]] is None or name == "seed"
    try:
        value: float | int = int(text) if whole else float(text)
    except ValueError:
        raise bad from None
    if value != value or value in (float("inf"), float("-inf")):  # nan, inf
        raise bad
    if name in FAULT_KINDS and not 0 <= value <= 1:
        raise bad
    if name in ("rate_limit_every", "rate_limit_per_second") and value < 1:
        raise bad
    if value < 0:
        raise bad
    return value

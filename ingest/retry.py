"""Retries of TMDB requests: what is retried, how often, and the retry budget of a load.

dlt's retrying HTTP client (``dlt.sources.helpers.requests.Client``) retries a request
that got HTTP 429 or 500/502/503/504, a dropped or refused connection, a timeout, or a
2xx body that is not JSON. ``RetryPolicy`` hooks into it to:

- log each retry as one WARNING line of the ``ingest.retry`` logger: the status (or
  the error), the path with its secrets masked, the attempt number and the wait;
- bound the retries of a request: at most ``REQUEST_MAX_ATTEMPTS`` (5) attempts,
  waiting ``REQUEST_BACKOFF_FACTOR`` x 1, 2, 4, 8 s between them (1, 2, 4, 8 s), a
  429's ``Retry-After`` honoured; no wait is longer than ``REQUEST_MAX_RETRY_DELAY``
  (10 s). One request waits at most 15 s in all;
- bound the retries of a whole load: once the waits of its retries add up to
  ``RETRY_BUDGET_SECONDS`` (60 s) within ``RETRY_BUDGET_WINDOW_SECONDS`` (10 minutes),
  the next retryable failure is not retried. A source that fails half its responses
  therefore fails the load after at most 60 s of waiting (plus the time of the
  requests themselves), while a long load with a rare hiccup is not cut short;
- give up the whole load at once: after the first request that gives up, requests
  still waiting for a retry and requests not sent yet are abandoned, so the error
  names that request: its last status (or error) and path.

dlt's ``RUNTIME__REQUEST_MAX_ATTEMPTS``, ``RUNTIME__REQUEST_BACKOFF_FACTOR`` and
``RUNTIME__REQUEST_MAX_RETRY_DELAY`` (or ``[runtime]`` in dlt's config.toml) override
the three request settings; unset, the values above apply, not dlt's own defaults
(dlt waits up to 300 s between two attempts).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dlt
import requests
from dlt.sources.helpers.rest_client.redaction import sanitize_url
from tenacity import RetryCallState

from moviemetric.errors import MovieMetricError

log = logging.getLogger(__name__)

REQUEST_MAX_ATTEMPTS = 5
REQUEST_BACKOFF_FACTOR = 1.0
REQUEST_MAX_RETRY_DELAY = 10.0
RETRY_BUDGET_SECONDS = 60.0
RETRY_BUDGET_WINDOW_SECONDS = 600.0
RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class RetrySettings:
    """How one request is retried (dlt's ``runtime.request_*`` settings)."""

    max_attempts: int = REQUEST_MAX_ATTEMPTS
    backoff_factor: float = REQUEST_BACKOFF_FACTOR
    max_retry_delay: float = REQUEST_MAX_RETRY_DELAY

    @classmethod
    def from_dlt_config(cls) -> RetrySettings:
        """Our defaults, overridden by whatever dlt's config (env, config.toml) sets."""

        def setting(name: str, default: float, kind: Callable[[Any], Any]) -> Any:
            value = dlt.config.get(f"runtime.{name}")
            if value is None:
                return default
            try:
                return kind(value)
            except (TypeError, ValueError):
                raise MovieMetricError(
                    f"dlt setting runtime.{name} (RUNTIME__{name.upper()}) must be a number, "
                    f"got {value!r}"
                ) from None

        settings = cls(
            max_attempts=setting("request_max_attempts", REQUEST_MAX_ATTEMPTS, int),
            backoff_factor=setting("request_backoff_factor", REQUEST_BACKOFF_FACTOR, float),
            max_retry_delay=setting("request_max_retry_delay", REQUEST_MAX_RETRY_DELAY, float),
        )
        if settings.max_attempts < 1 or settings.backoff_factor < 0 or settings.max_retry_delay < 0:
            raise MovieMetricError(
                "dlt's runtime.request_max_attempts must be at least 1 and its "
                f"request_backoff_factor and request_max_retry_delay not negative, got {settings}"
            )
        return settings

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of dlt's ``Client`` for these settings."""
        return {
            "status_codes": RETRY_STATUSES,
            "request_max_attempts": self.max_attempts,
            "request_backoff_factor": self.backoff_factor,
            "request_max_retry_delay": self.max_retry_delay,
            "respect_retry_after_header": True,
        }

    def longest_request_wait(self) -> float:
        """Seconds one request waits at most, over all its retries (Retry-After included)."""
        return sum(
            min(self.max_retry_delay, self.backoff_factor * 2**retry)
            for retry in range(self.max_attempts - 1)
        )


class RetryAbandonedError(MovieMetricError):
    """A request not made or not retried because another request of the load gave up."""


@dataclass(frozen=True)
class GiveUp:
    """The request that made the load give up: its last outcome and why it stopped."""

    outcome: requests.Response | BaseException
    note: str


def display_path(url: str | None) -> str:
    """Path and query of ``url`` with secret parameters (api_key, tokens) masked."""
    if not url:
        return "?"
    parts = urlsplit(sanitize_url(url))
    return parts.path + (f"?{parts.query}" if parts.query else "")


class MalformedResponseError(requests.RequestException):
    """A 2xx response whose body is not JSON; retried like a dropped connection."""


def _outcome(state: RetryCallState) -> tuple[requests.Response | BaseException, str, str | None]:
    """(last outcome, what it was, its URL) of a failed attempt."""
    assert state.outcome is not None
    error = state.outcome.exception()
    if error is None:
        response = state.outcome.result()
        return response, f"HTTP {response.status_code}", response.url
    request = getattr(error, "request", None)
    response = getattr(error, "response", None)
    url = getattr(request, "url", None) or getattr(response, "url", None)
    if isinstance(error, MalformedResponseError):
        return error, "a body that is not JSON", url
    if isinstance(error, requests.HTTPError) and response is not None:  # raise_for_status hooks
        return error, f"HTTP {response.status_code}", url
    return error, type(error).__name__, url


class RetryPolicy:
    """The retry hooks and the retry budget of one load (see the module docstring).

    Thread-safe: every request of the load, in every thread, goes through one policy.
    """

    def __init__(
        self,
        settings: RetrySettings,
        *,
        budget_seconds: float | None = None,
        window_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.budget_seconds = RETRY_BUDGET_SECONDS if budget_seconds is None else budget_seconds
        self.window_seconds = (
            RETRY_BUDGET_WINDOW_SECONDS if window_seconds is None else window_seconds
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._waits: deque[tuple[float, float]] = deque()  # (when, seconds) of each retry
        self._given_up = threading.Event()
        self.gave_up: GiveUp | None = None
        self.retries = 0
        self.waited = 0.0

    def attach(self, session: requests.Session) -> None:
        """Take over the stop, sleep and logging of the retries of ``session`` (a session of
        dlt's ``Client``, whose ``send`` is wrapped by a tenacity ``Retrying``)."""
        retrying = getattr(session.send, "retry", None)
        if retrying is None or not hasattr(retrying, "before_sleep"):
            raise RuntimeError("dlt's retrying session has no tenacity Retrying on send()")
        retrying.stop = self.stop
        retrying.sleep = self.sleep
        retrying.before_sleep = self.before_sleep

    def check_open(self) -> None:
        """Raise before a request is sent once the load has given up."""
        if self.gave_up is not None:
            raise RetryAbandonedError("request not sent: another request of this load gave up")

    def _spent(self, now: float) -> float:
        while self._waits and self._waits[0][0] <= now - self.window_seconds:
            self._waits.popleft()
        return sum(seconds for _, seconds in self._waits)

    def stop(self, state: RetryCallState) -> bool:
        """After a retryable failure: True to give up (the last outcome is the result)."""
        attempt = state.attempt_number
        wait = state.upcoming_sleep
        with self._lock:
            if self.gave_up is not None:
                return True
            spent = self._spent(self._clock())
            if attempt >= self.settings.max_attempts:
                note = f"gave up after {attempt} attempts"
            elif spent + wait > self.budget_seconds:
                note = (
                    f"gave up after attempt {attempt}: this load's retries already waited "
                    f"{spent:.3g} s of their budget of {self.budget_seconds:g} s in "
                    f"{self.window_seconds / 60:g} minutes"
                )
            else:
                self._waits.append((self._clock(), wait))
                self.retries += 1
                self.waited += wait
                return False
            outcome, what, url = _outcome(state)
            self.gave_up = GiveUp(outcome, note)
            self._given_up.set()
        # the load's one error line says it; the log file keeps the moment
        log.info("%s from %s: %s", what, display_path(url), note)
        return True

    def before_sleep(self, state: RetryCallState) -> None:
        _, what, url = _outcome(state)
        log.warning(
            "%s from %s (attempt %d of %d); retrying in %.2g s",
            what,
            display_path(url),
            state.attempt_number,
            self.settings.max_attempts,
            state.upcoming_sleep,
        )

    def sleep(self, seconds: float) -> None:
        """Wait before a retry; wakes up and abandons the retry when the load gives up."""
        if self._given_up.wait(seconds):
            raise RetryAbandonedError("retry abandoned: another request of this load gave up")

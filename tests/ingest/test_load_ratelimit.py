"""The shared token bucket, on a simulated clock (no real waiting, no timing asserts)."""

from __future__ import annotations

import pytest

from ingest.pipeline import SANDBOX_REQUESTS_PER_SECOND, _requests_per_second
from ingest.ratelimit import TokenBucket
from moviemetric.config import Settings


class SimulatedClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


def test_bucket_spends_its_burst_then_paces_at_the_rate() -> None:
    clock = SimulatedClock()
    bucket = TokenBucket(10, burst=5, clock=clock, sleep=clock.sleep)

    for _ in range(5):
        bucket.acquire()
    assert clock.slept == 0.0

    for _ in range(20):
        bucket.acquire()
    assert clock.slept == pytest.approx(2.0)  # 20 more requests at 10/s


def test_idle_time_refills_the_bucket_up_to_its_burst_only() -> None:
    clock = SimulatedClock()
    bucket = TokenBucket(4, burst=2, clock=clock, sleep=clock.sleep)
    for _ in range(2):
        bucket.acquire()

    clock.now += 60.0  # a long pause saves up two tokens, not 240
    for _ in range(3):
        bucket.acquire()
    assert clock.slept == pytest.approx(0.25)


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1, None), (10, 0.5)])
def test_bucket_rejects_settings_that_would_never_send(rate: float, burst) -> None:
    with pytest.raises(ValueError, match="must"):
        TokenBucket(rate, burst)


def test_only_real_tmdb_is_throttled_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMDB_REQUESTS_PER_SECOND", raising=False)
    assert _requests_per_second(Settings()) == SANDBOX_REQUESTS_PER_SECOND
    monkeypatch.setenv("TMDB_API_KEY", "real-key")
    assert _requests_per_second(Settings()) == 40
    monkeypatch.delenv("TMDB_API_KEY")
    monkeypatch.setenv("TMDB_REQUESTS_PER_SECOND", "5")
    assert _requests_per_second(Settings()) == 5

"""The pipeline chain every run follows: load -> transform (build, test, publish).

`moviemetric run` executes it once; the scheduler service runs the same chain on cron.
A failed step stops the chain; published data stays as it was (the transform step
publishes only after every dbt test passed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from moviemetric.config import Settings

STEPS = ("load", "transform")


@dataclass
class StepResult:
    name: str
    seconds: float
    summary: str

    def __str__(self) -> str:
        return f"{self.name}: {self.summary} ({self.seconds:.1f} s)"


@dataclass
class ChainResult:
    steps: list[StepResult] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(str(step) for step in self.steps)


def _load(settings: Settings, full_refresh: bool, progress: bool) -> object:
    from ingest.pipeline import run_load

    return run_load(settings, full_refresh=full_refresh, progress=progress)


def _transform(settings: Settings, full_refresh: bool, progress: bool) -> object:
    from moviemetric.transform import run_transform

    return run_transform(settings, full_refresh=full_refresh)


_STEP_FUNCTIONS: dict[str, Callable[[Settings, bool, bool], object]] = {
    "load": _load,
    "transform": _transform,
}


def run_chain(
    settings: Settings,
    *,
    steps: tuple[str, ...] = STEPS,
    full_refresh: bool = False,
    progress: bool = True,
    on_step: Callable[[StepResult], None] | None = None,
) -> ChainResult:
    """Run ``steps`` in order; the first failure propagates and stops the chain."""
    unknown = [name for name in steps if name not in _STEP_FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown pipeline step(s) {unknown}; known: {list(_STEP_FUNCTIONS)}")
    result = ChainResult()
    for name in steps:
        started = time.perf_counter()
        summary = _STEP_FUNCTIONS[name](settings, full_refresh, progress)
        step = StepResult(name=name, seconds=time.perf_counter() - started, summary=str(summary))
        result.steps.append(step)
        if on_step is not None:
            on_step(step)
    return result

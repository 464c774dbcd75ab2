"""The pipeline chain every run follows: load -> transform (build, test, publish).

`moviemetric run` executes it once; the scheduler service runs the same chain on cron.
Each step is a part's public entry point with one signature (``moviemetric.steps``):
it takes the warehouse handle, the run's options and a progress sink, and returns a
typed ``StepResult``. A failed step raises and stops the chain; published data stays
as it was (the transform publishes only after every dbt test passed).
"""

from __future__ import annotations

from collections.abc import Callable

from ingest import run_load
from moviemetric.steps import NullSink, ProgressSink, StepOptions, StepResult
from moviemetric.warehouse import Warehouse
from transform import run_transform

Step = Callable[[Warehouse, StepOptions, ProgressSink], StepResult]

STEPS: dict[str, Step] = {
    "load": run_load,
    "transform": run_transform,
}


def run_chain(
    warehouse: Warehouse,
    *,
    steps: tuple[str, ...] = tuple(STEPS),
    options: StepOptions = StepOptions(),
    sink: ProgressSink = NullSink(),
    on_step: Callable[[StepResult], None] | None = None,
) -> list[StepResult]:
    """Run ``steps`` in order; the first failure propagates and stops the chain."""
    unknown = [name for name in steps if name not in STEPS]
    if unknown:
        raise ValueError(f"unknown pipeline step(s) {unknown}; known: {list(STEPS)}")
    results = []
    for name in steps:
        result = STEPS[name](warehouse, options, sink)
        results.append(result)
        if on_step is not None:
            on_step(result)
    return results

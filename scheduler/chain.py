"""The pipeline chain every run follows: load -> freshness -> transform -> index -> publish.

`moviemetric run` executes it once; the scheduler service runs the same chain on cron.
Each step is a part's public entry point with one signature (``moviemetric.steps``):
it takes the warehouse handle, the run's options and a progress sink, and returns a
typed ``StepResult``. The freshness step records ``dbt source freshness`` of what the
load left (stale sources are reported, not fatal). The transform builds and tests into
``artifacts__build`` and returns that build as the run's ``Candidate``; the chain
hands it on in the options of the next steps: the index step builds the search index
from it, and the publish swaps the schemas, with the Meilisearch index swap inside the
publish transaction, so the data version (the API cache's key) moves only when the
index of that version is live.

A failed step raises and stops the chain; published data and the live index stay as
they were (nothing is published before every dbt test passed and the index is built).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ingest import run_load
from moviemetric.steps import NullSink, ProgressSink, StepOptions, StepResult
from moviemetric.warehouse import Warehouse
from search import SEARCH_DBT_SELECTION, pending_index_swap, run_index
from transform import run_build, run_freshness, run_publish

Step = Callable[[Warehouse, StepOptions, ProgressSink], StepResult]


def publish_with_index(
    warehouse: Warehouse, options: StepOptions, sink: ProgressSink = NullSink()
) -> StepResult:
    """The publish step: swap in the candidate's schemas and, with Meilisearch, its index."""
    swap = pending_index_swap(warehouse, options.candidate)
    if swap is None:
        return run_publish(warehouse, options, sink)
    with swap:
        return run_publish(warehouse, options, sink, before_commit=swap.swap_in)


STEPS: dict[str, Step] = {
    "load": run_load,
    "freshness": run_freshness,
    "transform": run_build,
    "index": run_index,
    "publish": publish_with_index,
}
TRANSFORM_STEPS = ("transform", "index", "publish")  # `moviemetric transform`


def run_chain(
    warehouse: Warehouse,
    *,
    steps: tuple[str, ...] = tuple(STEPS),
    options: StepOptions = StepOptions(),
    sink: ProgressSink = NullSink(),
    on_step: Callable[[StepResult], None] | None = None,
) -> list[StepResult]:
    """Run ``steps`` in order; the first failure propagates and stops the chain.

    A step's ``candidate`` (the transform's build, then with its index) becomes the
    ``options.candidate`` of the steps after it.
    """
    unknown = [name for name in steps if name not in STEPS]
    if unknown:
        raise ValueError(f"unknown pipeline step(s) {unknown}; known: {list(STEPS)}")
    results = []
    for name in steps:
        result = STEPS[name](warehouse, options, sink)
        results.append(result)
        if result.candidate is not None:
            options = replace(options, candidate=result.candidate)
        if on_step is not None:
            on_step(result)
    return results


def run_index_rebuild(
    warehouse: Warehouse,
    *,
    sink: ProgressSink = NullSink(),
    on_step: Callable[[StepResult], None] | None = None,
) -> list[StepResult]:
    """Rebuild the search index from the published data (`moviemetric index`).

    Meilisearch: a fresh index from the published ``search_documents``, swapped in.
    PostgreSQL: the search artifacts are dbt's, so transform builds them alone (the
    other artifacts are carried over), the index step checks them, and the publish
    makes a new data version of them.
    """
    if warehouse.settings.meili_url:
        return run_chain(warehouse, steps=("index",), sink=sink, on_step=on_step)
    return run_chain(
        warehouse,
        steps=TRANSFORM_STEPS,
        options=StepOptions(select=SEARCH_DBT_SELECTION),
        sink=sink,
        on_step=on_step,
    )

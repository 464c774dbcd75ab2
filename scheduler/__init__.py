"""Scheduler: the chain (load -> freshness -> transform -> index -> publish), once or on cron.

Public entry points: ``run_chain(warehouse, steps=..., options=..., sink=...)``,
``STEPS``, ``TRANSFORM_STEPS`` (transform -> index -> publish) and
``run_index_rebuild(warehouse, sink=...)`` (the search index from the published data);
the service that runs the queue on cron, ``SchedulerService(warehouse, settings)``
(``run_until_signalled`` for ``moviemetric scheduler``), and what each kind of run
does: ``run_kind``, ``steps_for``, ``options_for``, ``COMPUTE_SELECTIONS``.
"""

from scheduler.chain import STEPS, TRANSFORM_STEPS, run_chain, run_index_rebuild
from scheduler.service import (
    COMPUTE_SELECTIONS,
    INTERRUPTED_ERROR,
    SchedulerError,
    SchedulerService,
    StepFailedError,
    options_for,
    run_kind,
    steps_for,
)

__all__ = [
    "COMPUTE_SELECTIONS",
    "INTERRUPTED_ERROR",
    "STEPS",
    "TRANSFORM_STEPS",
    "SchedulerError",
    "SchedulerService",
    "StepFailedError",
    "options_for",
    "run_chain",
    "run_index_rebuild",
    "run_kind",
    "steps_for",
]

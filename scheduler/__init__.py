"""Scheduler: the chain of steps (load -> transform -> index -> publish), once or on cron.

Public entry points: ``run_chain(warehouse, steps=..., options=..., sink=...)``,
``STEPS``, ``TRANSFORM_STEPS`` (transform -> index -> publish) and
``run_index_rebuild(warehouse, sink=...)`` (the search index from the published data).
"""

from scheduler.chain import STEPS, TRANSFORM_STEPS, run_chain, run_index_rebuild

__all__ = ["STEPS", "TRANSFORM_STEPS", "run_chain", "run_index_rebuild"]

"""Scheduler: the chain of steps (load -> transform), run once or on cron.

Public entry point: ``run_chain(warehouse, steps=..., options=..., sink=...)``.
"""

from scheduler.chain import STEPS, run_chain

__all__ = ["STEPS", "run_chain"]

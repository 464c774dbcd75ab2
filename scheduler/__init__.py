"""Scheduler: the load -> transform chain, run once or on cron."""

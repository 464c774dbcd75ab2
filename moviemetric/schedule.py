"""The cron schedule of the runs (docs/design.md section 7), read the same way by the
scheduler, which fires it, and the API, whose ``/health`` judges the data's age by it.

``CRON_SETTINGS`` maps each scheduled kind of run to its setting and variable;
``cron_trigger`` parses one five-field expression in UTC; ``cron_period`` is the
longest gap between its coming fire times.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from moviemetric.config import Settings
from moviemetric.errors import MovieMetricError

# kind of run -> (Settings field, environment variable)
CRON_SETTINGS = {
    "ingest": ("schedule_ingest_cron", "MOVIEMETRIC_SCHEDULE_INGEST"),
    "full-refresh": ("schedule_full_refresh_cron", "MOVIEMETRIC_SCHEDULE_FULL_REFRESH"),
}


class ScheduleError(MovieMetricError):
    """A cron setting is not a cron expression MovieMetric accepts."""


def cron_expressions(settings: Settings) -> dict[str, str]:
    """The configured cron expression of each scheduled kind of run."""
    return {kind: getattr(settings, field) for kind, (field, _) in CRON_SETTINGS.items()}


def cron_trigger(expression: str, variable: str) -> CronTrigger:
    """A five-field crontab in UTC; weekdays by name, never by number.

    APScheduler numbers weekdays from Monday = 0, where cron has Sunday = 0, so
    ``0 4 * * 1`` would silently run on Tuesdays: numbers are refused.
    """
    fields = expression.split()
    if len(fields) == 5 and any(
        char.isdigit() for item in fields[4].split(",") for char in item.split("/")[0]
    ):
        raise ScheduleError(
            f"{variable}={expression!r}: write the weekday by name (mon, tue, ..., sun), "
            "not by number (cron and APScheduler number weekdays differently)"
        )
    try:
        return CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as exc:
        raise ScheduleError(
            f"{variable}={expression!r} is not a cron expression ({exc}); "
            "use five fields in UTC, e.g. '0 2 * * *', and weekday names ('mon')"
        ) from exc


def cron_period(trigger: CronTrigger, now: datetime, fires: int = 8) -> timedelta | None:
    """The longest gap between the next ``fires`` fire times after ``now`` (a schedule
    such as ``0 2 * * mon,thu`` has uneven gaps: the longest is the one to wait for);
    None when the trigger fires fewer than twice more."""
    times: list[datetime] = []
    fire = trigger.get_next_fire_time(None, now)
    while fire is not None and len(times) < fires:
        times.append(fire)
        fire = trigger.get_next_fire_time(None, fire + timedelta(microseconds=1))
    if len(times) < 2:
        return None
    return max(later - earlier for earlier, later in itertools.pairwise(times))

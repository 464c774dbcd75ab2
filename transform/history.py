"""The popularity history in one place: raw snapshots pruned once the fact holds them.

``raw_tmdb.movie_popularity_snapshots`` is where dlt lands each day's snapshots;
``marts.fct_movie_popularity_daily`` is the history (``snapshot_retention_days``, 400
days). After each publish, ``prune_landed_snapshots`` deletes the raw snapshots the
fact already holds that are more than ``raw_snapshot_retention_days`` (45) days older
than its newest day, except each movie's newest snapshot and its newest snapshot with
votes: what ``int_movie_latest_snapshots`` needs to be rebuilt from raw (a removed
movie stays removed; that table, one row per movie, tells which rows those are). So raw
holds a few weeks, enough for an analyst's ``dev`` build of every artifact, and a year
of history is stored once.

Only rows the fact holds go: every raw snapshot loaded no later than the fact's newest
day was read by the build that made that day (the fact reads what was loaded since).
The prune runs after the publish, in its own transaction: a build that failed prunes
nothing, and a prune that fails leaves the publish in place (the next one catches up).
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

from moviemetric.warehouse import INTERMEDIATE_SCHEMA, MARTS_SCHEMA, RAW_SCHEMA, SNAPSHOTS_TABLE

log = logging.getLogger(__name__)

HISTORY_TABLE = "fct_movie_popularity_daily"
LATEST_TABLE = "int_movie_latest_snapshots"
RETENTION_VAR = "raw_snapshot_retention_days"

_PRUNE = """
with newest_day as (
    select max(snapshot_date) as snapshot_date from {history}
),

landed as (
    -- the newest day's load: everything loaded until then is in the history
    select
        max(history.loaded_at) as loaded_at,
        max(history.snapshot_date) - {days} as keep_from
    from {history} as history
    inner join newest_day on history.snapshot_date = newest_day.snapshot_date
)

delete from {raw} as old
using landed
where
    old.snapshot_date < landed.keep_from
    and old._loaded_at <= landed.loaded_at
    -- kept: the movie's newest snapshot, and its newest snapshot with votes (one row
    -- per movie in the latest snapshots, which the same build brought up to date)
    and exists (
        select
        from {latest} as latest
        where
            latest.movie_id = old.id
            and latest.last_exported_on > old.snapshot_date
            and (old.vote_count is null or latest.votes_snapshot_date > old.snapshot_date)
    )
"""


def raw_retention_days(project_dir: Path) -> int:
    """``raw_snapshot_retention_days`` of the dbt project (dbt_project.yml's vars),
    which the fact's build checks against ``history_days`` and the fact's retention."""
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text())
    return int(project["vars"][RETENTION_VAR])


def prune_landed_snapshots(conn: psycopg.Connection, keep_days: int) -> int:
    """Delete the raw snapshots the history holds, older than ``keep_days`` before its
    newest day (each movie's newest, and newest with votes, stay); the rows deleted.
    Nothing without the tables (a warehouse never built)."""
    tables = (
        f"{RAW_SCHEMA}.{SNAPSHOTS_TABLE}",
        f"{MARTS_SCHEMA}.{HISTORY_TABLE}",
        f"{INTERMEDIATE_SCHEMA}.{LATEST_TABLE}",
    )
    for table in tables:
        if not conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]:
            return 0
    statement = sql.SQL(_PRUNE).format(
        history=sql.Identifier(MARTS_SCHEMA, HISTORY_TABLE),
        raw=sql.Identifier(RAW_SCHEMA, SNAPSHOTS_TABLE),
        latest=sql.Identifier(INTERMEDIATE_SCHEMA, LATEST_TABLE),
        days=sql.Literal(keep_days),
    )
    deleted = conn.execute(statement).rowcount
    conn.commit()
    log.info("pruned %s landed snapshots from %s", deleted, tables[0])
    return deleted

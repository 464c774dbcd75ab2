"""Later loads: fresh snapshots without fresh details, and snapshots ahead of details.

After the backfill the loader re-fetches details only for changed movies but loads a
snapshot of every dated movie each day. These tests load such days into a database
of their own (they publish new versions, which the shared warehouse must not see).
The first test checks that rule against the sandbox: a backfill of a day and an
incremental load of the same day hold the same raw content.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ingest.sandbox import Sandbox
from ingest.sandbox.catalog import DAILY_FIELDS
from moviemetric.warehouse import open_warehouse
from tests.conftest import create_database, drop_database
from tests.sandbox_loads import load_sandbox
from tests.warehouse.conftest import Warehouse, warehouse_settings
from tests.warehouse.raw_fixture import RawCatalog, load_raw, make_catalog
from transform import run_transform

MIN_VOTES = 10
LATE_MOVIE_ID = 999_999  # snapshotted a day before its details are loaded


# A day on which a movie's status changes (its release date comes within 120 days) and
# nothing else about it does: before /movie/changes listed status changes, an incremental
# load of this day kept the movie's status of the day before.
SANDBOX_MOVIES, SANDBOX_SEED, SANDBOX_DAY = 1000, 7, date(2026, 1, 15)


def _raw_rows(url: str, table: str, where: str = "", *, drop: tuple[str, ...] = ()) -> list:
    """Rows of raw_tmdb.``table`` by content: every column but when and by which load a
    row was written (and ``drop``), sorted."""
    with psycopg.connect(url) as conn:
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'raw_tmdb' and table_name = %s order by column_name",
                (table,),
            )
            if name != "_loaded_at" and not name.startswith("_dlt_") and name not in drop
        ]
        assert columns, f"raw_tmdb.{table} does not exist"
        statement = sql.SQL("select {columns} from raw_tmdb.{table} {where}").format(
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            table=sql.Identifier(table),
            where=sql.SQL(where),
        )
        return sorted(conn.execute(statement).fetchall(), key=repr)


def test_an_incremental_load_of_a_day_holds_what_a_backfill_of_that_day_holds(
    make_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    day, previous = SANDBOX_DAY, SANDBOX_DAY - timedelta(days=1)
    backfilled, incremental = make_database(), make_database()
    with Sandbox(movies=SANDBOX_MOVIES, seed=SANDBOX_SEED, catalog_date=day) as sandbox:
        catalog = sandbox.catalog
        load_sandbox(monkeypatch, sandbox, backfilled, tmp_path / "backfilled")
    with Sandbox(movies=SANDBOX_MOVIES, seed=SANDBOX_SEED, catalog_date=previous) as sandbox:
        load_sandbox(monkeypatch, sandbox, incremental, tmp_path / "incremental")
        sandbox.advance(days=1)
        sandbox.reset_counts()
        load_sandbox(monkeypatch, sandbox, incremental, tmp_path / "incremental")
        refetched = sandbox.request_counts["/movie/{movie_id}"]

    # the day is one the test is about: some dated movie's status changed overnight
    dated = catalog.catalog_ids(day)
    before = {m["id"]: m for m in catalog.movies_on(previous) if m["id"] in dated}
    after = {m["id"]: m for m in catalog.movies_on(day) if m["id"] in dated}
    assert any(after[i]["status"] != before[i]["status"] for i in before)
    assert 0 < refetched < len(dated) / 5, "the second load should be incremental"

    # every field of the details but the daily ones, and the genres and keywords
    assert _raw_rows(incremental, "movies", drop=DAILY_FIELDS) == _raw_rows(
        backfilled, "movies", drop=DAILY_FIELDS
    )
    assert len(_raw_rows(backfilled, "movies")) == len(dated)
    for table in ("movies__genres", "movies__keywords", "genres"):
        assert _raw_rows(incremental, table) == _raw_rows(backfilled, table), table
    # the daily fields: the incremental load has the day's values in the day's snapshots
    of_the_day = f"where snapshot_date = '{day.isoformat()}'"
    assert _raw_rows(incremental, "movie_popularity_snapshots", of_the_day) == _raw_rows(
        backfilled, "movie_popularity_snapshots", of_the_day
    )
    daily = sql.SQL(", ").join(map(sql.Identifier, ("id", *DAILY_FIELDS)))
    with psycopg.connect(backfilled) as conn:
        details = conn.execute(
            sql.SQL("select {} from raw_tmdb.movies order by id").format(daily)
        ).fetchall()
    with psycopg.connect(incremental) as conn:
        snapshots = conn.execute(
            sql.SQL(
                "select {} from raw_tmdb.movie_popularity_snapshots"
                " where snapshot_date = %s order by id"
            ).format(daily),
            (day,),
        ).fetchall()
    assert snapshots == details
    trending = f"where trend_date = '{day.isoformat()}'"
    assert _raw_rows(incremental, "trending_movies", trending) == _raw_rows(
        backfilled, "trending_movies", trending
    )


@pytest.fixture(scope="module")
def later_days(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """40 movies with 3 days of snapshots, published once."""
    name, url = create_database("mm_later")
    root = tmp_path_factory.mktemp("later_days")
    try:
        catalog = make_catalog(movies=40, days=3, seed=11)
        load_raw(url, catalog, root / "dlt")
        settings = warehouse_settings(url, root / "home")
        run_transform(open_warehouse(settings))
        yield Warehouse(url, settings, catalog, root / "dlt")
    finally:
        drop_database(name)


def _next_day(catalog: RawCatalog) -> tuple[datetime, object]:
    day = max(row["snapshot_date"] for row in catalog.snapshots) + timedelta(days=1)
    return datetime(day.year, day.month, day.day, 3, tzinfo=UTC), day


def test_newer_snapshot_updates_votes_when_details_did_not_change(later_days):
    catalog = copy.deepcopy(later_days.catalog)
    movie = next(m for m in catalog.movies if not m["adult"] and m["vote_count"] < MIN_VOTES)
    movie_id = movie["id"]
    assert later_days.query(
        "select is_rated from marts.dim_movies where movie_id = %s", (movie_id,)
    ) == [(False,)]
    loaded_at, day = _next_day(catalog)
    popularity, vote_average, vote_count = movie["popularity"] + 321.5, 7.25, MIN_VOTES + 15
    # the next day: a snapshot of the movie, no new details
    catalog.snapshots.append(
        {
            "id": movie_id,
            "snapshot_date": day,
            "popularity": popularity,
            "vote_average": vote_average,
            "vote_count": vote_count,
            "_loaded_at": loaded_at,
        }
    )
    later_days.load(catalog)

    run_transform(open_warehouse(later_days.settings))

    # the details in raw_tmdb still say the old values
    assert later_days.query(
        "select popularity, vote_average, vote_count from raw_tmdb.movies where id = %s",
        (movie_id,),
    ) == [(movie["popularity"], movie["vote_average"], movie["vote_count"])]
    assert later_days.query(
        "select popularity, vote_average, vote_count, is_rated from marts.dim_movies"
        " where movie_id = %s",
        (movie_id,),
    ) == [(popularity, vote_average, vote_count, True)]
    assert later_days.query(
        "select popularity, vote_average, vote_count from artifacts.search_documents"
        " where movie_id = %s",
        (movie_id,),
    ) == [(popularity, vote_average, vote_count)]
    # movies without a snapshot that day keep their latest earlier snapshot's votes
    other = next(m for m in catalog.movies if not m["adult"] and m["id"] != movie_id)
    latest_other = max(
        (row for row in catalog.snapshots if row["id"] == other["id"]),
        key=lambda row: row["snapshot_date"],
    )
    assert later_days.query(
        "select vote_count, is_rated from marts.dim_movies where movie_id = %s", (other["id"],)
    ) == [(latest_other["vote_count"], latest_other["vote_count"] >= MIN_VOTES)]


def test_snapshot_ahead_of_its_details_is_kept_and_counts_once_they_arrive(later_days):
    catalog = copy.deepcopy(later_days.catalog)
    loaded_at, day = _next_day(catalog)
    catalog.snapshots.append(
        {
            "id": LATE_MOVIE_ID,
            "snapshot_date": day,
            "popularity": 5000.0,
            "vote_average": 8.0,
            "vote_count": 400,
            "_loaded_at": loaded_at,
        }
    )
    later_days.load(catalog)

    summary = run_transform(
        open_warehouse(later_days.settings)
    )  # the relationships test only warns

    assert later_days.query(
        "select popularity from marts.fct_movie_popularity_daily"
        " where movie_id = %s and snapshot_date = %s",
        (LATE_MOVIE_ID, day),
    ) == [(5000.0,)]
    for table in ("movie_trending_daily", "search_documents"):
        assert not later_days.query(
            f"select 1 from artifacts.{table} where movie_id = %s", (LATE_MOVIE_ID,)
        )
    movie_count_on_day = later_days.query(
        "select sum(movie_count) from artifacts.genre_stats_daily where stat_date = %s", (day,)
    )

    # the next load brings the details (and no new snapshot)
    details = copy.deepcopy(next(m for m in catalog.movies if m["genres"]))
    details.update(
        id=LATE_MOVIE_ID,
        adult=False,
        _loaded_at=loaded_at + timedelta(hours=1),
        genres=[{**genre, "movie_id": LATE_MOVIE_ID} for genre in details["genres"]],
        keywords=[{**keyword, "movie_id": LATE_MOVIE_ID} for keyword in details["keywords"]],
    )
    catalog.movies.append(details)
    later_days.load(catalog)

    second = run_transform(open_warehouse(later_days.settings))

    assert second.version == summary.version + 1
    # the incremental fact never dropped the early snapshot: every snapshot is in it once
    assert later_days.query("select count(*) from marts.fct_movie_popularity_daily") == (
        later_days.query("select count(*) from raw_tmdb.movie_popularity_snapshots")
    )
    assert later_days.query(
        "select rank, popularity from artifacts.movie_trending_daily"
        " where movie_id = %s and trend_date = %s",
        (LATE_MOVIE_ID, day),
    ) == [(1, 5000.0)]
    assert later_days.query(
        "select sum(movie_count) from artifacts.genre_stats_daily where stat_date = %s", (day,)
    ) == [(movie_count_on_day[0][0] + len(details["genres"]),)]
    # popularity is the snapshot's; the votes are the newer load's: the details came later
    assert details["vote_count"] != 400
    assert later_days.query(
        "select popularity, vote_count from artifacts.search_documents where movie_id = %s",
        (LATE_MOVIE_ID,),
    ) == [(5000.0, details["vote_count"])]

    # a build with no new load changes nothing in the fact (idempotent)
    before = later_days.query(
        "select * from marts.fct_movie_popularity_daily order by movie_id, snapshot_date"
    )
    run_transform(open_warehouse(later_days.settings))
    assert (
        later_days.query(
            "select * from marts.fct_movie_popularity_daily order by movie_id, snapshot_date"
        )
        == before
    )

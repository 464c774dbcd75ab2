"""`moviemetric export` / `moviemetric import` (moviemetric/transfer.py) on real PostgreSQL.

One published warehouse for the module, made the production way (the TMDB sandbox ->
the loader for 2 days -> dbt build and publish), exported once; every test imports that
file (or a damaged copy) into fresh databases of the test server (PostgreSQL 15) or of
the embedded server (PostgreSQL 18).
"""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

import search
from api.main import create_app
from ingest import run_load
from ingest.sandbox import Sandbox
from moviemetric.cli import app as cli_app
from moviemetric.config import Settings, get_settings
from moviemetric.ops import MIGRATIONS, SCHEMA_VERSION, data_version, prepare_warehouse
from moviemetric.steps import StepResult, utc_now
from moviemetric.transfer import (
    INTERRUPTED_RUN_ERROR,
    TransferError,
    export_warehouse,
    find_client,
    import_warehouse,
)
from moviemetric.warehouse import open_warehouse
from tests.api.conftest import running
from tests.api.published_dataset import CATALOG_DATE, publish_sandbox_dataset
from tests.conftest import create_database, drop_database

MOVIES, DAYS, SEED = 300, 2, 7


@dataclass(frozen=True)
class Exported:
    url: str  # the warehouse exported
    file: Path
    seconds: float


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    name, url = create_database("mm_export")
    root = tmp_path_factory.mktemp("transfer")
    try:
        publish_sandbox_dataset(url, root / "home", movies=MOVIES, days=DAYS, seed=SEED)
        with psycopg.connect(url) as conn:  # a run the export catches unfinished
            conn.execute(
                "insert into ops.pipeline_runs (kind, requested_by) values ('index', 'cli')"
            )
        warehouse = open_warehouse(Settings(database_url=url, moviemetric_home=root / "home"))
        result = export_warehouse(warehouse, root / "warehouse.dump")
        yield Exported(url=url, file=result.path, seconds=result.seconds)
    finally:
        drop_database(name)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _warehouse(url: str, home: Path | None = None) -> object:
    return open_warehouse(
        Settings(database_url=url, moviemetric_home=home or get_settings().home_dir)
    )


def _contents(url: str) -> dict[str, object]:
    """Every user schema's tables with their rows (sorted), and the data version."""
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema not in ('pg_catalog', 'information_schema')"
            " and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        contents: dict[str, object] = {}
        for schema, table in tables:
            rows = conn.execute(
                sql.SQL("select * from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            ).fetchall()
            contents[f"{schema}.{table}"] = sorted(rows, key=repr)
        contents["schemas"] = [
            name
            for (name,) in conn.execute(
                "select nspname from pg_namespace where nspname not like 'pg\\_%'"
                " and nspname <> 'information_schema' order by 1"
            )
        ]
    return contents


def _exported_tables(contents: dict[str, object]) -> dict[str, object]:
    return {
        name: rows
        for name, rows in contents.items()
        if name.split(".")[0] in ("raw_tmdb", "marts", "artifacts")
        or name in ("ops.data_version", "ops.schema_migrations")
    }


async def _bodies(url: str) -> dict[str, object]:
    """The API's answers to a set of endpoints, the ids and words taken from the data."""
    async with running(create_app(Settings(database_url=url, redis_url=None))) as client:
        movies = (await client.get("/movies?limit=5")).json()["items"]
        trending = (await client.get("/movies/trending")).json()["items"]
        word = movies[0]["title"].split()[0]
        paths = [
            "/movies",
            "/movies?sort=-votes&limit=20",
            f"/movies/{movies[0]['id']}",
            f"/movies/{trending[0]['id']}",
            f"/movies/{trending[0]['id']}/recommendations",
            "/movies/trending",
            "/analytics/top-genres",
            "/analytics/genre-stats",
            "/analytics/ratings-by-decade",
            f"/search?q={word}",
            f"/search?q={word[:3]}&limit=5",
        ]
        bodies: dict[str, object] = {}
        for path in paths:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text)
            bodies[path] = response.json()
        return bodies


@pytest.mark.anyio
async def test_an_import_serves_the_same_data_version_rows_and_responses(
    exported: Exported, make_database
) -> None:
    target = make_database()

    started = time.monotonic()
    result = import_warehouse(_warehouse(target), exported.file)
    seconds = time.monotonic() - started

    print(
        f"\nexport {exported.seconds:.2f} s, import {seconds:.2f} s,"
        f" {exported.file.stat().st_size / 1e6:.2f} MB ({MOVIES} movies, {DAYS} days)"
    )
    source, imported = _contents(exported.url), _contents(target)
    assert _exported_tables(imported) == _exported_tables(source)
    assert result.data_version == imported["ops.data_version"][0][0] > 0
    assert set(imported["schemas"]) >= {"raw_tmdb", "marts", "artifacts", "ops"}
    # the popularity history, which raw keeps only weeks of, travels in marts
    assert imported["marts.fct_movie_popularity_daily"]
    assert "raw_tmdb._dlt_pipeline_state" in imported
    # the run the export caught queued is closed, not run again on the new machine
    runs = {row[1]: row for row in imported["ops.pipeline_runs"]}
    assert runs["index"][2] == "failed" and runs["index"][10] == INTERRUPTED_RUN_ERROR
    # the API answers as itself (set role moviemetric_api): the grants hold
    assert await _bodies(target) == await _bodies(exported.url)


def test_loads_continue_incrementally_after_an_import(exported: Exported, make_database, tmp_path):
    target = make_database()
    import_warehouse(_warehouse(target), exported.file)

    with Sandbox(movies=MOVIES, seed=SEED, catalog_date=CATALOG_DATE + timedelta(days=DAYS)) as box:
        settings = Settings(
            database_url=target,
            moviemetric_home=tmp_path / "new-machine",  # no local dlt state: it comes from raw_tmdb
            redis_url=None,
            tmdb_base_url=box.base_url,
            tmdb_exports_url=box.exports_url,
            tmdb_api_key=box.api_key,
            tmdb_access_token=None,
            tmdb_requests_per_second=1000,
        )
        result = run_load(open_warehouse(settings))

    assert result.details["backfill"] is False, result.summary
    assert result.details["details"] < MOVIES


def test_a_warehouse_that_is_not_empty_is_refused_and_unchanged(exported: Exported, make_database):
    target = make_database()
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("create schema marts")
        conn.execute("create table marts.dim_movies (movie_id bigint)")
    before = _contents(target)

    with pytest.raises(TransferError, match=r"not empty: it holds schema marts \(1 tables\)"):
        import_warehouse(_warehouse(target), exported.file)

    assert _contents(target) == before
    # the warehouse exported from, too
    source = _contents(exported.url)
    with pytest.raises(TransferError, match=r"not empty: .*schema artifacts .*schema raw_tmdb"):
        import_warehouse(_warehouse(exported.url), exported.file)
    assert _contents(exported.url) == source


def test_a_prepared_unused_ops_schema_counts_as_empty(exported: Exported, make_database):
    """What the deploy bootstrap or the scheduler make before a first run is replaced."""
    target = make_database()
    prepare_warehouse(target)

    result = import_warehouse(_warehouse(target), exported.file)

    assert result.data_version == data_version_of(exported.url)
    assert "ops__before_import" not in _contents(target)["schemas"]


def data_version_of(url: str) -> int:
    with psycopg.connect(url) as conn:
        return data_version(conn)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        # its table of contents is whole, its ops rows are gone: refused before restoring
        ("cut at two thirds", r"reading ops\.schema_migrations from .* failed: .*corrupt"),
        # everything checks out until the restore reaches the cut: rolled back
        ("cut 1% short", r"restoring .* \(nothing was restored\) failed: .*end of file"),
        ("not an archive", r"reading .*damaged\.dump \(pg_restore --list\) failed"),
    ],
    ids=["cut-at-two-thirds", "cut-1pct-short", "not-an-archive"],
)
def test_a_damaged_file_is_refused_and_the_target_unchanged(
    exported: Exported, make_database, tmp_path, damage: str, expected: str
):
    target = make_database()
    prepare_warehouse(target)  # a prepared ops schema is set aside and must come back
    before = _contents(target)
    damaged = tmp_path / "damaged.dump"
    data = exported.file.read_bytes()
    if damage == "cut at two thirds":
        # where the ops rows sit in the archive depends on the data's size: cut at the
        # first of these points that falls in them (every cut must be refused cleanly)
        for numerator, denominator in ((2, 3), (1, 2), (3, 4), (1, 3), (5, 6), (1, 4)):
            damaged.write_bytes(data[: len(data) * numerator // denominator])
            with pytest.raises(TransferError) as refused:
                import_warehouse(_warehouse(target), damaged)
            assert _contents(target) == before
            if re.search(expected, str(refused.value)):
                break
    elif damage == "cut 1% short":
        damaged.write_bytes(data[: len(data) * 99 // 100])
    else:
        damaged.write_bytes(b"PGDMP not really" + bytes(range(256)) * 40)

    with pytest.raises(TransferError, match=expected):
        import_warehouse(_warehouse(target), damaged)

    assert _contents(target) == before


def test_a_file_from_a_newer_moviemetric_is_refused(make_database, tmp_path):
    source, target = make_database(), make_database()
    prepare_warehouse(source)
    with psycopg.connect(source) as conn:
        conn.execute(
            "insert into ops.schema_migrations (version, name) values (%s, 'from the future')",
            (SCHEMA_VERSION + 1,),
        )
    file = export_warehouse(_warehouse(source), tmp_path / "future.dump").path

    with pytest.raises(
        TransferError,
        match=rf"ops schema version {SCHEMA_VERSION + 1}, newer than this MovieMetric knows "
        rf"\({SCHEMA_VERSION}\)",
    ):
        import_warehouse(_warehouse(target), file)

    assert _contents(target)["schemas"] == ["public"]


def test_a_file_from_an_older_moviemetric_is_migrated_forward(make_database, tmp_path):
    source, target = make_database(), make_database()
    with psycopg.connect(source) as conn:  # a warehouse of MovieMetric with migrations 1, 2
        conn.execute("create schema ops")
        conn.execute(
            "create table ops.schema_migrations (version int primary key, name text not null,"
            " applied_at timestamptz not null default now())"
        )
        for migration in MIGRATIONS[:2]:
            migration.apply(conn)
            conn.execute(
                "insert into ops.schema_migrations (version, name) values (%s, %s)",
                (migration.number, migration.name),
            )
    file = export_warehouse(_warehouse(source), tmp_path / "old.dump").path

    result = import_warehouse(_warehouse(target), file)

    assert result.schema_version == 2
    with psycopg.connect(target) as conn:
        versions = [v for (v,) in conn.execute("select version from ops.schema_migrations")]
        assert sorted(versions) == [m.number for m in MIGRATIONS]
        assert conn.execute("select to_regclass('ops.pipeline_runs')").fetchone()[0]


def test_server_majors_newer_is_accepted_older_is_refused(exported: Exported, make_database):
    """The embedded server (PostgreSQL 18) takes the PostgreSQL 15 export; its own export
    cannot go back into PostgreSQL 15."""
    embedded = open_warehouse(get_settings())  # DATABASE_URL unset: the embedded server
    with psycopg.connect(embedded.url) as conn:
        (major,) = conn.execute(
            "select current_setting('server_version_num')::int / 10000"
        ).fetchone()
    assert major >= 18

    result = import_warehouse(embedded, exported.file)

    assert result.server_major == major
    assert result.data_version == data_version_of(exported.url)
    assert _exported_tables(_contents(embedded.url)) == _exported_tables(_contents(exported.url))

    newer = export_warehouse(embedded, get_settings().home_dir / "pg18.dump")
    target = make_database()
    with pytest.raises(
        TransferError,
        match=rf"exported from PostgreSQL {major}; this warehouse is PostgreSQL 15",
    ):
        import_warehouse(_warehouse(target), newer.path)
    assert _contents(target)["schemas"] == ["public"]


def _fake_client(folder: Path, name: str, major: int) -> None:
    folder.mkdir(parents=True)
    program = folder / name
    program.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {major}.3'\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)


def test_the_client_of_the_servers_major_is_chosen_else_the_oldest_newer_one(tmp_path):
    for major in (14, 17, 16):
        _fake_client(tmp_path / str(major), "pg_dump", major)
    dirs = [tmp_path / "17", tmp_path / "14", tmp_path / "16"]

    assert find_client("pg_dump", 16, dirs) == tmp_path / "16" / "pg_dump"
    assert find_client("pg_dump", 15, dirs) == tmp_path / "16" / "pg_dump"
    with pytest.raises(TransferError, match=r"pg_dump of PostgreSQL 18 or newer is needed.*14 \("):
        find_client("pg_dump", 18, dirs)


def test_the_commands_export_and_import_and_rebuild_meilisearch(
    exported: Exported, make_database, tmp_path, monkeypatch
):
    calls: list[object] = []

    def run_index(warehouse, options=None, sink=None):
        calls.append(warehouse)
        now = utc_now()
        return StepResult(step="index", started_at=now, ended_at=now, summary="rebuilt")

    monkeypatch.setattr(search, "run_index", run_index)
    file, target = tmp_path / "cli.dump", make_database()
    runner = CliRunner()

    exported_run = runner.invoke(cli_app, ["export", str(file)], env={"DATABASE_URL": exported.url})
    assert exported_run.exit_code == 0, exported_run.output
    assert f"exported {file}" in exported_run.output
    assert calls == []

    get_settings.cache_clear()
    env = {"DATABASE_URL": target, "MEILI_URL": "http://127.0.0.1:9"}
    imported_run = runner.invoke(cli_app, ["import", str(file)], env=env)
    assert imported_run.exit_code == 0, imported_run.output
    assert f"imported {file}" in imported_run.output and "index: rebuilt" in imported_run.output
    assert [warehouse.url for warehouse in calls] == [target]

    get_settings.cache_clear()
    again = runner.invoke(cli_app, ["import", str(file)], env=env)
    assert again.exit_code == 1
    assert "moviemetric: error: the warehouse at" in again.output and "not empty" in again.output
    assert len(calls) == 1

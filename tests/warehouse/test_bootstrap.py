"""Bootstrap: idempotent, concurrent-safe; a transform without raw data fails clearly."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from psycopg import sql

from moviemetric.ops import (
    API_ROLE,
    MIGRATIONS,
    SCHEMA_VERSION,
    TRANSFORM_LOCK_KEY,
    data_version,
    ensure_role,
    prepare_warehouse,
    schema_version,
)
from moviemetric.warehouse import open_warehouse
from tests.conftest import ADMIN_URL
from tests.warehouse.conftest import warehouse_settings
from transform import TransformError, run_transform


def test_bootstrap_is_idempotent_and_grants_the_api_role(make_database):
    url = make_database()

    prepare_warehouse(url)
    prepare_warehouse(url)

    with psycopg.connect(url, autocommit=True) as conn:
        assert data_version(conn) == 0
        assert conn.execute("select count(*) from ops.data_version").fetchone()[0] == 1
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("insert into ops.data_version (version) values (5)")
        role = conn.execute(
            "select rolcanlogin from pg_roles where rolname = %s", (API_ROLE,)
        ).fetchone()
        assert role == (False,)
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(API_ROLE)))
        assert conn.execute("select version from ops.data_version").fetchone() == (0,)


def test_role_creation_races_across_databases_all_succeed(make_database):
    role = f"mm_test_role_{uuid.uuid4().hex[:8]}"
    urls = [make_database(), make_database()]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def create(url: str) -> None:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                start.wait()
                ensure_role(conn, role)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(url,)) for url in urls * 2]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with psycopg.connect(ADMIN_URL) as conn:
            assert conn.execute(
                "select count(*) from pg_roles where rolname = %s", (role,)
            ).fetchone() == (1,)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def test_transform_without_raw_data_names_missing_tables(make_database, tmp_path):
    url = make_database()

    with pytest.raises(
        TransformError,
        match=r"raw_tmdb has no table\(s\) genres, .*trending_movies: run `moviemetric load` first",
    ):
        run_transform(open_warehouse(warehouse_settings(url, tmp_path / "home")))

    with psycopg.connect(url) as conn:  # bootstrapped, nothing published
        assert data_version(conn) == 0
        assert (
            conn.execute("select 1 from pg_namespace where nspname = 'artifacts'").fetchone()
            is None
        )


def test_second_concurrent_transform_is_refused(make_database, tmp_path):
    url = make_database()
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s)", (TRANSFORM_LOCK_KEY,))

        with pytest.raises(TransformError, match="another transform is running"):
            run_transform(open_warehouse(warehouse_settings(url, tmp_path / "home")))


def test_migrations_are_numbered_applied_once_and_adopted_by_older_warehouses(make_database):
    url = make_database()
    # an ops schema from before migrations were tracked, already published to version 3
    with psycopg.connect(url) as conn:
        conn.execute("create schema ops")
        conn.execute(
            "create table ops.data_version (version bigint not null, published_at timestamptz,"
            " build_id text)"
        )
        conn.execute("insert into ops.data_version values (3, now(), 'old')")
        assert schema_version(conn) == 0

    assert prepare_warehouse(url) == SCHEMA_VERSION
    prepare_warehouse(url)

    with psycopg.connect(url) as conn:
        assert schema_version(conn) == SCHEMA_VERSION == MIGRATIONS[-1].number
        applied = conn.execute("select version from ops.schema_migrations order by 1").fetchall()
        assert [row[0] for row in applied] == [migration.number for migration in MIGRATIONS]
        assert data_version(conn) == 3  # the published version survives
    assert [m.number for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))

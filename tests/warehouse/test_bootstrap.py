"""Bootstrap: idempotent, concurrent-safe; a transform without raw data fails clearly."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from psycopg import sql

from moviemetric.bootstrap import bootstrap_warehouse, data_version, ensure_role
from moviemetric.transform import TRANSFORM_LOCK_KEY, TransformError, run_transform
from moviemetric.warehouse import API_ROLE
from tests.conftest import ADMIN_URL
from tests.warehouse.conftest import warehouse_settings


def test_bootstrap_is_idempotent_and_grants_the_api_role(make_database):
    url = make_database()

    bootstrap_warehouse(url)
    bootstrap_warehouse(url)

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
        run_transform(warehouse_settings(url, tmp_path / "home"))

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
            run_transform(warehouse_settings(url, tmp_path / "home"))

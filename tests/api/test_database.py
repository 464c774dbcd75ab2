"""The API's own login (MOVIEMETRIC_API_DATABASE_URL): a LOGIN role that is a member of
the API role, so even ``reset role`` cannot get past SELECT on the published data; and
neither can create temporary tables.

Each test makes its own LOGIN role on the real server (trust authentication, so no
password) and drops it afterwards. DATABASE_URL points at a closed port, so the API can
only serve if both the pool and the data-version listener use the API's URL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg import sql

from api.database import api_database_url
from api.main import create_app
from moviemetric.config import Settings
from moviemetric.ops import API_ROLE, ensure_role, prepare_warehouse
from tests.api.conftest import eventually, running
from tests.conftest import ADMIN_URL, drop_database

pytestmark = pytest.mark.anyio

UNREACHABLE_DATABASE_URL = "postgresql://nobody@127.0.0.1:1/unreachable"


@pytest.fixture
def make_login(published_url: str) -> Iterator[Callable[..., tuple[str, str]]]:
    """Factory of LOGIN roles on the test server: ``make(member_of_api_role=True)`` returns
    (role name, URL of the published database as that role). Dropped after the test."""
    names: list[str] = []

    def make(*, member_of_api_role: bool = True) -> tuple[str, str]:
        name = f"mm_api_login_{uuid.uuid4().hex[:10]}"
        create = sql.SQL("create role {} login").format(sql.Identifier(name))
        if member_of_api_role:
            create += sql.SQL(" in role {}").format(sql.Identifier(API_ROLE))
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(create)
        names.append(name)
        return name, urlparse(published_url)._replace(
            netloc=f"{name}@{_host(published_url)}"
        ).geturl()

    yield make
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where usename = %s",
                (name,),
            )
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))


def _host(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.hostname}:{parsed.port or 5432}"


async def test_api_serves_through_its_own_login(make_login, monkeypatch, warehouse):
    login, login_url = make_login()
    monkeypatch.setenv("MOVIEMETRIC_API_DATABASE_URL", login_url)
    settings = Settings(database_url=UNREACHABLE_DATABASE_URL, redis_url=None)
    assert settings.api_database_url == login_url
    total = warehouse.execute("select count(*) as n from artifacts.movie_catalog").fetchone()
    app = create_app(settings)
    async with running(app) as client:
        response = await client.get("/movies")
        assert response.status_code == 200
        assert response.json()["total"] == total["n"] > 0

        async def version_known() -> bool:
            """the data-version listener read ops.data_version through the API login"""
            return app.state.versions.version is not None

        await eventually(version_known, timeout=10)

        async with app.state.pool.connection() as conn:
            users = await (await conn.execute("select current_user, session_user")).fetchone()
            assert users == (API_ROLE, login)
            await conn.close()  # not back into the pool: the next checkout gets a fresh one


async def test_reset_role_on_the_api_login_stays_unprivileged(make_login):
    login, login_url = make_login()
    app = create_app(
        Settings(database_url=UNREACHABLE_DATABASE_URL, api_database_url=login_url, redis_url=None)
    )
    async with running(app), app.state.pool.connection() as conn:
        await conn.execute("reset role")
        row = await (
            await conn.execute(
                "select current_user, rolsuper from pg_roles where rolname = current_user"
            )
        ).fetchone()
        assert row == (login, False)
        count = await conn.execute("select count(*) from artifacts.movie_catalog")
        assert (await count.fetchone())[0] > 0  # what the API role may read, still
        for unpublished in (("raw_tmdb", "movies"), ("marts", "dim_movies")):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await conn.execute(
                    sql.SQL("select * from {} limit 1").format(sql.Identifier(*unpublished))
                )
        await conn.close()  # not back into the pool with the role reset


async def test_api_login_without_the_api_role_is_503_saying_what_to_grant(make_login):
    login, login_url = make_login(member_of_api_role=False)
    app = create_app(
        Settings(database_url=UNREACHABLE_DATABASE_URL, api_database_url=login_url, redis_url=None)
    )
    async with running(app) as client:
        response = await client.get("/movies")
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail.startswith("warehouse unavailable: ")
    assert f"grant {API_ROLE} to {login}" in detail


def test_without_an_api_login_the_api_uses_database_url(published_url):
    """The development/embedded default: DATABASE_URL, then ``set role`` on each connection."""
    assert api_database_url(Settings(database_url=published_url)) == published_url


def test_the_api_role_cannot_create_temporary_tables(published_url, make_login):
    """The bootstrap takes TEMPORARY from PUBLIC, which PostgreSQL grants it by default."""
    _, login_url = make_login()
    with psycopg.connect(published_url, autocommit=True) as conn:
        conn.execute("create temp table bootstrap_user_may (id int)")  # dbt's incrementals do
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(API_ROLE)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create temp table api_role_may_not (id int)")
    with (
        psycopg.connect(login_url, autocommit=True) as conn,  # the API's own login
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("create temp table api_login_may_not (id int)")


def test_a_bootstrap_by_the_database_owner_keeps_its_temporary_tables(make_database):
    """dbt runs as the role that bootstraps, often the database's owner, not a superuser:
    it keeps TEMPORARY while the API role loses it."""
    url = make_database()
    database = urlparse(url).path.lstrip("/")
    owner = f"mm_owner_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        ensure_role(admin, API_ROLE)  # creating it needs CREATEROLE, which the owner lacks
        admin.execute(sql.SQL("create role {} login").format(sql.Identifier(owner)))
        admin.execute(
            sql.SQL("alter database {} owner to {}").format(
                sql.Identifier(database), sql.Identifier(owner)
            )
        )
    owner_url = urlparse(url)._replace(netloc=f"{owner}@{_host(url)}").geturl()
    try:
        prepare_warehouse(owner_url)
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute("create temp table owner_may (id int)")
            privileges = conn.execute(
                "select has_database_privilege(%s, current_database(), 'TEMPORARY'), "
                "has_database_privilege('public', current_database(), 'TEMPORARY')",
                (API_ROLE,),
            ).fetchone()
        assert privileges == (False, False)
    finally:
        drop_database(database)
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(owner)))

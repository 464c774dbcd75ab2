"""deploy/bootstrap.py and deploy/scheduler_health.py against a real PostgreSQL."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import psycopg
import pytest

from moviemetric.errors import MovieMetricError
from moviemetric.ops import API_ROLE, prepare_warehouse
from tests.conftest import ADMIN_URL
from tests.deploy.stack_files import load_deploy_script

bootstrap = load_deploy_script("bootstrap")
scheduler_health = load_deploy_script("scheduler_health")


def _as_user(url: str, user: str, password: str) -> str:
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    netloc = f"{user}:{password}@{host}" + (f":{parsed.port}" if parsed.port else "")
    return parsed._replace(netloc=netloc).geturl()


@pytest.fixture
def api_login() -> str:
    name = f"mm_api_test_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("drop role if exists {}").format(psycopg.sql.Identifier(name)))


def _role(user: str) -> tuple:
    with psycopg.connect(ADMIN_URL) as conn:
        return conn.execute(
            "select rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolpassword,"
            " pg_has_role(rolname, %s, 'member')"
            " from pg_authid where rolname = %s",
            (API_ROLE, user),
        ).fetchone()


def test_the_api_login_is_a_member_of_the_api_role_and_nothing_more(database_url, api_login):
    prepare_warehouse(database_url)
    api_url = _as_user(database_url, api_login, "s3cret")
    assert bootstrap.ensure_api_login(database_url, api_url) == api_login

    can_login, superuser, createrole, createdb, password, member = _role(api_login)
    assert can_login and member and password
    assert not (superuser or createrole or createdb)
    with psycopg.connect(api_url, autocommit=True) as conn:
        conn.execute(f"set role {API_ROLE}")
        assert conn.execute("select version from ops.data_version").fetchone() == (0,)
        conn.execute("reset role")  # the login itself holds nothing beyond the role's grants
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from ops.schema_migrations")


def test_a_second_bootstrap_sets_the_password_again(database_url, api_login):
    prepare_warehouse(database_url)
    bootstrap.ensure_api_login(database_url, _as_user(database_url, api_login, "first"))
    first = _role(api_login)[4]
    bootstrap.ensure_api_login(database_url, _as_user(database_url, api_login, "second"))
    assert _role(api_login)[4] != first
    assert _role(api_login)[5]


def test_the_api_url_must_name_a_login_of_its_own_with_a_password(database_url):
    with pytest.raises(MovieMetricError, match="must name the API's login and its password"):
        bootstrap.ensure_api_login(database_url, _as_user(database_url, "mm_api", ""))
    elsewhere = urlparse(_as_user(database_url, "mm_api", "x"))._replace(path="/other").geturl()
    with pytest.raises(MovieMetricError, match="server and database of DATABASE_URL"):
        bootstrap.ensure_api_login(database_url, elsewhere)
    owner = urlparse(database_url).username
    with pytest.raises(MovieMetricError, match="login of its own"):
        bootstrap.ensure_api_login(database_url, _as_user(database_url, owner, "x"))


def test_the_first_run_happens_only_while_nothing_is_published(
    database_url, api_login, monkeypatch, capsys
):
    commands: list[tuple[str, ...]] = []
    monkeypatch.setattr(bootstrap, "_moviemetric", lambda *args: commands.append(args))
    monkeypatch.setenv("MOVIEMETRIC_API_DATABASE_URL", _as_user(database_url, api_login, "pw"))

    assert bootstrap.main() == 0
    assert commands == [("run",), ("docs",)]

    with psycopg.connect(database_url) as conn:
        conn.execute("update ops.data_version set version = 1")
    commands.clear()
    assert bootstrap.main() == 0
    assert commands == [("docs",)]
    assert "already published" in capsys.readouterr().out


def test_the_bootstrap_refuses_the_embedded_warehouse(monkeypatch, capsys):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert bootstrap.main() == 1
    assert "DATABASE_URL is unset" in capsys.readouterr().err


def test_scheduler_health_wants_the_migrated_ops_schema(database_url):
    assert "ops schema at version 0" in scheduler_health.check(database_url)


def test_scheduler_health_counts_the_schedulers_sessions_from_its_address(database_url):
    prepare_warehouse(database_url)
    assert "0 scheduler session(s)" in scheduler_health.check(database_url)
    with psycopg.connect(database_url), psycopg.connect(database_url):  # leader, worker
        assert scheduler_health.check(database_url) is None

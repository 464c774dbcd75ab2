"""The warehouse connection: DATABASE_URL's server or the embedded PostgreSQL, same code after."""

from __future__ import annotations

import subprocess
import sys

import pytest

from moviemetric.config import get_settings
from moviemetric.warehouse import (
    WarehouseError,
    connect,
    database_url,
    is_embedded,
    libpq_env,
    redact,
)


def test_database_url_set_uses_that_server(database_url: str) -> None:
    settings = get_settings()
    assert not is_embedded(settings)
    assert settings.database_url == database_url
    with connect() as conn:
        (name,) = conn.execute("select current_database()").fetchone()
    assert database_url.endswith(f"/{name}")


def test_embedded_server_starts_under_home_and_is_reused(tmp_path, monkeypatch) -> None:
    home = tmp_path / "embedded-home"
    monkeypatch.setenv("MOVIEMETRIC_HOME", str(home))
    get_settings.cache_clear()
    settings = get_settings()
    assert is_embedded(settings)

    url = database_url(settings)
    with connect(url) as conn:
        conn.execute("create table if not exists kept (value int)")
        conn.execute("insert into kept values (42)")
        (version,) = conn.execute("show server_version_num").fetchone()
    assert int(version) >= 150000
    assert (home / "pgdata" / "PG_VERSION").exists()
    # A second process with the same home sees the same warehouse (and the same row).
    script = (
        "from moviemetric.warehouse import connect;"
        "conn_cm = connect();"
        "conn = conn_cm.__enter__();"
        "print(conn.execute('select sum(value) from kept').fetchone()[0])"
    )
    env = {"MOVIEMETRIC_HOME": str(home), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "42"
    assert database_url(settings) == url


def test_unreachable_warehouse_error_names_the_server() -> None:
    url = "postgresql://someone:secret@127.0.0.1:1/nowhere"
    with pytest.raises(WarehouseError) as excinfo:
        connect(url).__enter__()
    message = str(excinfo.value)
    assert "127.0.0.1:1/nowhere" in message
    assert "secret" not in message


def test_libpq_env_for_tcp_and_socket_urls() -> None:
    tcp = libpq_env("postgresql://ana:p%40ss@db.example:6543/warehouse?sslmode=require")
    assert tcp == {
        "PGHOST": "db.example",
        "PGPORT": "6543",
        "PGUSER": "ana",
        "PGPASSWORD": "p@ss",
        "PGDATABASE": "warehouse",
        "PGSSLMODE": "require",
    }
    socket = libpq_env("postgresql://postgres:@/moviemetric?host=/tmp/x/pgdata")
    assert socket["PGHOST"] == "/tmp/x/pgdata"
    assert socket["PGDATABASE"] == "moviemetric"
    assert socket["PGUSER"] == "postgres"


def test_redact_hides_only_the_password() -> None:
    assert redact("postgresql://u:pw@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact("postgresql://u@h/d") == "postgresql://u@h/d"

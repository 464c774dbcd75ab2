"""The warehouse connection: DATABASE_URL's server or the embedded PostgreSQL, same code after."""

from __future__ import annotations

import subprocess
import sys

import pytest

from moviemetric.config import get_settings
from moviemetric.warehouse import (
    WarehouseError,
    connect,
    libpq_env,
    open_warehouse,
    redact,
)


def test_database_url_set_uses_that_server(database_url: str) -> None:
    warehouse = open_warehouse(get_settings())
    assert not warehouse.embedded
    assert warehouse.url == database_url
    with warehouse.connect() as conn:
        (name,) = conn.execute("select current_database()").fetchone()
    assert database_url.endswith(f"/{name}")


def _command(script: str) -> str:
    """Run ``script`` as a separate MovieMetric process with this test's environment."""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return result.stdout.strip()


def test_embedded_server_is_shared_by_commands_and_stopped_when_the_last_exits() -> None:
    settings = get_settings()
    assert not settings.database_url
    pgdata = settings.home_dir / "pgdata"

    written = _command(
        "from moviemetric.config import get_settings\n"
        "from moviemetric.warehouse import open_warehouse\n"
        "with open_warehouse(get_settings()).connect() as conn:\n"
        "    conn.execute('create table kept (value int)')\n"
        "    conn.execute('insert into kept values (42)')\n"
        "    print(conn.execute('show server_version_num').fetchone()[0])\n"
    )
    assert int(written) >= 150000
    assert (pgdata / "PG_VERSION").exists()
    # the command was the server's last user: it stopped the server cleanly on exit
    assert not (pgdata / "postmaster.pid").exists()

    # the next command starts the same server again and sees the same warehouse
    read = _command(
        "from moviemetric.config import get_settings\n"
        "from moviemetric.warehouse import open_warehouse\n"
        "with open_warehouse(get_settings()).connect() as conn:\n"
        "    print(conn.execute('select sum(value) from kept').fetchone()[0])\n"
    )
    assert read == "42"
    assert not (pgdata / "postmaster.pid").exists()


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

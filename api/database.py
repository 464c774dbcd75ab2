"""The warehouse connection pool of the API, restricted to the read-only API role."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from moviemetric.warehouse import API_ROLE

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
POOL_TIMEOUT_SECONDS = 3.0  # a request waits this long for a connection, then gets a 503
CONNECT_TIMEOUT_SECONDS = 3
RECONNECT_TIMEOUT_SECONDS = 5.0  # give up a reconnect attempt early; the next request retries


async def use_api_role(conn: AsyncConnection) -> None:
    """Every API connection can only SELECT what is published."""
    await conn.execute(sql.SQL("set role {}").format(sql.Identifier(API_ROLE)))


class WarehousePool(AsyncConnectionPool):
    """A pool that remembers why its last connection attempt failed, for 503 messages
    (a pool timeout alone does not say whether the server is down or refuses us)."""

    last_connect_error: str | None = None

    def __init__(self, conninfo: str, **kwargs: Any) -> None:
        pool = self

        class RecordingConnection(AsyncConnection):
            @classmethod
            async def connect(cls, *args: Any, **connect_kwargs: Any) -> AsyncConnection:
                try:
                    conn = await super().connect(*args, **connect_kwargs)
                except psycopg.OperationalError as exc:
                    pool.last_connect_error = (str(exc).strip().splitlines() or ["?"])[0]
                    raise
                pool.last_connect_error = None
                return conn

        super().__init__(conninfo, connection_class=RecordingConnection, **kwargs)


def create_pool(conninfo: str) -> WarehousePool:
    """A pool that is not open yet: the app opens it without waiting, so it starts while
    the warehouse is down and serves as soon as it comes back."""
    return WarehousePool(
        conninfo,
        min_size=POOL_MIN_SIZE,
        max_size=POOL_MAX_SIZE,
        open=False,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
        configure=use_api_role,
        check=AsyncConnectionPool.check_connection,
        timeout=POOL_TIMEOUT_SECONDS,
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
        name="moviemetric-api",
    )

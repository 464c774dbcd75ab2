"""The warehouse connection pool of the API, restricted to the read-only API role.

The API connects with MOVIEMETRIC_API_DATABASE_URL when it is set: a LOGIN role that is
a member of ``moviemetric_api`` (or that role itself), so no statement can get more
than SELECT on the published data, not even ``reset role``. Unset (development, the
embedded warehouse), it connects with DATABASE_URL, usually a superuser, and only the
``set role`` below keeps it to the API role's privileges.
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from api.errors import first_line
from moviemetric.config import Settings
from moviemetric.ops import API_ROLE
from moviemetric.warehouse import open_warehouse

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
POOL_TIMEOUT_SECONDS = 3.0  # a request waits this long for a connection, then gets a 503
CONNECT_TIMEOUT_SECONDS = 3
RECONNECT_TIMEOUT_SECONDS = 5.0  # give up a reconnect attempt early; the next request retries


def api_database_url(settings: Settings) -> str:
    """The URL the API's pool and data-version listener connect with."""
    return settings.api_database_url or open_warehouse(settings).url


async def use_api_role(conn: AsyncConnection) -> None:
    """Every API connection can only SELECT what is published."""
    try:
        await conn.execute(sql.SQL("set role {}").format(sql.Identifier(API_ROLE)))
    except psycopg.errors.InsufficientPrivilege as exc:
        raise psycopg.errors.InsufficientPrivilege(
            f"{conn.info.user} cannot take the role {API_ROLE}; "
            f"run `grant {API_ROLE} to {conn.info.user}` or fix MOVIEMETRIC_API_DATABASE_URL"
        ) from exc


async def check_idle_connection(conn: AsyncConnection) -> None:
    """The pool's check before it hands a connection out, without a round trip to the
    server (``AsyncConnectionPool.check_connection`` sends an empty query: a second round
    trip for every request). An idle pooled connection has nothing to read: the API's
    connections listen to nothing, so a readable socket means the server closed the
    connection or sent a FATAL error (a restart, ``pg_terminate_backend``, an idle
    timeout). It is closed, so the pool drops it and takes or opens another."""
    if conn.broken or conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    try:
        poller = select.poll()  # poll, not select: a busy process has fds past 1024
        poller.register(conn.fileno(), select.POLLIN)
        readable = bool(poller.poll(0))
    except Exception:
        await conn.close()  # a connection the check cannot judge is not handed out
        raise
    if readable:
        await conn.close()  # so the pool discards it instead of keeping it
        raise psycopg.OperationalError("the server closed this idle connection")


class WarehousePool(AsyncConnectionPool):
    """A pool that remembers why its last connection attempt failed, for 503 messages
    (a pool timeout alone does not say whether the server is down or refuses us, or
    whether the API's login cannot take the API role)."""

    last_connect_error: str | None = None

    def __init__(
        self,
        conninfo: str,
        *,
        configure: Callable[[AsyncConnection], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        pool = self

        async def recording_configure(conn: AsyncConnection) -> None:
            try:
                await configure(conn)
            except psycopg.Error as exc:
                pool.last_connect_error = first_line(exc)
                await conn.close()  # the pool drops a connection it could not configure
                raise

        class RecordingConnection(AsyncConnection):
            @classmethod
            async def connect(cls, *args: Any, **connect_kwargs: Any) -> AsyncConnection:
                try:
                    conn = await super().connect(*args, **connect_kwargs)
                except psycopg.OperationalError as exc:
                    pool.last_connect_error = first_line(exc)
                    raise
                pool.last_connect_error = None
                return conn

        super().__init__(
            conninfo,
            connection_class=RecordingConnection,
            configure=recording_configure if configure else None,
            **kwargs,
        )

    @contextlib.asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[AsyncConnection]:
        """A pooled connection; opens the pool first if the app did not (see ``create_app``:
        it does not while nothing is published, so the pool does not keep failing to take
        an API role that does not exist yet)."""
        await self.open(wait=False)  # a no-op once open
        async with super().connection(timeout) as conn:
            yield conn


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
        check=check_idle_connection,
        timeout=POOL_TIMEOUT_SECONDS,
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
        name="moviemetric-api",
    )

"""The published data version, kept in process memory.

A background task holds one connection that LISTENs on ``PUBLISH_CHANNEL`` (the publish
step notifies it) and re-reads ``ops.data_version`` on every notification and at least
every ``POLL_SECONDS``, so requests never pay a database round trip to learn it. While
the version is unknown (warehouse down, nothing published) the cache is bypassed.

Cache keys use ``cache_namespace``: the version plus its publish time, so a warehouse
rebuilt from scratch (versions start again at 1) never meets a shared Redis's old keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from psycopg import AsyncConnection, sql

from api.database import CONNECT_TIMEOUT_SECONDS, use_api_role
from api.repositories import read_data_version
from moviemetric.warehouse import PUBLISH_CHANNEL

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class DataVersionTracker:
    def __init__(
        self,
        conninfo: str,
        on_change: Callable[[int | None], None],
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._conninfo = conninfo
        self._on_change = on_change
        self._poll_seconds = poll_seconds
        self._task: asyncio.Task | None = None
        self.version: int | None = None
        self.cache_namespace: str | None = None

    async def start(self) -> None:
        """Read the version once (if the warehouse answers), then keep following it."""
        with contextlib.suppress(psycopg.Error, OSError):
            conn = await self._connect()
            async with conn:
                await self._refresh(conn)
        self._task = asyncio.create_task(self._follow(), name="moviemetric-data-version")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _connect(self) -> AsyncConnection:
        conn = await AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
        try:
            await use_api_role(conn)
        except psycopg.Error:
            await conn.close()
            raise
        return conn

    async def _follow(self) -> None:
        while True:
            try:
                conn = await self._connect()
                async with conn:
                    await conn.execute(sql.SQL("listen {}").format(sql.Identifier(PUBLISH_CHANNEL)))
                    while True:
                        await self._refresh(conn)
                        # Wake on the next publish, or after the poll interval at the latest.
                        notices = conn.notifies(timeout=self._poll_seconds, stop_after=1)
                        async for notice in notices:
                            log.debug("publish notified: data version %s", notice.payload)
            except (psycopg.Error, OSError) as exc:
                if self.version is not None:
                    log.warning("lost the data version (%s); bypassing the cache", exc)
                self._set(None)
                await asyncio.sleep(self._poll_seconds)

    async def _refresh(self, conn: AsyncConnection) -> None:
        try:
            row = await read_data_version(conn)
        except psycopg.errors.UndefinedTable:
            row = None  # nothing published yet
        if row is None:
            self._set(None)
        else:
            published_at = row["published_at"].timestamp() if row["published_at"] else 0
            self._set(row["version"], f"{row['version']}.{round(published_at * 1e6)}")

    def _set(self, version: int | None, namespace: str | None = None) -> None:
        if namespace == self.cache_namespace:
            return
        self.version = version
        self.cache_namespace = namespace
        self._on_change(version)

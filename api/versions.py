"""The published data version, kept in process memory.

A background task holds one connection that LISTENs on ``PUBLISH_CHANNEL`` (the publish
step notifies it) and re-reads ``ops.data_version`` on every notification and at least
every ``POLL_SECONDS``, so requests never pay a database round trip to learn it.

What the tracker knows is one of:

- published: ``version`` (1 or more) and ``cache_namespace`` are set;
- nothing published yet: the warehouse answers, but the API role does not exist, or
  ``ops.data_version`` is missing, unreadable or at version 0. ``unpublished`` says so
  and what to run; the data routes and ``/health`` answer 503 with it at once, without
  waiting for a pool connection that could not serve them anyway;
- unknown (the warehouse is unreachable, or was not read yet): both None; requests try
  the pool, whose errors say what is wrong.

The cache is bypassed unless the version is known. The API role and the table are looked
up in the catalog before they are used, so following a warehouse where nothing is
published raises no errors, neither here nor in the server's log.

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

from api import database
from api.database import CONNECT_TIMEOUT_SECONDS, use_api_role
from api.repositories import data_version_readable, read_data_version, role_exists
from moviemetric.ops import OPS_SCHEMA, PUBLISH_CHANNEL

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
NOTHING_PUBLISHED = "nothing is published yet: run `moviemetric run` to load, build and publish"


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
        self.unpublished: str | None = None

    async def start(self) -> None:
        """Read the version once (if the warehouse answers), then keep following it."""
        with contextlib.suppress(psycopg.Error, OSError):
            conn = await self._connect()
            async with conn:
                await self._poll(conn, in_api_role=False)
        self._task = asyncio.create_task(self._follow(), name="moviemetric-data-version")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _connect(self) -> AsyncConnection:
        return await AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )

    async def _follow(self) -> None:
        while True:
            try:
                conn = await self._connect()
                async with conn:
                    # LISTEN needs no privilege: a publish that creates the role wakes us too.
                    await conn.execute(sql.SQL("listen {}").format(sql.Identifier(PUBLISH_CHANNEL)))
                    in_api_role = False
                    while True:
                        in_api_role = await self._poll(conn, in_api_role=in_api_role)
                        # Wake on the next publish, or after the poll interval at the latest.
                        notices = conn.notifies(timeout=self._poll_seconds, stop_after=1)
                        async for notice in notices:
                            log.debug("publish notified: data version %s", notice.payload)
            except (psycopg.Error, OSError) as exc:
                if self.version is not None:
                    log.warning("lost the data version (%s); bypassing the cache", exc)
                self._set(None)
                await asyncio.sleep(self._poll_seconds)

    async def _poll(self, conn: AsyncConnection, *, in_api_role: bool) -> bool:
        """Take the API role once it exists, then read the version; returns whether
        ``conn`` is in the API role."""
        if not in_api_role:
            if not await role_exists(conn, database.API_ROLE):
                self._set_unpublished(f"the API role {database.API_ROLE} does not exist")
                return False
            await use_api_role(conn)
        try:
            row = await read_data_version(conn) if await data_version_readable(conn) else None
        except (psycopg.errors.UndefinedTable, psycopg.errors.InsufficientPrivilege):
            row = None  # dropped or revoked since the lookup
        if row is None:
            self._set_unpublished(
                f"{OPS_SCHEMA}.data_version is missing or not granted to the API role"
            )
        elif row["version"] < 1:
            self._set_unpublished(f"{OPS_SCHEMA}.data_version is at version {row['version']}")
        else:
            published_at = row["published_at"].timestamp() if row["published_at"] else 0
            self._set(row["version"], f"{row['version']}.{round(published_at * 1e6)}")
        return True

    def _set_unpublished(self, reason: str) -> None:
        self._set(None, unpublished=f"{NOTHING_PUBLISHED} ({reason})")

    def _set(
        self, version: int | None, namespace: str | None = None, unpublished: str | None = None
    ) -> None:
        if unpublished != self.unpublished:
            if unpublished is not None:
                log.warning("%s", unpublished)  # once per change, not per request
            self.unpublished = unpublished
        if namespace == self.cache_namespace:
            return
        self.version = version
        self.cache_namespace = namespace
        self._on_change(version)

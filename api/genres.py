"""Known genres, read once per published data version: a genre parameter that names
none of them is a 422 listing them (docs/design.md section 6), on every endpoint.

``create_app`` reads them at start and after each publish, off the request path, so a
request reads them itself only when it comes before that refresh; the read only
validates, and the response's data still comes from the request's one statement.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from api import repositories

# A `genre` parameter of ASCII digits is a TMDB genre id (at most 18 digits: it fits a
# bigint); any other value, such as "²" (a digit to str.isdigit) or "١٨", is a name.
GENRE_ID = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class Genre:
    genre_id: int
    name: str


class UnknownGenre(ValueError):
    def __init__(self, value: str, known: list[Genre]) -> None:
        names = ", ".join(genre.name for genre in known) or "none (nothing is published)"
        super().__init__(
            f"unknown genre {value!r}: give a genre name (any case) or TMDB genre id; "
            f"known genres: {names}"
        )


class KnownGenres:
    """The published genres, reloaded when the data version changes."""

    def __init__(self) -> None:
        self._version: int | None = None
        self._genres: list[Genre] = []

    async def all(self, conn: AsyncConnection, version: int | None) -> list[Genre]:
        if version is None or version != self._version:
            rows = await repositories.list_known_genres(conn)
            self._genres = [Genre(row["genre_id"], row["genre_name"]) for row in rows]
            self._version = version
        return self._genres

    async def refresh(self, pool: AsyncConnectionPool, version: int | None) -> None:
        """Read the genres of ``version`` now, if the warehouse answers."""
        if version is None or version == self._version:
            return
        with contextlib.suppress(psycopg.Error, PoolClosed, PoolTimeout):
            async with pool.connection() as conn:
                await self.all(conn, version)

    async def resolve(self, conn: AsyncConnection, value: str, version: int | None) -> Genre:
        """The genre ``value`` names (a name in any case, or an id of ASCII digits)."""
        known = await self.all(conn, version)
        if GENRE_ID.fullmatch(value):
            matches = [genre for genre in known if genre.genre_id == int(value)]
        else:
            matches = [genre for genre in known if genre.name.casefold() == value.casefold()]
        if not matches:
            raise UnknownGenre(value, known)
        return matches[0]

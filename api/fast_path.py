"""``GET /movies/{movie_id}`` without FastAPI's per-request machinery.

A movie by id is the API's most frequent uncached read, and FastAPI's routing,
dependency solving and response handling cost about twice the read itself (bench/README.md,
"API"). This pure ASGI layer sits between the response cache and FastAPI and answers the
plain case on its own: an id in canonical form, each query parameter given once, a
published warehouse, a movie in the catalog. It runs the route's own statement
(``repositories.get_movie``) on the API's pool and answers the route's own bytes
(``models.movie_json``); the response cache, ETags and metrics in front of it see the
same response as before. Everything else goes on to FastAPI, which answers it as the route
always has: a 404 (its statement runs again there), a 422, a 503 while nothing is
published. The route stays declared in FastAPI, for those cases and for the OpenAPI schema.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from api import repositories
from api.database import WarehousePool
from api.errors import (
    NOT_PUBLISHED,
    WAREHOUSE_DOWN,
    internal_error_response,
    warehouse_unavailable_response,
)
from api.models import movie_json
from api.versions import DataVersionTracker

ROUTE_PATH = "/movies/{movie_id}"
# what the route's path parameter accepts (1 to 2**63 - 1), written as FastAPI would
# print it back: no sign, no leading zero
_MOVIE_PATH = re.compile(r"/movies/([1-9][0-9]{0,18})")
MAX_MOVIE_ID = 2**63 - 1


def single_valued(query_string: bytes) -> bool:
    """Whether no query parameter is given twice (``params.single_valued_query``'s rule,
    parsed as Starlette parses it)."""
    if b"&" not in query_string:
        return True  # one parameter at most
    names = [name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)]
    return len(names) == len(set(names))


class MovieFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        pool: WarehousePool,
        versions: DataVersionTracker,
        routes: Sequence[BaseRoute],
    ) -> None:
        self.app = app
        self.pool = pool
        self.versions = versions
        # the route FastAPI would have matched: metrics label the request with it
        matching = [route for route in routes if getattr(route, "path", None) == ROUTE_PATH]
        if not matching:
            raise ValueError(f"no route {ROUTE_PATH} among the routes given")
        self.route = matching[0]

    def movie_id(self, scope: Scope) -> int | None:
        """The id of a request this layer answers, or None for FastAPI to answer."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        match = _MOVIE_PATH.fullmatch(scope["path"])
        if match is None or self.versions.unpublished is not None:
            return None
        movie_id = int(match[1])
        if movie_id > MAX_MOVIE_ID:
            return None
        query_string = scope["query_string"]
        if query_string and not single_valued(query_string):
            return None
        return movie_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        movie_id = self.movie_id(scope)
        if movie_id is None:
            await self.app(scope, receive, send)
            return
        try:
            async with self.pool.connection() as conn:
                movie = await repositories.get_movie(conn, movie_id)
            body = None if movie is None else movie_json(movie)
        except (*WAREHOUSE_DOWN, *NOT_PUBLISHED) as exc:
            scope["route"] = self.route
            response = warehouse_unavailable_response(
                "GET", scope["path"], exc, self.pool.last_connect_error
            )
            await response(scope, receive, send)
            return
        except Exception:
            scope["route"] = self.route
            await internal_error_response("GET", scope["path"])(scope, receive, send)
            return
        if body is None:
            await self.app(scope, receive, send)  # FastAPI's 404
            return
        scope["route"] = self.route
        headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

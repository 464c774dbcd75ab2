"""HEAD wherever GET works: a pure ASGI layer that runs a HEAD as a GET and drops the body.

FastAPI's routes answer only the methods they declare, so HEAD /health was a 405. Run as
a GET, a HEAD gets exactly the GET's status and headers (Content-Length, ETag,
Cache-Control, a cache hit's X-Cache), and no body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import ROUTE_SCOPE_KEY

# What the layers inside set on the scope and the metrics layer outside reads.
_RESULT_KEYS = ("route", ROUTE_SCOPE_KEY)


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        # A copy: the server reads the method of its own scope to send no body for a HEAD.
        as_get = {**scope, "method": "GET"}
        try:
            await self.app(as_get, receive, send_without_body)
        finally:
            scope.update({key: as_get[key] for key in _RESULT_KEYS if key in as_get})

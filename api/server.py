"""``moviemetric serve``: uvicorn, saying where it listens once its socket is bound.

The address is announced after the bind, not before, so with ``--port 0`` it names the
port the system picked, and whoever reads it can connect at once. Signals are uvicorn's
own: SIGINT or SIGTERM shut the server down gracefully (the app's lifespan closes the
pool) and then reach the handlers that were installed before it started.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE


def listening_message(base_url: str) -> str:
    return f"MovieMetric API listening on {base_url} (docs: {base_url}/docs)"


def base_url(host: str, sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket (IPv6 hosts in brackets)."""
    port = sock.getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls ``announce`` with its base URL once it listens."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[str], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.servers and self.servers[0].sockets:
            self._announce(base_url(self.config.host, self.servers[0].sockets[0]))


def serve(app: FastAPI, *, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Run ``app`` until SIGINT or SIGTERM, like ``uvicorn.run``; exit 3 if it cannot start
    (the reason, such as a port in use, is logged by uvicorn)."""
    server = AnnouncingServer(
        uvicorn.Config(app, host=host, port=port, log_level="warning"), announce
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is how a server stops
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)

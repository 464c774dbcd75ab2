"""Run the sandbox: in a background thread (``Sandbox``, for tests, benchmarks and the
offline default) or in the foreground (``serve``, for ``moviemetric sandbox``)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date

import uvicorn

from ingest.sandbox.app import API_PREFIX, EXPORTS_PREFIX, SandboxApp
from ingest.sandbox.catalog import Catalog, date_of, day_of
from ingest.sandbox.faults import Faults
from moviemetric.errors import MovieMetricError

log = logging.getLogger(__name__)

DEFAULT_API_KEY = "sandbox-api-key"
DEFAULT_ACCESS_TOKEN = "sandbox-access-token"
START_TIMEOUT_SECONDS = 30.0


def _listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket; port 0 picks a free one (no race with other processes)."""
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise MovieMetricError(
            f"the TMDB sandbox port must be from 0 to 65535 (0 picks a free one), got {port!r}"
        )
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise MovieMetricError(
            f"the TMDB sandbox cannot listen on {host}:{port}: {reason}; "
            "choose another --host/--port (port 0 picks a free one)"
        ) from exc
    return sock


def _uvicorn_config(app: SandboxApp) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,  # the app sends the catalog date instead
        timeout_keep_alive=30,
        timeout_graceful_shutdown=2,  # slow-fault responses must not hold up stop()
        backlog=1024,
    )


def exports_url_of(base_url: str) -> str:
    """The daily ID exports' URL of the sandbox whose API is at ``base_url``."""
    return base_url.removesuffix(API_PREFIX) + EXPORTS_PREFIX


class Sandbox:
    """A TMDB-compatible HTTP server over a generated catalog, in a background thread.

    Use as a context manager, or call ``start()`` / ``stop()``. Without ``catalog_date``
    the catalog date is today's UTC date and follows the clock (a sandbox running past
    midnight moves to the next day); ``advance()`` adds days in both cases.
    """

    def __init__(
        self,
        movies: int = 10_000,
        seed: int = 42,
        catalog_date: date | None = None,
        *,
        api_key: str = DEFAULT_API_KEY,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
    ) -> None:
        self.catalog = Catalog(movies, seed)
        pinned = None if catalog_date is None else day_of(catalog_date)
        self._app = SandboxApp(self.catalog, pinned, api_key, access_token)
        self.catalog.day_state(self._app.day)  # validates the date, warms the day's arrays
        if faults is not None:
            self.set_faults(faults)
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    # ----- lifecycle ----------------------------------------------------------------

    def start(self) -> Sandbox:
        """Serve in a background thread; returns once the server accepts requests."""
        sock = self._bind()
        server = uvicorn.Server(_uvicorn_config(self._app))
        thread = threading.Thread(
            target=self._run, args=(server, sock), name="tmdb-sandbox", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(timeout=5)
                self._bound_port = None
                raise MovieMetricError(
                    f"the TMDB sandbox did not start on {self._host}:{sock.getsockname()[1]}"
                )
            time.sleep(0.005)
        self._server, self._thread = server, thread
        log.info("TMDB sandbox listening at %s", self.base_url)
        return self

    def serve_forever(self, on_listening: Callable[[Sandbox], None] | None = None) -> None:
        """Serve in the calling thread until interrupted (Ctrl+C); ``on_listening`` is
        called once the port is bound, before the first request is accepted."""
        sock = self._bind()
        try:
            if on_listening is not None:
                on_listening(self)
            self._run(uvicorn.Server(_uvicorn_config(self._app)), sock)
        finally:
            self._bound_port = None

    def _bind(self) -> socket.socket:
        if self._bound_port is not None:
            raise MovieMetricError(f"the TMDB sandbox is already running at {self.base_url}")
        sock = _listen(self._host, self._port)
        self._bound_port = sock.getsockname()[1]
        return sock

    @staticmethod
    def _run(server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._server = self._thread = None
        self._bound_port = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----- what clients need ----------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._bound_port is None:
            raise MovieMetricError("the TMDB sandbox is not running: call start() or use `with`")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._bound_port}{API_PREFIX}"

    @property
    def exports_url(self) -> str:
        """Where the daily ID exports are, as TMDB's file host serves them (no API key)."""
        return exports_url_of(self.base_url)

    def source_env(self) -> dict[str, str]:
        """The variables that point ``moviemetric load`` at this sandbox."""
        return {
            "TMDB_BASE_URL": self.base_url,
            "TMDB_API_KEY": self.api_key,
            "TMDB_EXPORTS_URL": self.exports_url,
        }

    @property
    def api_key(self) -> str:
        return self._app.api_key

    @property
    def access_token(self) -> str:
        return self._app.access_token

    # ----- time, faults, counters -------------------------------------------------------

    @property
    def catalog_date(self) -> date:
        return date_of(self._app.day)

    def advance(self, days: int = 1) -> date:
        """Move the catalog date forward by ``days``; returns the new date."""
        if not isinstance(days, int) or days < 0:
            raise MovieMetricError(
                f"advance() needs a non-negative whole number of days, got days={days!r}"
            )
        self.catalog.day_state(self._app.day + days)  # compute first: requests never wait
        self._app.advanced_days += days
        return self.catalog_date

    def hold_exports(self, days: int) -> None:
        """Answer 404 for the ID exports of the last ``days`` days, as the file host does
        before the day's export is out (0: every export up to the catalog date)."""
        self._app.exports_behind = days

    def set_faults(self, faults: Faults) -> None:
        """Turn faults on or off (``Faults()`` = none); restarts the fault sequence."""
        self._app.faults.set(faults)

    @property
    def faults(self) -> Faults:
        return self._app.faults.faults

    @property
    def request_counts(self) -> Counter[str]:
        """Requests received per route template (``/movie/{movie_id}``, ...), faulted
        and unauthorised ones included."""
        return self._app.request_counts

    @property
    def fault_counts(self) -> Counter[str]:
        """Faults injected, by kind: rate_limit, server_error, slow, malformed."""
        return self._app.faults.counts

    def reset_counts(self) -> None:
        self._app.request_counts.clear()
        self._app.faults.counts.clear()

    def __repr__(self) -> str:
        state = self.base_url if self._bound_port else "stopped"
        return f"Sandbox({self.catalog!r}, date={self.catalog_date}, {state})"


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    movies: int = 10_000,
    seed: int = 42,
    catalog_date: date | None = None,
    faults: Faults | None = None,
) -> None:
    """Serve the sandbox in the foreground until interrupted (``moviemetric sandbox``)."""
    started = time.perf_counter()
    sandbox = Sandbox(
        movies=movies, seed=seed, catalog_date=catalog_date, host=host, port=port, faults=faults
    )

    def announce(running: Sandbox) -> None:
        lines = [
            f"TMDB sandbox: {movies} movies (seed {seed}), catalog date {running.catalog_date}"
            f"{' (follows the UTC clock)' if catalog_date is None else ''}, "
            f"ready in {time.perf_counter() - started:.1f}s",
            f"  TMDB_BASE_URL={running.base_url}",
            f"  TMDB_EXPORTS_URL={running.exports_url}",
            f"  TMDB_API_KEY={running.api_key}    "
            f"(or Authorization: Bearer {running.access_token})",
        ]
        if running.faults.enabled:
            lines.append(f"  Faults: {running.faults.spec()}")
        lines.append("Press Ctrl+C to stop.")
        print("\n".join(lines), flush=True)

    sandbox.serve_forever(on_listening=announce)

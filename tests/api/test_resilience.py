"""Redis going away and coming back; the warehouse going away and coming back.

Redis here is a private ``redis-server`` on a free port (never the shared one), killed
and restarted mid-test. The warehouse is taken away by refusing connections to the test
database and terminating its backends, then given back.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import anyio
import psycopg
import pytest
import redis
from psycopg import sql

from api.database import check_idle_connection
from api.main import create_app
from moviemetric.config import Settings
from tests.api.conftest import eventually, running
from tests.conftest import ADMIN_URL

pytestmark = pytest.mark.anyio


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisProcess:
    """A throwaway redis-server that a test may kill and restart on the same port."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.fail("redis-server is not installed; the Redis outage test needs it")
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--enable-debug-command",
                "local",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    pytest.fail(f"redis-server did not start on port {self.port}")
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def keys(self, pattern: str) -> list[bytes]:
        client = redis.Redis.from_url(self.url)
        try:
            return client.keys(pattern)
        finally:
            client.close()


@pytest.fixture
def private_redis() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    yield server
    server.stop()


async def test_redis_outage_serves_from_postgres_then_caching_resumes(published_url, private_redis):
    settings = Settings(database_url=published_url, redis_url=private_redis.url)
    async with running(create_app(settings)) as client:
        first = await client.get("/movies", params={"limit": 4})
        assert first.headers["x-cache"] == "miss"
        assert len(private_redis.keys("moviemetric:api:*limit=4*")) == 1
        assert (await client.get("/health")).json()["components"]["cache"]["backend"] == "redis"

        private_redis.stop()
        for limit in (5, 6, 5, 6, 4):
            response = await client.get("/movies", params={"limit": limit})
            assert response.status_code == 200
            assert len(response.json()["items"]) == limit
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert health.json()["components"]["cache"]["status"] == "degraded"
        assert "redis unreachable" in health.json()["components"]["cache"]["detail"]

        private_redis.start()
        offsets = iter(range(1, 10_000))
        stored: list[int] = []

        async def cached_in_redis() -> bool:
            """a new response is stored in the restarted Redis"""
            offset = next(offsets)
            response = await client.get("/movies", params={"limit": 7, "offset": offset})
            assert response.status_code == 200
            if private_redis.keys(f"moviemetric:api:*limit=7&offset={offset}"):
                stored.append(offset)
            return bool(stored)

        await eventually(cached_in_redis, timeout=20, interval=0.2)
        health = await client.get("/health")
        assert health.json()["status"] == "ok"
        expected = await client.get("/movies", params={"limit": 7, "offset": stored[0]})

    # Another replica (its in-process layer empty) is served from the shared Redis.
    async with running(create_app(settings)) as other:
        again = await other.get("/movies", params={"offset": stored[0], "limit": 7})
        assert again.headers["x-cache"] == "hit"
        assert again.content == expected.content
        metrics = (await other.get("/metrics")).text
        assert 'moviemetric_api_cache_hits_total{layer="redis"} 1.0' in metrics


async def test_redis_killed_under_concurrent_load_gives_no_server_error(
    published_url, private_redis
):
    settings = Settings(database_url=published_url, redis_url=private_redis.url)
    statuses: list[int] = []
    requests_per_worker = 40

    async with running(create_app(settings), raise_app_exceptions=False) as client:

        async def worker(number: int) -> None:
            for index in range(requests_per_worker):
                if number == 0 and index == requests_per_worker // 4:
                    private_redis.stop()  # mid-load: the other workers are in flight
                # half repeat a few keys (hits), half are new keys (misses that fill)
                offset = index % 3 if number % 2 else number * requests_per_worker + index
                response = await client.get("/movies", params={"limit": 3, "offset": offset})
                statuses.append(response.status_code)

        async with anyio.create_task_group() as workers:
            for number in range(16):
                workers.start_soon(worker, number)
        health = (await client.get("/health")).json()

    assert len(statuses) == 16 * requests_per_worker
    assert set(statuses) == {200}
    assert health["components"]["cache"]["status"] == "degraded"


async def test_slow_redis_is_bypassed(published_url, private_redis):
    settings = Settings(database_url=published_url, redis_url=private_redis.url)
    async with running(create_app(settings)) as client:
        assert (await client.get("/movies", params={"limit": 3})).status_code == 200
        sleeper = subprocess.Popen(
            ["redis-cli", "-p", str(private_redis.port), "debug", "sleep", "1.5"],
            stdout=subprocess.DEVNULL,
        )
        try:

            async def redis_is_stalled() -> bool:
                """Redis stops answering pings"""
                health = (await client.get("/health")).json()
                return health["components"]["cache"]["status"] == "degraded"

            await eventually(redis_is_stalled, timeout=10, interval=0.05)
            response = await client.get("/movies", params={"limit": 2, "sort": "votes"})
            assert response.status_code == 200
            assert len(response.json()["items"]) == 2
        finally:
            sleeper.wait(timeout=20)


async def test_closed_warehouse_port_is_503_without_a_traceback(monkeypatch):
    monkeypatch.setattr("api.database.POOL_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr("api.routes.system.HEALTH_POOL_TIMEOUT_SECONDS", 0.5)
    closed = f"postgresql://postgres@127.0.0.1:{_free_port()}/nowhere"
    async with running(create_app(Settings(database_url=closed))) as client:
        response = await client.get("/movies")
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert detail.startswith("warehouse unavailable: ")
        assert "Connection refused" in detail  # why, not only that no connection came
        assert "Traceback" not in response.text
        health = await client.get("/health")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "unavailable"
        assert body["components"]["warehouse"]["status"] == "unavailable"


def _set_connections_allowed(database: str, allowed: bool) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            sql.SQL("alter database {} with allow_connections {}").format(
                sql.Identifier(database), sql.SQL("true" if allowed else "false")
            )
        )
    if not allowed:
        _terminate_backends(database)


async def test_warehouse_outage_is_503_then_recovers_without_restart(published_url, monkeypatch):
    monkeypatch.setattr("api.database.POOL_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr("api.routes.system.HEALTH_POOL_TIMEOUT_SECONDS", 0.5)
    database = urlparse(published_url).path.lstrip("/")
    with psycopg.connect(published_url) as conn:
        (movie_id,) = conn.execute("select min(movie_id) from artifacts.movie_catalog").fetchone()
    async with running(create_app(Settings(database_url=published_url))) as client:
        assert (await client.get("/movies", params={"limit": 9})).status_code == 200
        _set_connections_allowed(database, False)
        try:
            down = await client.get("/movies", params={"limit": 8})
            assert down.status_code == 503
            assert down.json()["detail"].startswith("warehouse unavailable: ")
            assert "not currently accepting connections" in down.json()["detail"]
            # answered by api.fast_path, before FastAPI: the same 503
            down_movie = await client.get(f"/movies/{movie_id}")
            assert down_movie.status_code == 503
            assert down_movie.headers["retry-after"] == "5"
            assert "not currently accepting connections" in down_movie.json()["detail"]
            health = await client.get("/health")
            assert health.status_code == 503
        finally:
            _set_connections_allowed(database, True)

        async def healthy() -> bool:
            """/health is 200 again"""
            return (await client.get("/health")).status_code == 200

        await eventually(healthy, timeout=30, interval=0.25)
        back = await client.get("/movies", params={"limit": 8})
        assert back.status_code == 200
        assert len(back.json()["items"]) == 8
        assert (await client.get(f"/movies/{movie_id}")).json()["id"] == movie_id


def _terminate_backends(database: str) -> int:
    """Ends every connection to ``database`` (the server stays up), waiting up to 5 s for
    each backend to exit, so its closing message is on the way; how many it ended."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        (ended,) = admin.execute(
            "select count(pg_terminate_backend(pid, 5000)) from pg_stat_activity "
            "where datname = %s and pid <> pg_backend_pid()",
            (database,),
        ).fetchone()
    return ended


async def test_the_pool_check_costs_no_round_trip_and_drops_a_closed_connection(
    published_url, tmp_path
):
    """The check before a pooled connection is handed out sends nothing to the server
    (libpq's protocol trace stays empty), and fails once the server closed the connection."""
    async with await psycopg.AsyncConnection.connect(published_url, autocommit=True) as conn:
        await conn.execute("select 1")
        trace = tmp_path / "libpq.trace"
        with trace.open("w") as sink:
            conn.pgconn.trace(sink.fileno())
            await check_idle_connection(conn)
            conn.pgconn.untrace()
        assert trace.read_text() == ""
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", (conn.info.backend_pid,))

        async def refused() -> bool:
            """the check fails on the closed connection"""
            try:
                await check_idle_connection(conn)
            except psycopg.OperationalError:
                return True
            return False

        await eventually(refused, timeout=10, interval=0.05)


async def test_connections_the_server_closed_are_replaced_without_an_error(published_url):
    """Every pooled connection ended by the server (a restart, an idle timeout): the next
    requests are served on new connections, not answered 503."""
    database = urlparse(published_url).path.lstrip("/")
    async with running(create_app(Settings(database_url=published_url))) as client:
        for limit in (3, 4, 5):
            assert (await client.get("/movies", params={"limit": limit})).status_code == 200
        assert _terminate_backends(database) >= 1
        await anyio.sleep(0.2)  # the FATAL message reaches the pooled sockets
        for limit in (6, 7, 8):
            response = await client.get("/movies", params={"limit": limit})
            assert response.status_code == 200, response.text
            assert len(response.json()["items"]) == limit

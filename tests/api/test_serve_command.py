"""``moviemetric serve`` runs the API under uvicorn, says where once it listens, and stops
on SIGINT or SIGTERM after a graceful shutdown."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.processes import OutputProcess

LISTENING = re.compile(
    r"^MovieMetric API listening on (http://127\.0\.0\.1:(\d+)) \(docs: (\S+)\)$"
)
# `moviemetric serve --port 0` with an exit hook that says when Python exits normally
SERVE_WITH_EXIT_HOOK = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('atexit ran', flush=True))\n"
    "from moviemetric.cli import app\n"
    "app(['serve', '--host', '127.0.0.1', '--port', '0'])\n"
)


@pytest.fixture
def serve_api(published_url, monkeypatch) -> Iterator[Callable[..., OutputProcess]]:
    """Starts ``python COMMAND...`` over the published dataset; killed after the test."""
    monkeypatch.setenv("DATABASE_URL", published_url)
    started: list[OutputProcess] = []

    def start(*command: str) -> OutputProcess:
        server = OutputProcess([sys.executable, *command], separate_stderr=True)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def test_serve_says_where_it_listens_once_bound_then_answers_http(serve_api):
    server = serve_api("-m", "moviemetric.cli", "serve", "--host", "127.0.0.1", "--port", "0")
    line = server.next_line()
    match = LISTENING.match(line)
    assert match, line
    url, port, docs = match.groups()
    assert int(port) > 0  # the port the system picked, not 0
    assert docs == f"{url}/docs"
    # Said once bound: the first attempt connects, no retry loop needed.
    health = httpx.get(f"{url}/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    movies = httpx.get(f"{url}/movies", params={"limit": 2}, timeout=10)
    assert movies.status_code == 200
    assert len(movies.json()["items"]) == 2
    assert httpx.get(docs, timeout=10).status_code == 200


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_shuts_down_on_a_signal(serve_api, stop):
    server = serve_api("-c", SERVE_WITH_EXIT_HOOK)
    url = LISTENING.match(server.next_line()).group(1)
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    server.process.send_signal(stop)
    server.process.wait(timeout=30)
    server.kill()  # it has exited: this collects the rest of its output
    stderr = "\n".join(server.errors)
    assert "Traceback" not in stderr, stderr
    if stop == signal.SIGINT:
        # Ctrl+C is how a server stops: a normal exit, so exit hooks run.
        assert server.process.returncode == 0, stderr
        assert server.next_line() == "atexit ran"
    else:
        # uvicorn shuts down, then hands SIGTERM on to the handler installed before it
        # started: the default one (killed by SIGTERM), or one that exits 0 or 143.
        assert server.process.returncode in (0, 128 + signal.SIGTERM, -signal.SIGTERM), stderr


def test_serve_rejects_a_bad_port():
    result = subprocess.run(
        [sys.executable, "-m", "moviemetric.cli", "serve", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--port" in result.stderr

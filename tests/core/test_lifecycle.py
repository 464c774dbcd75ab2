"""Long-running commands stop cleanly: SIGTERM and SIGINT stop the embedded PostgreSQL too."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from moviemetric.config import get_settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _postgres_processes(pgdata: Path) -> list[psutil.Process]:
    """Running postgres processes whose command line names ``pgdata``."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
        except psutil.Error:
            continue
        if "postgres" in (process.info["name"] or "") and str(pgdata) in cmdline:
            found.append(process)
    return found


def _wait_until_listening(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            return
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve did not start: {server.stderr.read().decode()}")
            time.sleep(0.2)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_on_the_embedded_warehouse_stops_postgres_on_a_signal(stop_signal):
    pgdata = get_settings().home_dir / "pgdata"
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moviemetric.cli", "serve", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_listening(server, port)
        assert _postgres_processes(pgdata), "serve did not start the embedded PostgreSQL"

        server.send_signal(stop_signal)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    deadline = time.monotonic() + 10
    while _postgres_processes(pgdata) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _postgres_processes(pgdata) == []
    assert not (pgdata / "postmaster.pid").exists()
    assert json.loads((pgdata / ".handle_pids.json").read_text() or "[]") == []


def _command(script: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return result.stdout.strip()


_OPEN_AND_CLOSE = (
    "from moviemetric.config import get_settings\n"
    "from moviemetric.warehouse import open_warehouse\n"
    "with open_warehouse(get_settings()).connect():\n"
    "    pass\n"
)


def test_a_killed_process_does_not_keep_the_embedded_server_running():
    pgdata = get_settings().home_dir / "pgdata"
    _command(_OPEN_AND_CLOSE)
    # a process that died holding a handle, as after kill -9
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (pgdata / ".handle_pids.json").write_text(json.dumps([dead.pid]))

    _command(_OPEN_AND_CLOSE)

    assert not (pgdata / "postmaster.pid").exists()
    assert _postgres_processes(pgdata) == []


def test_the_embedded_server_runs_with_the_workload_settings():
    shown = _command(
        "from moviemetric.config import get_settings\n"
        "from moviemetric.warehouse import open_warehouse\n"
        "with open_warehouse(get_settings()).connect() as conn:\n"
        "    for name in ('work_mem', 'jit', 'maintenance_work_mem'):\n"
        "        print(conn.execute(f'show {name}').fetchone()[0])\n"
    )
    assert shown.splitlines() == ["64MB", "off", "256MB"]

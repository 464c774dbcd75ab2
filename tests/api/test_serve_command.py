"""``moviemetric serve`` runs the API under uvicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest


def test_serve_command_answers_http(published_url, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", published_url)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moviemetric.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=os.environ.copy(),
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"serve did not start: {server.stderr.read().decode()}")
                time.sleep(0.1)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        movies = httpx.get(f"http://127.0.0.1:{port}/movies", params={"limit": 2}, timeout=5)
        assert movies.status_code == 200
        assert len(movies.json()["items"]) == 2
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_rejects_a_bad_port():
    result = subprocess.run(
        [sys.executable, "-m", "moviemetric.cli", "serve", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--port" in result.stderr

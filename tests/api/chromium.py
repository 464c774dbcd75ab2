"""Headless Chromium for the page tests (/docs, /redoc, /dashboard, /lineage), offline.

Every browser here resolves no host but 127.0.0.1, so a page that needs a CDN shows it.
Chromium is a system package (CI installs it); without it these tests fail under CI and
are skipped elsewhere.

- ``rendered_dom(url, profile)``: the DOM after the page's scripts ran (``--dump-dom``
  with a virtual time budget), for pages that need no interaction;
- ``DevToolsPage``: one page driven over the DevTools protocol (typing, keys, clicks,
  and waiting for a condition), through ``websockets``, which ``uvicorn[standard]``
  already installs.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM_TIMEOUT_SECONDS = 90
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        message = "chromium is not installed (apt-get install chromium); the page tests need it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def rendered_dom(url: str, profile: Path, *, budget_ms: int = 10000) -> str:
    """The DOM of ``url`` after its scripts ran, in a Chromium that can reach 127.0.0.1
    only: any other host (a CDN) does not resolve."""
    result = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--dump-dom",
            f"--virtual-time-budget={budget_ms}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=CHROMIUM_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class DevToolsPage:
    """A headless Chromium showing ``url``, driven over the DevTools protocol."""

    def __init__(self, url: str, profile: Path) -> None:
        self.url = url
        self.profile = profile
        self._ids = itertools.count(1)

    def __enter__(self) -> DevToolsPage:
        from websockets.sync.client import connect

        self.profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                chromium(),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                self.url,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = self._debugging_port()
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            (page,) = [target for target in targets if target["type"] == "page"]
            self._connection = contextlib.ExitStack()
            self.socket = self._connection.enter_context(
                connect(page["webSocketDebuggerUrl"], max_size=None)
            )
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._connection.close()
        self._stop()

    def _stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def _debugging_port(self) -> int:
        """Chromium writes the port it chose into its profile once it listens."""
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + CHROMIUM_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if marker.is_file() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            if self.process.poll() is not None:
                pytest.fail(f"chromium exited with {self.process.returncode}")
            time.sleep(0.05)
        pytest.fail("chromium did not open its DevTools port")

    def send(self, method: str, **params: Any) -> dict:
        message_id = next(self._ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=CHROMIUM_TIMEOUT_SECONDS))
            if message.get("id") == message_id:
                assert "error" not in message, message["error"]
                return message["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float = 30.0) -> Any:
        """The value of ``expression`` once it is truthy; fails after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"not true within {timeout} s: {expression}")
            time.sleep(0.1)

    def type_text(self, text: str) -> None:
        """Type into the focused element, one key at a time, as a person would."""
        for character in text:
            self.send("Input.dispatchKeyEvent", type="keyDown", text=character, key=character)
            self.send("Input.dispatchKeyEvent", type="keyUp", key=character)

    def press(self, key: str, key_code: int) -> None:
        """Press a named key (``ArrowDown`` 40, ``Enter`` 13, ``Escape`` 27)."""
        common = {"key": key, "code": key, "windowsVirtualKeyCode": key_code}
        if key == "Enter":
            common["text"] = "\r"
        self.send("Input.dispatchKeyEvent", type="keyDown", **common)
        self.send("Input.dispatchKeyEvent", type="keyUp", **common)

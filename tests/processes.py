"""A subprocess whose output the tests read line by line while it runs (serve, the
scheduler, `up`): a thread collects the lines as they come, so a pipe never fills up."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path


class OutputProcess:
    """``command`` running with its stdout (and stderr, unless ``separate_stderr``)
    collected into ``lines``; with ``separate_stderr``, stderr goes to ``errors``."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        separate_stderr: bool = False,
    ) -> None:
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._cursor = 0
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=os.environ.copy() if env is None else env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if separate_stderr else subprocess.STDOUT,
            text=True,
        )
        stdout_reader = threading.Thread(target=self._read, args=(self.process.stdout, self.lines))
        self._readers = [stdout_reader]
        if separate_stderr:
            self._readers.append(
                threading.Thread(target=self._read, args=(self.process.stderr, self.errors))
            )
        for reader in self._readers:
            reader.daemon = True
            reader.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def _finished_reading(self) -> bool:
        """Whether the process has exited and every line it wrote has been read."""
        if self.process.poll() is None:
            return False
        for reader in self._readers:
            reader.join(5)
        return True

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        """The first match of the regex ``pattern`` in a line; fails after ``timeout`` s
        or once the process has exited without printing it."""
        deadline = time.monotonic() + timeout
        while True:
            exited = self._finished_reading()
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            if exited or time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} from {self.describe()}")
            time.sleep(0.05)

    def next_line(self, timeout: float = 60) -> str:
        """The next stdout line after the last one this returned."""
        deadline = time.monotonic() + timeout
        while self._cursor >= len(self.lines):
            if self._finished_reading() and self._cursor >= len(self.lines):
                raise AssertionError(f"no further line from {self.describe()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no line within {timeout} s from {self.describe()}")
            time.sleep(0.05)
        self._cursor += 1
        return self.lines[self._cursor - 1]

    def signal_and_wait(self, stop_signal: signal.Signals, timeout: float = 10) -> int:
        """Send ``stop_signal``; the exit status once it exits (killed after ``timeout``)."""
        self.process.send_signal(stop_signal)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        """Kill -9 unless it has exited, and collect what it wrote."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        for reader in self._readers:
            reader.join(5)

    def describe(self) -> str:
        """The command, its status and everything it wrote, for a failure message."""
        said = "\n".join(self.lines)
        if self.errors:
            said += "\n--- stderr ---\n" + "\n".join(self.errors[-60:])
        return f"{self.process.args} (status {self.process.poll()}):\n{said}"

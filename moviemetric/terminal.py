"""The terminal's progress sink: one rich progress bar per task a step reports.

Part of the composition root (the CLI draws it); steps only see ``ProgressSink``.
Bars go to stderr, so a command's stdout stays its result.
"""

from __future__ import annotations

import logging
import sys
import threading

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class TerminalSink:
    """A ``ProgressSink`` drawing rich progress bars; use it as a context manager."""

    def __init__(self) -> None:
        self._console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=self._console,
            transient=True,
            # bars are for a person at a terminal: drawn to a log they are noise, and
            # drawing them costs a loaded core (2% of a backfill's CPU at rich's 10 Hz)
            disable=not self._console.is_terminal,
            refresh_per_second=4,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> TerminalSink:
        self._progress.start()
        # While the bars are drawn, log lines meant for the terminal (a retry's warning)
        # go above them: rich stands in for sys.stderr, so point stderr handlers at it.
        self._handlers = [
            handler
            for handler in logging.getLogger().handlers
            if type(handler) is logging.StreamHandler and handler.stream is sys.__stderr__
        ]
        self._streams = [handler.setStream(sys.stderr) for handler in self._handlers]
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handler, stream in zip(self._handlers, self._streams, strict=True):
            if stream is not None:
                handler.setStream(stream)
        self._progress.stop()

    def progress(self, task: str, done: int, total: int | None, detail: str = "") -> None:
        with self._lock:
            task_id = self._tasks.get(task)
            if task_id is None:
                task_id = self._progress.add_task(task, total=total, detail="")
                self._tasks[task] = task_id
            self._progress.update(task_id, completed=done, total=total, detail=detail[:50])

    def message(self, text: str) -> None:
        self._progress.console.print(text, highlight=False)

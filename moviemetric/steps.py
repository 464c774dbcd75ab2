"""The shape every step of the chain shares: options in, progress out, a typed result back.

A step (load, transform, index, publish) takes the process's one ``Warehouse`` handle, its
``StepOptions`` and a ``ProgressSink``, and returns a ``StepResult``; it raises a
``MovieMetricError`` when it fails. It never writes to the terminal: the CLI draws
progress bars from the sink, and the scheduler records the same results in its run
history, so neither parses text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True)
class Candidate:
    """A tested build not yet published: what the index and publish steps work on.

    The transform's build step returns it; the chain hands it on in ``StepOptions``
    (never through globals), the index step adds the search index it built for it.
    """

    schema: str  # where its artifacts are (artifacts__build; artifacts when published)
    token: str = ""  # the build's token, the build schema's comment; "" when published
    build_id: str = ""  # dbt's invocation id
    version_before: int = 0  # the data version published when the build started
    index_uid: str | None = None  # Meilisearch: the index built for it, swapped at publish


@dataclass(frozen=True)
class StepOptions:
    """What a run asks of each step."""

    full_refresh: bool = False
    # dbt selection for the transform (e.g. "+movie_trending_daily"); None builds all
    select: str | None = None
    # the build the index and publish steps work on; None: the published artifacts
    candidate: Candidate | None = None


class ProgressSink(Protocol):
    """Where a step reports how far it is; implementations must be thread-safe."""

    def progress(self, task: str, done: int, total: int | None, detail: str = "") -> None:
        """``task`` (e.g. "details", "dbt build") has ``done`` of ``total`` units done."""

    def message(self, text: str) -> None:
        """A line worth showing a person (what the step is doing, what it skipped)."""


class NullSink:
    """Reports nowhere: for steps run by tests and by services without a terminal."""

    def progress(self, task: str, done: int, total: int | None, detail: str = "") -> None:
        return None

    def message(self, text: str) -> None:
        return None


@dataclass(frozen=True)
class StepResult:
    """What a step did: the CLI prints it, the scheduler records it."""

    step: str
    started_at: datetime
    ended_at: datetime
    # rows written per table (raw tables for the load, artifacts for the transform)
    rows: dict[str, int] = field(default_factory=dict)
    models: int = 0  # dbt models built
    tests: int = 0  # dbt data and unit tests passed
    version: int | None = None  # the data version published, if the step published one
    summary: str = ""  # one line for people
    details: dict[str, object] = field(default_factory=dict)  # step-specific figures
    # the build this step left for the next ones (transform's build, index), if any
    candidate: Candidate | None = None

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    def __str__(self) -> str:
        return f"{self.step}: {self.summary} ({self.seconds:.1f} s)"


def utc_now() -> datetime:
    return datetime.now(UTC)

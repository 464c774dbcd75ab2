"""A signal dlt takes over mid-load (it traps SIGINT and SIGTERM during its steps and
raises them wrapped in its step error) stops the load as an interrupt, not as a bug."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from dlt.common.exceptions import SignalReceivedException
from dlt.normalize.normalize import Normalize
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.pipeline.pipeline import Pipeline

from ingest.sandbox import Sandbox
from tests.sandbox_loads import load_sandbox


def test_a_signal_during_dlt_s_normalize_is_an_interrupt(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    def signalled(*args, **kwargs):
        raise SignalReceivedException(signal.SIGTERM)

    monkeypatch.setattr(Normalize, "spool_files", signalled)
    with Sandbox(movies=100, seed=3) as sandbox, pytest.raises(KeyboardInterrupt) as raised:
        load_sandbox(monkeypatch, sandbox, database_url, tmp_path)

    assert type(raised.value) is KeyboardInterrupt  # not dlt's wrapped step error


def test_a_signal_while_dlt_syncs_with_the_warehouse_is_an_interrupt(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    """dlt's sync step catches the KeyboardInterrupt that SIGTERM raises here (cli.py)
    and wraps it in its own step error."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Pipeline, "_restore_state_from_destination", interrupted)
    with Sandbox(movies=100, seed=3) as sandbox, pytest.raises(KeyboardInterrupt) as raised:
        load_sandbox(monkeypatch, sandbox, database_url, tmp_path)

    assert type(raised.value) is KeyboardInterrupt
    assert isinstance(raised.value.__cause__, PipelineStepFailed)  # dlt did wrap it

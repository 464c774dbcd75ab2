"""A signal dlt takes over mid-load (it traps SIGINT and SIGTERM during its steps and
raises them wrapped in its step error) stops the load as an interrupt, not as a bug."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from dlt.common.exceptions import SignalReceivedException
from dlt.normalize.normalize import Normalize

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

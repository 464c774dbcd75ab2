"""The command log: everything a command's parts log, in one file under MOVIEMETRIC_HOME.

The terminal gets progress and at most one error line; dbt's and dlt's full output
goes through Python logging into ``MOVIEMETRIC_HOME/logs/moviemetric.log`` (rotated),
with secrets (TMDB keys, Bearer tokens, passwords in URLs) masked before they are
written, so the file can be attached to a bug report.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

LOG_FILE_NAME = "moviemetric.log"
_MAX_BYTES = 20 * 1024 * 1024
_BACKUPS = 3
_HANDLER_NAME = "moviemetric-command-log"
_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"

# (pattern, replacement): each keeps the name of the secret and masks its value
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(api_key|access_token|token|password|passwd)=([^&\s'\"]+)"), r"\1=***"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    (
        re.compile(
            r"(?i)\b(PGPASSWORD|MEILI_MASTER_KEY|TMDB_API_KEY|TMDB_ACCESS_TOKEN)"
            r"(['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"
        ),
        r"\1\2***",
    ),
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+@"), r"\1***@"),
)


def redact_secrets(text: str) -> str:
    """``text`` with API keys, tokens and passwords masked."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks secrets in the whole line (message and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_secrets(super().format(record))


def log_file(home: Path) -> Path:
    return home / "logs" / LOG_FILE_NAME


def attach_log_file(home: Path) -> Path | None:
    """Send every record at DEBUG and above to the command log; returns its path.

    Returns None (and logs nothing to a file) when the folder cannot be written, so a
    read-only home never stops a command.
    """
    path = log_file(home)
    root = logging.getLogger()
    for handler in _command_log_handlers():
        if Path(handler.baseFilename) == path:
            return path
    detach_log_file()  # one command log per process: a second command (tests) moves it
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8"
        )
    except OSError:
        return None
    handler.set_name(_HANDLER_NAME)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(RedactingFormatter(_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return path


def _command_log_handlers() -> list[logging.FileHandler]:
    return [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.FileHandler) and handler.get_name() == _HANDLER_NAME
    ]


def detach_log_file() -> None:
    """Stop writing the command log (before its folder goes away)."""
    root = logging.getLogger()
    for handler in _command_log_handlers():
        root.removeHandler(handler)
        handler.close()

"""The command log masks secrets before they reach the file."""

from __future__ import annotations

import logging

import pytest

from moviemetric.logs import attach_log_file, redact_secrets


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /3/movie/550?api_key=abc123def&language=en", "abc123def"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("connecting to postgresql://mm:s3cr3t@db:5432/moviemetric", "s3cr3t"),
        ("env PGPASSWORD=topsecret dbt build", "topsecret"),
        ("{'TMDB_ACCESS_TOKEN': 'tok-987'}", "tok-987"),
        ("host=db password=pw42 user=mm", "pw42"),
    ],
)
def test_secrets_are_masked(line, secret):
    masked = redact_secrets(line)
    assert secret not in masked
    assert "***" in masked


def test_text_without_secrets_is_unchanged():
    line = "12 of 170 OK created sql table model marts.dim_movies [SELECT 10258 in 0.41s]"
    assert redact_secrets(line) == line


def test_the_log_file_gets_records_masked(tmp_path):
    path = attach_log_file(tmp_path)
    root = logging.getLogger()
    try:
        logging.getLogger("ingest.test").warning("retrying /3/movie/1?api_key=k3y attempt 2")
        for handler in root.handlers:  # this file's handler only: others may hold
            if getattr(handler, "baseFilename", None) == str(path):  # a closed stream
                handler.flush()
        text = path.read_text()
    finally:
        for handler in [h for h in root.handlers if getattr(h, "baseFilename", None) == str(path)]:
            root.removeHandler(handler)
            handler.close()
    assert "retrying /3/movie/1?api_key=*** attempt 2" in text
    assert "k3y" not in text

"""TMDB's daily movie ID export, read as a stream, and a compact set of movie ids.

The export (``movie_ids_MM_DD_YYYY.json.gz`` under ``TMDB_EXPORTS_URL``) lists every
valid movie of a day, one JSON object per line: ``adult``, ``id``, ``original_title``,
``popularity``, ``video``. About a million lines on TMDB: ``IdExport`` decompresses and
parses it line by line from the HTTP response, so the file is never held whole, and
``IdSet`` keeps the ids a load has seen or knows as a bitmap (one bit per id up to the
largest: 200 KB for TMDB's ids, where a Python set of a million ints takes about 60 MB).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
import requests
import urllib3

from moviemetric.errors import MovieMetricError

# The largest id an export line may carry: TMDB's ids are below 2M; a bitmap up to
# 2^31 would still be 256 MiB, so a line above it is an error, not a resize.
MAX_MOVIE_ID = 2**31 - 1
EXPORT_BATCH = 1_000  # export lines per page handed to dlt


class IdExportError(MovieMetricError):
    """The daily ID export is missing or could not be read; the message names the file."""


def export_file_name(day: date) -> str:
    """``movie_ids_MM_DD_YYYY.json.gz``, the name of the movie ID export of ``day``."""
    return f"movie_ids_{day:%m_%d_%Y}.json.gz"


@dataclass(frozen=True)
class ExportEntry:
    """One export line: a movie that exists on the export's day."""

    id: int
    popularity: float
    adult: bool


class IdExport:
    """One day's ID export, streamed from an open HTTP response (``stream=True``)."""

    def __init__(self, day: date, url: str, response: requests.Response) -> None:
        self.day = day
        self.url = url
        self._response = response

    def batches(
        self, *, include_adult: bool, size: int = EXPORT_BATCH
    ) -> Iterator[list[ExportEntry]]:
        """The export's entries in pages of ``size``, adult ones only if ``include_adult``.

        A line that is not an export entry, a truncated file or a dropped connection
        raises IdExportError naming the file and the line; the response is closed
        whichever way the iteration ends.
        """
        number = 0
        batch: list[ExportEntry] = []
        try:
            with self._response, gzip.GzipFile(fileobj=self._response.raw) as lines:
                for number, line in enumerate(lines, 1):
                    if not line.strip():
                        continue
                    entry = self._entry(line, number)
                    if entry.adult and not include_adult:
                        continue
                    batch.append(entry)
                    if len(batch) >= size:
                        yield batch
                        batch = []
        except (OSError, EOFError, zlib.error, urllib3.exceptions.HTTPError) as exc:
            raise IdExportError(
                f"the daily ID export {self.url} could not be read after line {number}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if batch:
            yield batch

    def _entry(self, line: bytes, number: int) -> ExportEntry:
        try:
            row: Any = orjson.loads(line)
            movie_id, popularity = row["id"], row["popularity"]
            adult = row.get("adult")
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise self._bad_line(number, line, f"{type(exc).__name__}: {exc}") from None
        if (
            not isinstance(movie_id, int)
            or isinstance(movie_id, bool)
            or not 0 < movie_id <= MAX_MOVIE_ID
        ):
            raise self._bad_line(number, line, f"id must be a positive integer, got {movie_id!r}")
        if not isinstance(popularity, int | float) or isinstance(popularity, bool):
            raise self._bad_line(number, line, f"popularity must be a number, got {popularity!r}")
        return ExportEntry(id=movie_id, popularity=float(popularity), adult=adult is True)

    def _bad_line(self, number: int, line: bytes, reason: str) -> IdExportError:
        shown = line[:120].decode("utf-8", "replace").rstrip()
        return IdExportError(
            f"line {number} of the daily ID export {self.url} is not an export entry "
            f"({reason}): {shown!r}"
        )


class IdSet:
    """A set of movie ids (1..MAX_MOVIE_ID) as a bitmap that grows to the largest id."""

    def __init__(self, ids: Iterable[int] = ()) -> None:
        self._bits = bytearray()
        self._count = 0
        for movie_id in ids:
            self.add(movie_id)

    def add(self, movie_id: int) -> bool:
        """Add ``movie_id``; True when it was not in the set."""
        byte, bit = divmod(movie_id, 8)
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits) // 2)))
        mask = 1 << bit
        if self._bits[byte] & mask:
            return False
        self._bits[byte] |= mask
        self._count += 1
        return True

    def __contains__(self, movie_id: object) -> bool:
        if not isinstance(movie_id, int):
            return False
        byte, bit = divmod(movie_id, 8)
        return 0 <= byte < len(self._bits) and bool(self._bits[byte] & (1 << bit))

    def __len__(self) -> int:
        return self._count

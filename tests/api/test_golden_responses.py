"""Golden response bodies: what the API answers on the fixed sandbox warehouse.

The session's published dataset (``tests/api/published_dataset.py``: the sandbox at a
fixed seed, size and date, loaded for 3 days, then built and published) is the same on
every run, so every body below is too; none of these endpoints has a volatile field
(``/health`` has, and is not here). A refactor of the API or of the artifacts it reads
must leave each body identical, key order and float digits included.

A change that means to change a body rewrites the files, and the diff shows what moved:

    MOVIEMETRIC_UPDATE_GOLDEN=1 .venv/bin/pytest tests/api/test_golden_responses.py
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.anyio

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "api_golden"
UPDATE = os.environ.get("MOVIEMETRIC_UPDATE_GOLDEN") == "1"

# Movie ids of the dataset: 1572 the most popular (no genres), 1652 first on the latest
# trending day, 938 rated and trending, 152 with a budget, 428 without a runtime and
# with a Japanese original title, 2 without recommendations; 1239 is an adult title
# (loaded, not in the catalog).
REQUESTS = (
    # GET /movies: filters, sorts and pages
    "/movies",
    "/movies?sort=popularity&limit=5",
    "/movies?sort=rating&limit=10",
    "/movies?sort=-rating&limit=10",
    "/movies?sort=votes&limit=7&offset=7",
    "/movies?sort=-votes&limit=10",
    "/movies?sort=release_date&limit=10",
    "/movies?sort=-release_date&limit=10&offset=40",
    "/movies?sort=title&limit=10",
    "/movies?sort=-title&year=2013&min_rating=5&limit=100",
    "/movies?genre=dRaMa&limit=25&offset=25",
    "/movies?genre=18&limit=25&offset=25",
    "/movies?genre=Horror&min_rating=6.5&sort=-votes",
    "/movies?year=2025&sort=title&limit=100",
    "/movies?min_rating=8&sort=-votes&limit=20",
    "/movies?genre=Space%20Opera",
    "/movies?genre=drama&offset=1000",
    "/movies?offset=10000",
    # GET /movies/{id}
    "/movies/1572",
    "/movies/1652",
    "/movies/938",
    "/movies/152",
    "/movies/428",
    "/movies/2",
    # GET /movies/trending
    "/movies/trending",
    "/movies/trending?limit=100",
    "/movies/trending?date=2026-01-15&limit=10",
    "/movies/trending?date=2020-01-01",
    # GET /movies/{id}/recommendations
    "/movies/938/recommendations",
    "/movies/1572/recommendations?limit=3",
    "/movies/152/recommendations?limit=100",
    "/movies/2/recommendations",
    # GET /analytics/*
    "/analytics/top-genres",
    "/analytics/top-genres?sort=avg_rating&limit=5",
    "/analytics/top-genres?date=2026-01-15&sort=new_release_count",
    "/analytics/top-genres?date=2020-01-01",
    # GET /search (PostgreSQL backend)
    "/search?q=the%20silent",
    "/search?q=silnet&limit=5",
    "/search?genre=drama&decade=1990&limit=5",
    "/search?q=night&min_rating=6&language=en&limit=5&offset=2",
    "/analytics/genre-stats",
    "/analytics/genre-stats?from=2026-01-15&to=2026-01-17&genre=Drama",
    "/analytics/genre-stats?from=2026-01-16&genre=18",
    "/analytics/genre-stats?to=2026-01-15",
    "/analytics/genre-stats?from=2020-01-01&to=2020-01-31",
    "/analytics/ratings-by-decade",
    # 404
    "/movies/999999",
    "/movies/1239",
    "/movies/999999/recommendations",
    "/movies/1239/recommendations",
    "/nowhere",
    # 422
    "/movies?limit=101",
    "/movies?limit=0",
    "/movies?offset=-1",
    "/movies?sort=bogus",
    "/movies?genre=Drama&genre=Horror",
    "/movies?year=abc",
    "/movies?year=1700",
    "/movies?min_rating=nan",
    "/movies?min_rating=11",
    "/movies/abc",
    "/movies/0",
    "/movies/trending?date=2026-13-01",
    "/movies/938/recommendations?limit=1000",
    "/analytics/top-genres?sort=bogus",
    "/analytics/top-genres?date=yesterday",
    "/analytics/genre-stats?from=2026-01-17&to=2026-01-15",
    "/analytics/genre-stats?from=2025-01-01&to=2026-01-17",
    "/analytics/genre-stats?from=2026-02-30",
    "/analytics/genre-stats?genre=Space%20Opera",
    "/search?genre=Space%20Opera",
    "/search?q=" + "x" * 201,
    "/search?offset=10001",
)


def golden_name(request: str) -> str:
    """The file name of a request's golden body: its path and query as a slug."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", request.strip("/")) + ".json"


def _canonical(document: object) -> str:
    """Key order counts: a body is compared as it is written, not as a set of keys."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


@pytest.mark.parametrize("request_path", REQUESTS)
async def test_response_body_is_the_golden_one(memory_client, request_path: str) -> None:
    response = await memory_client.get(request_path)
    answered = _canonical(
        {"request": request_path, "status": response.status_code, "body": response.json()}
    )
    golden = GOLDEN_DIR / golden_name(request_path)
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(answered, encoding="utf-8")
    assert golden.exists(), f"no golden body for {request_path}; see this module's docstring"
    assert answered == golden.read_text(encoding="utf-8"), request_path


def test_every_golden_file_has_its_request() -> None:
    """A request removed from REQUESTS takes its golden file with it."""
    names = {golden_name(request) for request in REQUESTS}
    assert len(names) == len(REQUESTS), "two requests share a golden file name"
    if UPDATE:
        for stale in {path.name for path in GOLDEN_DIR.glob("*.json")} - names:
            (GOLDEN_DIR / stale).unlink()
    assert {path.name for path in GOLDEN_DIR.glob("*.json")} == names

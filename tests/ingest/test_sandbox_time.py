"""The sandbox's clock: the Date header, advance(), and /movie/changes against ground truth."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest

from ingest.sandbox import Sandbox
from moviemetric.errors import MovieMetricError

START = date(2026, 2, 10)


@pytest.fixture
def sandbox():
    with Sandbox(movies=1000, seed=21, catalog_date=START) as running:
        yield running


@pytest.fixture
def client(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.access_token}"}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as http:
        yield http


def header_date(response: httpx.Response) -> date:
    return parsedate_to_datetime(response.headers["date"]).astimezone(UTC).date()


def changes_from_api(client: httpx.Client, start: date, end: date) -> set[int]:
    params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    first = client.get("/movie/changes", params=params).json()
    ids = {row["id"] for row in first["results"]}
    for page in range(2, first["total_pages"] + 1):
        ids |= {
            row["id"]
            for row in client.get("/movie/changes", params={**params, "page": page}).json()[
                "results"
            ]
        }
    assert len(ids) == first["total_results"]
    return ids


def test_date_header_follows_the_catalog_date(sandbox, client):
    for path in ("/genre/movie/list", "/movie/1", "/discover/movie?page=900"):
        assert header_date(client.get(path)) == START
    assert header_date(httpx.get(f"{sandbox.base_url}/discover/movie")) == START  # 401 too
    assert sandbox.advance(3) == START + timedelta(days=3)
    assert sandbox.catalog_date == START + timedelta(days=3)
    assert header_date(client.get("/discover/movie")) == START + timedelta(days=3)


def test_advance_moves_popularity_and_adds_movies(sandbox, client):
    before = {
        row["id"]: row["popularity"] for row in client.get("/trending/movie/day").json()["results"]
    }
    ids_before = sandbox.catalog.movie_ids(START)
    sandbox.advance()
    day = START + timedelta(days=1)
    new_ids = sandbox.catalog.movie_ids(day) - ids_before
    assert new_ids
    for movie_id in new_ids:
        response = client.get(f"/movie/{movie_id}")
        assert response.status_code == 200
        assert response.json()["popularity"] == sandbox.catalog.popularity_of(movie_id, day)
    moved = 0
    for movie_id, popularity in before.items():
        now = client.get(f"/movie/{movie_id}").json()["popularity"]
        moved += now != popularity
    assert moved > len(before) // 2


def test_new_movies_are_invisible_before_they_exist():
    with Sandbox(movies=500, seed=4, catalog_date=START) as sandbox:
        catalog = sandbox.catalog
        future = catalog.movie_ids(START + timedelta(days=2)) - catalog.movie_ids(START)
        movie_id = max(future)
        assert catalog.created_date(movie_id) == START + timedelta(days=2)
        assert catalog.created_date(min(catalog.movie_ids(START))) is None
        params = {"api_key": sandbox.api_key}
        for days, status in ((0, 404), (1, 404), (1, 200)):
            sandbox.advance(days)
            url = f"{sandbox.base_url}/movie/{movie_id}"
            assert httpx.get(url, params=params).status_code == status
        listed = httpx.get(
            f"{sandbox.base_url}/discover/movie",
            params={**params, "sort_by": "primary_release_date.desc", "include_adult": "true"},
        ).json()
        assert listed["total_results"] == len(catalog.movie_ids(START + timedelta(days=2)))


def test_changes_match_the_ground_truth(sandbox, client):
    sandbox.advance(5)
    today = sandbox.catalog_date
    for start, end in [
        (today, today),
        (today - timedelta(days=14), today),
        (START, START + timedelta(days=2)),
    ]:
        api = changes_from_api(client, start, end)
        assert api == sandbox.catalog.changed_ids(start, end)
        assert api
    default = client.get("/movie/changes").json()
    assert {row["id"] for row in default["results"]} <= sandbox.catalog.changed_ids(today, today)
    assert default["total_results"] == len(sandbox.catalog.changed_ids(today, today))


def test_changes_of_the_future_are_empty(sandbox, client):
    tomorrow = sandbox.catalog_date + timedelta(days=1)
    body = client.get(
        "/movie/changes",
        params={"start_date": tomorrow.isoformat(), "end_date": tomorrow.isoformat()},
    ).json()
    assert body["results"] == [] and body["total_results"] == 0
    sandbox.advance(1)
    assert changes_from_api(client, tomorrow, tomorrow) == sandbox.catalog.changed_ids(
        tomorrow, tomorrow
    )


def test_changes_flag_adult_titles_and_list_vanished_ids_with_adult_null(sandbox, client):
    sandbox.advance(14)
    end = sandbox.catalog_date
    params = {"start_date": (end - timedelta(days=14)).isoformat(), "end_date": end.isoformat()}
    movies = {m["id"]: m for m in sandbox.catalog.movies_on(end)}
    first = client.get("/movie/changes", params=params).json()
    rows = list(first["results"])
    for page in range(2, first["total_pages"] + 1):
        rows += client.get("/movie/changes", params={**params, "page": page}).json()["results"]
    vanished = [row["id"] for row in rows if row["id"] not in movies]
    assert vanished, "TMDB's feed names deleted movies too"
    assert all(row["adult"] is None for row in rows if row["id"] not in movies)
    assert all(row["adult"] == movies[row["id"]]["adult"] for row in rows if row["id"] in movies)
    assert any(row["adult"] for row in rows if row["id"] in movies)
    for movie_id in vanished[:5]:
        assert client.get(f"/movie/{movie_id}").status_code == 404


def test_stopped_sandbox_has_no_url_and_restart_is_refused():
    sandbox = Sandbox(movies=100, seed=1, catalog_date=START)
    with pytest.raises(MovieMetricError, match="not running"):
        _ = sandbox.base_url
    sandbox.start()
    try:
        url = sandbox.base_url
        assert (
            httpx.get(f"{url}/genre/movie/list", params={"api_key": sandbox.api_key}).status_code
            == 200
        )
        with pytest.raises(MovieMetricError, match="already running"):
            sandbox.start()
    finally:
        sandbox.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/genre/movie/list", params={"api_key": sandbox.api_key})


def test_advance_refuses_going_back(sandbox):
    with pytest.raises(MovieMetricError, match="days=-1"):
        sandbox.advance(-1)


def test_changed_movies_are_served_as_the_catalog_says(sandbox, client):
    sandbox.advance(6)
    today = sandbox.catalog_date
    truth = {movie["id"]: movie for movie in sandbox.catalog.movies_on(today)}
    changed = sorted(sandbox.catalog.changed_ids(today, today) & set(truth))
    assert changed
    for movie_id in changed:
        body = client.get(f"/movie/{movie_id}", params={"append_to_response": "keywords,credits"})
        assert body.json() == truth[movie_id]


def test_without_a_date_the_catalog_follows_the_utc_clock():
    def today() -> date:
        return datetime.now(UTC).date()

    with Sandbox(movies=100, seed=2) as sandbox:
        before = today()
        response = httpx.get(
            f"{sandbox.base_url}/genre/movie/list", params={"api_key": sandbox.api_key}
        )
        after = today()
        assert header_date(response) in {before, after}
        assert sandbox.catalog_date in {before, after}
        sandbox.advance(2)
        assert sandbox.catalog_date in {before + timedelta(days=2), after + timedelta(days=2)}

"""The sandbox answers like TMDB v3: shapes, paging, filters, auth and errors, over real HTTP."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import httpx
import pytest

from ingest.sandbox import Sandbox

# The project's own TMDB v3 response fixtures (tests/fixtures/tmdb/README.md).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tmdb"
CATALOG_DATE = date(2026, 1, 15)
APPENDED = ("keywords", "credits")  # what append_to_response=keywords,credits adds


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_same_shape(ours, theirs, where: str = "body") -> None:
    """Same keys and JSON types as the fixture (null matches anything: nullable fields);
    lists are compared through their first elements."""
    if ours is None or theirs is None:
        return
    assert json_type(ours) == json_type(theirs), f"{where}: {ours!r} vs {theirs!r}"
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs), f"{where}: keys differ: {set(ours) ^ set(theirs)}"
        for key in theirs:
            assert_same_shape(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list) and ours and theirs:
        assert_same_shape(ours[0], theirs[0], f"{where}[0]")


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(movies=2000, seed=7, catalog_date=CATALOG_DATE) as running:
        yield running


@pytest.fixture
def client(sandbox):
    with httpx.Client(base_url=sandbox.base_url, params={"api_key": sandbox.api_key}) as http:
        yield http


def all_pages(client: httpx.Client, path: str, params: dict) -> tuple[list[dict], dict]:
    first = client.get(path, params={**params, "page": 1}).json()
    results = list(first["results"])
    for page in range(2, min(first["total_pages"], 500) + 1):
        response = client.get(path, params={**params, "page": page})
        assert response.status_code == 200, response.text
        results.extend(response.json()["results"])
    return results, first


# ----- shapes ----------------------------------------------------------------------


def test_genre_list_is_tmdbs_own(client):
    response = client.get("/genre/movie/list")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == fixture("genre-movie-list.json")


def test_discover_page_has_tmdbs_shape(client):
    body = client.get("/discover/movie").json()
    theirs = fixture("discover-movie.json")
    assert set(body) == set(theirs)
    assert len(body["results"]) == 20
    for item in body["results"]:
        assert_same_shape(item, theirs["results"][0], "discover result")


def test_movie_details_with_keywords_and_credits_have_tmdbs_shape(client, sandbox):
    movie_ids = sorted(sandbox.catalog.dated_movie_ids(CATALOG_DATE))
    theirs = fixture("movie-details.json")
    seen = {"keywords": False, "cast": False, "crew": False}
    for movie_id in movie_ids[10:40]:
        body = client.get(
            f"/movie/{movie_id}", params={"append_to_response": "keywords,credits"}
        ).json()
        assert body["id"] == movie_id
        assert_same_shape(body, theirs, "details")
        seen["keywords"] |= bool(body["keywords"]["keywords"])
        seen["cast"] |= bool(body["credits"]["cast"])
        seen["crew"] |= bool(body["credits"]["crew"])
    assert all(seen.values()), f"some list was always empty, so never compared: {seen}"


def test_details_without_append_have_no_keywords(client, sandbox):
    movie_id = min(sandbox.catalog.movie_ids(CATALOG_DATE))
    body = client.get(f"/movie/{movie_id}").json()
    assert "keywords" not in body and "credits" not in body
    assert body["id"] == movie_id
    theirs = {k: v for k, v in fixture("movie-details.json").items() if k not in APPENDED}
    assert_same_shape(body, theirs, "details")


def test_details_equal_the_catalog_ground_truth(client, sandbox):
    truth = {movie["id"]: movie for movie in sandbox.catalog.movies_on(CATALOG_DATE)}
    for movie_id in sorted(truth)[::97]:
        body = client.get(
            f"/movie/{movie_id}", params={"append_to_response": "keywords,credits"}
        ).json()
        assert body == truth[movie_id]


def test_changes_have_tmdbs_shape(client):
    body = client.get(
        "/movie/changes", params={"start_date": "2026-01-10", "end_date": "2026-01-15"}
    ).json()
    theirs = fixture("movie-changes.json")
    assert body["total_results"] > 0
    assert_same_shape(body, theirs, "changes")


def test_trending_is_a_list_page_by_popularity(client, sandbox):
    body = client.get("/trending/movie/day").json()
    theirs = fixture("trending-movie-day.json")
    assert set(body) == set(theirs)
    for row in body["results"]:
        assert_same_shape(row, theirs["results"][0], "trending result")
    item = body["results"][0]
    assert item["media_type"] == "movie"
    popularity = [row["popularity"] for row in body["results"]]
    assert popularity == sorted(popularity, reverse=True)
    assert not any(row["adult"] for row in body["results"])
    week = client.get("/trending/movie/week").json()["results"]
    assert [row["id"] for row in week] != [row["id"] for row in body["results"]]


# ----- paging and filters ----------------------------------------------------------------


def test_discover_pages_cover_a_date_window_exactly_once(client, sandbox):
    params = {"primary_release_date.gte": "1990-01-01", "primary_release_date.lte": "2015-12-31"}
    results, first = all_pages(client, "/discover/movie", params)
    ids = [row["id"] for row in results]
    assert len(ids) == len(set(ids)) == first["total_results"]
    expected = {
        movie["id"]
        for movie in sandbox.catalog.movies_on(CATALOG_DATE)
        if not movie["adult"]
        and movie["release_date"]
        and "1990-01-01" <= movie["release_date"] <= "2015-12-31"
    }
    assert set(ids) == expected
    keys = [(-row["popularity"], row["id"]) for row in results]
    assert keys == sorted(keys), "popularity.desc with ties broken by id"


@pytest.mark.parametrize(
    ("sort_by", "key"),
    [
        ("popularity.asc", lambda row: (row["popularity"], row["id"])),
        ("primary_release_date.asc", lambda row: (row["release_date"], row["id"])),
        ("primary_release_date.desc", lambda row: (_negated(row["release_date"]), row["id"])),
        ("vote_count.desc", lambda row: (-row["vote_count"], row["id"])),
        ("vote_average.desc", lambda row: (-row["vote_average"], row["id"])),
    ],
)
def test_discover_sort_orders(client, sort_by, key):
    params = {
        "sort_by": sort_by,
        "primary_release_date.gte": "2000-01-01",
        "primary_release_date.lte": "2020-12-31",
    }
    results, _ = all_pages(client, "/discover/movie", params)
    assert len(results) > 100
    assert [key(row) for row in results] == sorted(key(row) for row in results)


def _negated(iso: str) -> tuple[int, ...]:
    return tuple(-int(part) for part in iso.split("-"))


def test_date_filters_are_inclusive_and_skip_undated_movies(client, sandbox):
    movies = sandbox.catalog.movies_on(CATALOG_DATE)
    day = next(m["release_date"] for m in movies if m["release_date"] and not m["adult"])
    body = client.get(
        "/discover/movie",
        params={"primary_release_date.gte": day, "primary_release_date.lte": day},
    ).json()
    expected = {m["id"] for m in movies if m["release_date"] == day and not m["adult"]}
    assert {row["id"] for row in body["results"]} == expected
    assert body["total_results"] == len(expected) >= 1

    everything = client.get("/discover/movie", params={"include_adult": "true"}).json()
    dated = client.get(
        "/discover/movie",
        params={
            "include_adult": "true",
            "primary_release_date.gte": "1800-01-01",
            "primary_release_date.lte": "2100-12-31",
        },
    ).json()
    assert everything["total_results"] == len(movies)
    assert dated["total_results"] == len(sandbox.catalog.dated_movie_ids(CATALOG_DATE))
    assert dated["total_results"] < everything["total_results"]


def test_include_adult_adds_the_adult_titles(client, sandbox):
    movies = sandbox.catalog.movies_on(CATALOG_DATE)
    adult = sum(movie["adult"] for movie in movies)
    assert adult > 0
    without = client.get("/discover/movie").json()["total_results"]
    with_adult = client.get("/discover/movie", params={"include_adult": "true"}).json()
    assert without == len(movies) - adult
    assert with_adult["total_results"] == len(movies)


def test_page_cap_with_true_totals_beyond_500_pages():
    with (
        Sandbox(movies=12_000, seed=3, catalog_date=CATALOG_DATE) as big,
        httpx.Client(base_url=big.base_url, params={"api_key": big.api_key}) as http,
    ):
        params = {
            "primary_release_date.gte": "1850-01-01",
            "primary_release_date.lte": "2030-12-31",
        }
        body = http.get("/discover/movie", params={**params, "page": 500}).json()
        assert body["total_pages"] > 500
        assert body["total_results"] > 10_000
        assert body["page"] == 500 and len(body["results"]) == 20
        over = http.get("/discover/movie", params={**params, "page": 501})
        assert over.status_code == 400
        assert over.json() == fixture("invalid-page.json")


@pytest.mark.parametrize("page", ["0", "abc", "-3", "1.5"])
def test_bad_page_values_get_status_code_22(client, page):
    response = client.get("/discover/movie", params={"page": page})
    assert response.status_code == 400
    assert response.json() == fixture("invalid-page.json")


def test_page_past_the_last_one_is_empty(client):
    body = client.get(
        "/discover/movie",
        params={"primary_release_date.gte": "2001-01-01", "primary_release_date.lte": "2001-12-31"},
    ).json()
    beyond = client.get(
        "/discover/movie",
        params={
            "primary_release_date.gte": "2001-01-01",
            "primary_release_date.lte": "2001-12-31",
            "page": body["total_pages"] + 1,
        },
    ).json()
    assert beyond["results"] == []
    assert beyond["total_results"] == body["total_results"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"primary_release_date.gte": "2020-13-01"}, "primary_release_date.gte"),
        ({"primary_release_date.lte": "yesterday"}, "primary_release_date.lte"),
        ({"sort_by": "title.asc"}, "sort_by"),
        ({"include_adult": "maybe"}, "include_adult"),
    ],
)
def test_bad_query_values_get_422_naming_the_parameter(client, params, named):
    response = client.get("/discover/movie", params=params)
    assert response.status_code == 422
    body = response.json()
    assert_same_shape(body, fixture("validation-error.json"))
    assert named in body["errors"][0]


# ----- auth and errors ----------------------------------------------------------------


def test_both_credential_styles_work(sandbox):
    by_key = httpx.get(f"{sandbox.base_url}/genre/movie/list", params={"api_key": sandbox.api_key})
    by_token = httpx.get(
        f"{sandbox.base_url}/genre/movie/list",
        headers={"Authorization": f"Bearer {sandbox.access_token}"},
    )
    assert by_key.status_code == by_token.status_code == 200


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({}, {}),
        ({"api_key": "wrong"}, {}),
        ({}, {"Authorization": "Bearer wrong"}),
        ({}, {"Authorization": "sandbox-access-token"}),
    ],
)
@pytest.mark.parametrize("path", ["/discover/movie", "/movie/2", "/movie/changes"])
def test_bad_credentials_get_401_status_code_7(sandbox, params, headers, path):
    response = httpx.get(f"{sandbox.base_url}{path}", params=params, headers=headers)
    assert response.status_code == 401
    assert response.json() == fixture("invalid-api-key.json")


@pytest.mark.parametrize("movie_id", ["1", "99999999", "abc"])
def test_unknown_movie_gets_404_status_code_34(client, movie_id):
    response = client.get(f"/movie/{movie_id}")
    assert response.status_code == 404
    assert response.json() == fixture("resource-not-found.json")


def test_unknown_path_gets_404(client):
    assert client.get("/tv/popular").status_code == 404


def test_changes_longer_than_14_days_get_422(client):
    ok = client.get("/movie/changes", params={"start_date": "2026-01-01", "end_date": "2026-01-15"})
    assert ok.status_code == 200
    response = client.get(
        "/movie/changes", params={"start_date": "2026-01-01", "end_date": "2026-01-16"}
    )
    assert response.status_code == 422
    assert response.json() == fixture("invalid-date-range.json")
    backwards = client.get(
        "/movie/changes", params={"start_date": "2026-01-10", "end_date": "2026-01-09"}
    )
    assert backwards.status_code == 422
    assert "end_date" in backwards.json()["errors"][0]


def test_request_counts_are_keyed_by_route_template(sandbox, client):
    sandbox.reset_counts()
    client.get("/movie/2")
    client.get("/movie/3")
    client.get("/discover/movie")
    client.get("/trending/movie/day")
    client.get("/genre/movie/list")
    client.get("/movie/changes")
    assert sandbox.request_counts == {
        "/movie/{movie_id}": 2,
        "/discover/movie": 1,
        "/trending/movie/{time_window}": 1,
        "/genre/movie/list": 1,
        "/movie/changes": 1,
    }
    sandbox.reset_counts()
    assert sum(sandbox.request_counts.values()) == 0


def _export(sandbox, day: date) -> httpx.Response:
    # TMDB's file host needs no API key
    return httpx.get(f"{sandbox.exports_url}/movie_ids_{day:%m_%d_%Y}.json.gz")


def test_the_daily_id_export_lists_every_movie_of_the_day(sandbox, client):
    """Gzipped JSON lines, one per movie visible that day: undated and adult ones too,
    which /discover/movie cannot list; popularity is the day's, as discover gives it."""
    response = _export(sandbox, CATALOG_DATE)
    assert response.status_code == 200
    lines = [json.loads(line) for line in gzip.decompress(response.content).splitlines()]
    assert {line["id"] for line in lines} == sandbox.catalog.movie_ids(CATALOG_DATE)
    assert len(lines) == len(sandbox.catalog.movie_ids(CATALOG_DATE))
    assert all(
        set(line) == {"adult", "id", "original_title", "popularity", "video"} for line in lines
    )
    undated = sandbox.catalog.movie_ids(CATALOG_DATE) - sandbox.catalog.dated_movie_ids(
        CATALOG_DATE
    )
    assert undated, "the catalog has undated movies"
    assert any(line["adult"] for line in lines)
    first = client.get("/discover/movie", params={"sort_by": "popularity.desc"}).json()
    by_id = {line["id"]: line for line in lines}
    for item in first["results"]:
        assert by_id[item["id"]]["popularity"] == item["popularity"]
        assert by_id[item["id"]]["original_title"] == item["original_title"]


def test_the_daily_id_export_exists_only_for_past_days_it_keeps(sandbox):
    yesterday = _export(sandbox, date.fromordinal(CATALOG_DATE.toordinal() - 1))
    assert yesterday.status_code == 200
    assert _export(sandbox, date.fromordinal(CATALOG_DATE.toordinal() + 1)).status_code == 404
    assert _export(sandbox, date.fromordinal(CATALOG_DATE.toordinal() - 91)).status_code == 404
    for name in ("movie_ids_13_01_2026.json.gz", "person_ids_01_15_2026.json.gz", "x"):
        assert httpx.get(f"{sandbox.exports_url}/{name}").status_code == 404

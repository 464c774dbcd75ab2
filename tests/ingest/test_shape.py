"""The raw row a /movie/{id} body becomes: credited people and collection."""

from datetime import UTC, datetime

import pytest
import requests
from dlt.sources.helpers.rest_client.auth import APIKeyAuth

from ingest.tmdb import FIRST_BILLED_CAST, QueryKeyAuth, shape_movie

LOADED_AT = datetime(2026, 1, 15, tzinfo=UTC)


def body(**extra: object) -> dict:
    return {
        "id": 550,
        "title": "Fight Club",
        "popularity": 61.4,
        "vote_average": 8.4,
        "vote_count": 26280,
        "genres": [{"id": 18, "name": "Drama"}],
        **extra,
    }


def test_people_are_directors_writers_and_the_first_billed_cast_each_role_once() -> None:
    cast = [
        {"id": 100 + order, "name": f"Actor {order}", "order": order}
        for order in reversed(range(FIRST_BILLED_CAST + 3))
    ]
    crew = [
        {"id": 7, "name": "Jim Uhls", "department": "Writing", "job": "Screenplay"},
        {"id": 1, "name": "David Fincher", "department": "Directing", "job": "Director"},
        {"id": 2, "name": "Someone", "department": "Directing", "job": "First Assistant Director"},
        {"id": 7, "name": "Jim Uhls", "department": "Writing", "job": "Story"},
        {"id": 8, "name": "Chuck Palahniuk", "department": "Writing", "job": "Novel"},
        {"id": 9, "name": "Laray Mayfield", "department": "Production", "job": "Casting"},
        {"name": "no id", "department": "Writing", "job": "Writer"},
    ]

    row = shape_movie(body(credits={"cast": cast, "crew": crew}), LOADED_AT, "http://tmdb")

    assert [(person["person_id"], person["role"]) for person in row["credits"]] == [
        (7, "writer"),
        (1, "director"),
        (8, "writer"),
        *((100 + order, "cast") for order in range(FIRST_BILLED_CAST)),
    ]
    assert {person["movie_id"] for person in row["credits"]} == {550}
    assert row["credits"][1]["name"] == "David Fincher"
    assert row["collection_id"] is None and row["collection_name"] is None


def test_a_movie_of_a_collection_names_it_and_one_without_credits_has_no_people() -> None:
    saga = {"id": 10, "name": "Star Wars Collection", "poster_path": "/a.jpg"}

    row = shape_movie(body(belongs_to_collection=saga), LOADED_AT, "http://tmdb")

    assert (row["collection_id"], row["collection_name"]) == (10, "Star Wars Collection")
    assert row["credits"] == []


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example/3/movie/550?append_to_response=keywords%2Ccredits",
        "https://api.example/3/genre/movie/list",
        "https://api.example/3/discover/movie?page=2&sort_by=popularity.desc",
        "https://api.example/3/movie/550#credits",
        "https://api.example/3/discover/movie?page=2#top?x",
    ],
)
def test_the_query_key_is_added_as_dlt_s_api_key_auth_adds_it(url: str) -> None:
    key = "k3y/with+odd&chars"
    ours = QueryKeyAuth(name="api_key", api_key=key, location="query")
    dlts = APIKeyAuth(name="api_key", api_key=key, location="query")
    prepared = requests.Request("GET", url).prepare()
    assert ours(prepared.copy()).url == dlts(prepared.copy()).url

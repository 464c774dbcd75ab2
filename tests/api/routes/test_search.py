"""GET /search on the PostgreSQL backend, through the app: relevance on the sandbox's
titles, the envelope, filters and facets against SQL, caching, and bad or hostile input.
Relevance in detail (typos, accents, tiers) is in tests/search/test_postgres_search.py."""

from __future__ import annotations

from collections import Counter

import pytest

from search import MAX_OFFSET, MAX_QUERY_LENGTH
from tests.conftest import MOVIE_SUMMARY_KEYS

pytestmark = pytest.mark.anyio


@pytest.fixture
def known_title(warehouse) -> dict:
    """The most popular movie whose folded title no other movie shares, with a word
    of 7 letters or more."""
    return warehouse.execute(
        "select search_index.movie_id, documents.title, search_index.title_words "
        "from artifacts.search_index as search_index "
        "join artifacts.search_documents as documents using (movie_id) "
        "where search_index.title_words ~ '[a-z]{7}' and (select count(*) "
        "from artifacts.search_index as other "
        "where other.title_words = search_index.title_words) = 1 "
        "order by search_index.popularity desc nulls last, search_index.movie_id limit 1"
    ).fetchone()


async def _ids(client, **params) -> list[int]:
    response = await client.get("/search", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_a_known_title_is_the_first_hit(client, known_title):
    assert (await _ids(client, q=known_title["title"]))[0] == known_title["movie_id"]


async def test_a_prefix_of_the_title_finds_it(client, known_title):
    prefix = known_title["title_words"][:-2]
    assert known_title["movie_id"] in await _ids(client, q=prefix)


async def test_a_title_with_one_typo_finds_it_in_the_top_3(client, known_title):
    words = known_title["title_words"].split()
    longest = max(range(len(words)), key=lambda index: len(words[index]))
    word = words[longest]
    words[longest] = word[:3] + word[4] + word[3] + word[5:]  # two letters swapped
    assert known_title["movie_id"] in (await _ids(client, q=" ".join(words)))[:3]


async def test_the_envelope_and_items_have_the_movies_shape(client, known_title):
    response = await client.get("/search", params={"q": known_title["title"], "limit": 5})
    body = response.json()
    assert list(body) == ["items", "total", "limit", "offset", "facets"]
    assert list(body["facets"]) == ["genres", "decades"]
    assert (body["limit"], body["offset"]) == (5, 0)
    item = body["items"][0]
    assert list(item) == MOVIE_SUMMARY_KEYS
    movie = (await client.get(f"/movies/{item['id']}")).json()
    assert item == {field: movie[field] for field in MOVIE_SUMMARY_KEYS}


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({}, "true"),
        ({"genre": "drama"}, "'Drama' = any(genres)"),
        ({"genre": "18", "decade": 1990}, "'Drama' = any(genres) and release_decade = 1990"),
        ({"year": 2013, "min_rating": 6}, "release_year = 2013 and vote_average >= 6"),
        ({"language": "fr"}, "original_language = 'fr'"),
    ],
)
async def test_filters_and_facets_agree_with_sql(client, warehouse, params, where):
    rows = warehouse.execute(
        "select movie_id, genres, release_decade from artifacts.search_documents "
        f"where {where} order by popularity desc nulls last, vote_count desc nulls last, movie_id"
    ).fetchall()
    body = (await client.get("/search", params={"limit": 100, **params})).json()
    assert body["total"] == len(rows) > 0
    assert [item["id"] for item in body["items"]] == [row["movie_id"] for row in rows[:100]]
    genres = Counter(genre for row in rows for genre in row["genres"])
    decades = Counter(str(row["release_decade"]) for row in rows if row["release_decade"])
    assert body["facets"] == {"genres": dict(genres), "decades": dict(decades)}


async def test_search_is_cached_by_data_version(client, known_title):
    params = {"q": known_title["title"], "limit": 3}
    first = await client.get("/search", params=params)
    second = await client.get("/search", params=params)
    assert first.headers["x-cache"] == "miss" and second.headers["x-cache"] == "hit"
    assert first.content == second.content and second.headers["etag"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"q": "x" * (MAX_QUERY_LENGTH + 1)}, "q"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": MAX_OFFSET + 1}, "offset"),
        ({"year": 1700}, "year"),
        ({"decade": 1995}, "decade"),
        ({"min_rating": "nan"}, "min_rating"),
        ({"min_rating": 11}, "min_rating"),
        ({"language": "EN"}, "language"),
        ({"language": "english"}, "language"),
        ({"genre": "Space Opera"}, "genre"),
    ],
)
async def test_bad_parameters_are_a_422_naming_them(client, query, parameter):
    response = await client.get("/search", params=query)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", parameter]]


async def test_an_unknown_genre_lists_the_known_ones(client):
    response = await client.get("/search", params={"q": "night", "genre": "Space Opera"})
    (error,) = response.json()["detail"]
    assert "unknown genre 'Space Opera'" in error["msg"]
    assert "known genres: Action, Adventure, Animation" in error["msg"]


HOSTILE = [
    "'; drop table artifacts.search_index; --",
    "1 or 1=1",
    "a & b | !c <-> d:*",
    "\\' \" ''",
    "\x00",
    "%00",
    "genre = 'Drama' OR 1=1",
    "x" * MAX_QUERY_LENGTH,
    "\u202e\ufeff夢",
]


@pytest.mark.parametrize("parameter", ["q", "genre", "year", "decade", "min_rating", "language"])
@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_values_are_text_or_a_422_never_a_500(memory_client, parameter, value):
    response = await memory_client.get("/search", params={parameter: value})
    if parameter == "q":
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["query", parameter]

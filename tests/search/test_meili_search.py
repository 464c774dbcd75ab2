"""The Meilisearch backend's query side at the HTTP level, its items from real PostgreSQL.

Every value of the query reaches Meilisearch as ``q`` or as a quoted filter value,
never as filter syntax; the page reads Meilisearch's documented search response and
the items from ``artifacts.movie_catalog`` in one statement, in hit order.
"""

from __future__ import annotations

import asyncio
import math

import psycopg
import pytest
from psycopg import sql
from pytest_httpserver import HTTPServer

from moviemetric.config import Settings
from search import SearchError, SearchQuery, search_backend
from search.meili import MeiliSearch, quote_filter_value, search_filters, search_payload
from tests.search.meili_server import FakeMeili

ITEM_COLUMNS = sql.SQL("movie.movie_id as id, movie.title")

# A search response as Meilisearch documents it (POST /indexes/{uid}/search).
RESPONSE = {
    "hits": [{"movie_id": 30}, {"movie_id": 10}, {"movie_id": 999}, {"movie_id": 20}],
    "query": "godfater",
    "processingTimeMs": 1,
    "limit": 4,
    "offset": 0,
    "estimatedTotalHits": 57,
    "facetDistribution": {
        "genres": {"Crime": 40, "Drama": 17},
        "release_decade": {"1970": 50, "1990": 7},
    },
    "facetStats": {},
}


@pytest.fixture
def catalog_url(make_database) -> str:
    url = make_database()
    with psycopg.connect(url) as conn:
        conn.execute("create schema artifacts")
        conn.execute("create table artifacts.movie_catalog (movie_id bigint, title text)")
        conn.execute(
            "insert into artifacts.movie_catalog values"
            " (10, 'The Godfather'), (20, 'The Godfather Part II'), (30, 'Godfather Jr.')"
        )
    return url


@pytest.fixture
def meili(httpserver: HTTPServer) -> FakeMeili:
    fake = FakeMeili(httpserver).install()
    fake.indexes["movies"] = {"primaryKey": "movie_id", "documents": {}, "settings": {}}
    fake.search_response = RESPONSE
    return fake


def _search(settings: Settings, url: str, query: SearchQuery):
    async def run():
        backend = search_backend(settings)
        assert isinstance(backend, MeiliSearch)
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as db:
                return await backend.search(db, query, item_columns=ITEM_COLUMNS)
        finally:
            await backend.close()

    return asyncio.run(run())


def test_a_search_sends_q_filters_facets_and_page_and_reads_items_in_hit_order(
    meili: FakeMeili, catalog_url: str
) -> None:
    settings = Settings(meili_url=meili.url, meili_master_key="key")
    query = SearchQuery(
        q="godfater",
        genre="Crime",
        year=1972,
        decade=1970,
        min_rating=7.5,
        language="en",
        limit=4,
        offset=0,
    )

    page = _search(settings, catalog_url, query)

    (request,) = meili.calls("POST", "/indexes/movies/search")
    assert request.headers["Authorization"] == "Bearer key"
    assert request.body == {
        "q": "godfater",
        "limit": 4,
        "offset": 0,
        "attributesToRetrieve": ["movie_id"],
        "facets": ["genres", "release_decade"],
        "filter": [
            'genres = "Crime"',
            "release_year = 1972",
            "release_decade = 1970",
            "vote_average >= 7.5",
            'original_language = "en"',
        ],
    }
    # hit order; 999 is in the index but not in the catalog: skipped, not an error
    assert page.items == [
        {"id": 30, "title": "Godfather Jr."},
        {"id": 10, "title": "The Godfather"},
        {"id": 20, "title": "The Godfather Part II"},
    ]
    assert page.total == 57
    assert page.total_is_exact is False
    assert page.facets == {
        "genres": {"Crime": 40, "Drama": 17},
        "decades": {"1970": 50, "1990": 7},
    }


HOSTILE = [
    'Drama" OR genres = "Horror',
    "Drama' OR 1=1 --",
    "Sci-Fi [x] AND release_year > 0",
    'back\\slash\\" OR x = y',
    "genres = Drama",
    "NOT EXISTS",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_goes_only_as_q_and_a_hostile_genre_stays_one_quoted_value(
    meili: FakeMeili, catalog_url: str, value: str
) -> None:
    settings = Settings(meili_url=meili.url)

    _search(settings, catalog_url, SearchQuery(q=value, genre=value))

    (request,) = meili.calls("POST", "/indexes/movies/search")
    assert request.body["q"] == value
    assert request.body["filter"] == [f"genres = {quote_filter_value(value)}"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_quoted_filter_value_reads_back_as_the_value(value: str) -> None:
    """Meilisearch's grammar: inside double quotes, a backslash escapes the next character."""
    quoted = quote_filter_value(value)
    assert quoted.startswith('"') and quoted.endswith('"')
    inner, read, position = quoted[1:-1], [], 0
    while position < len(inner):
        char = inner[position]
        assert char != '"', f"an unescaped quote ends the value early: {quoted}"
        if char == "\\":
            position += 1
            char = inner[position]
        read.append(char)
        position += 1
    assert "".join(read) == value


@pytest.mark.parametrize(
    "query",
    [
        SearchQuery(language='en" OR genres = "x'),
        SearchQuery(language="EN"),
        SearchQuery(language="eng"),
        SearchQuery(year="1999 OR release_year > 0"),  # type: ignore[arg-type]
        SearchQuery(decade=True),  # type: ignore[arg-type]
        SearchQuery(min_rating=math.nan),
        SearchQuery(min_rating=math.inf),
        SearchQuery(min_rating="7 OR x = y"),  # type: ignore[arg-type]
    ],
)
def test_a_filter_value_of_the_wrong_kind_is_refused_not_sent(query: SearchQuery) -> None:
    with pytest.raises(ValueError):
        search_filters(query)


def test_no_text_lists_the_filtered_catalog_by_popularity() -> None:
    payload = search_payload(SearchQuery(q="", genre="Drama", limit=20, offset=40))

    assert payload["q"] == ""
    assert payload["sort"] == ["popularity:desc", "vote_count:desc"]
    assert payload["filter"] == ['genres = "Drama"']
    assert (payload["limit"], payload["offset"]) == (20, 40)
    assert "sort" not in search_payload(SearchQuery(q="alien"))
    assert "filter" not in search_payload(SearchQuery(q="alien"))


def test_an_empty_page_reads_no_items(meili: FakeMeili, catalog_url: str) -> None:
    meili.search_response = {
        "hits": [],
        "query": "zzzz",
        "processingTimeMs": 0,
        "limit": 20,
        "offset": 0,
        "estimatedTotalHits": 0,
        "facetDistribution": {"genres": {}, "release_decade": {}},
    }

    page = _search(Settings(meili_url=meili.url), catalog_url, SearchQuery(q="zzzz"))

    assert (page.items, page.total, page.facets) == ([], 0, {"genres": {}, "decades": {}})


def test_meilisearch_errors_are_one_search_error(meili: FakeMeili, catalog_url: str) -> None:
    del meili.indexes["movies"]  # answers index_not_found, as before the first index build

    with pytest.raises(SearchError, match=r"^Meilisearch search failed: Index `movies` not found"):
        _search(Settings(meili_url=meili.url), catalog_url, SearchQuery(q="alien"))


def test_an_unreachable_meilisearch_is_a_search_error(catalog_url: str) -> None:
    settings = Settings(meili_url="http://127.0.0.1:9")

    with pytest.raises(SearchError, match=r"^Meilisearch search failed"):
        _search(settings, catalog_url, SearchQuery(q="alien"))

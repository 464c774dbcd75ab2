"""Relevance, filters, facets and hostile input of the PostgreSQL search backend, on a
published warehouse with a few known titles (tests/search/catalog.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg import sql

from api.repositories import _movie_summary
from moviemetric.ops import API_ROLE
from search import SearchPage, SearchQuery
from search.postgres import MAX_QUERY_WORDS, PostgresSearch
from tests.conftest import MOVIE_SUMMARY_KEYS

pytestmark = pytest.mark.anyio

GODFATHER, GODFATHER_II, INTERSTELLAR, AMELIE, ALIENS, ALIEN, MAFIA_DAYS = range(900001, 900008)
CASABLANCA, CASABLANCA_NIGHTS, CASABLANCA_EXPRESS = 900008, 900009, 900010


@pytest.fixture
async def db(search_warehouse) -> AsyncIterator[psycopg.AsyncConnection]:
    """A connection as the API has one: autocommit, under the API role."""
    async with await psycopg.AsyncConnection.connect(search_warehouse.url, autocommit=True) as conn:
        await conn.execute(sql.SQL("set role {}").format(sql.Identifier(API_ROLE)))
        yield conn


async def search(db, q: str = "", **filters) -> SearchPage:
    backend = PostgresSearch(settings=None)
    return await backend.search(db, SearchQuery(q=q, **filters), item_columns=_movie_summary())


def ids(page: SearchPage) -> list[int]:
    return [item["id"] for item in page.items]


async def test_a_known_title_is_the_first_hit(db):
    assert ids(await search(db, "Interstellar"))[0] == INTERSTELLAR
    assert ids(await search(db, "the godfather"))[:2] == [GODFATHER, GODFATHER_II]


async def test_items_have_the_movies_shape(db, search_warehouse):
    page = await search(db, "interstellar")
    assert list(page.items[0]) == MOVIE_SUMMARY_KEYS
    assert page.items[0]["title"] == "Interstellar" and page.total_is_exact


async def test_the_last_word_matches_as_a_prefix(db):
    assert ids(await search(db, "interst")) == [INTERSTELLAR]
    assert ids(await search(db, "the godf"))[:2] == [GODFATHER, GODFATHER_II]
    # only the last word: "interst" before another word must be whole
    assert (await search(db, "interst godfather")).total == 0


@pytest.mark.parametrize("typo", ["godfater", "gofdather", "godfathr", "godfaather", "godfsther"])
async def test_one_typo_still_finds_the_title(db, typo):
    """Deletion, transposition, deletion at the end, insertion, substitution."""
    assert GODFATHER in ids(await search(db, typo))[:3]


async def test_typo_corrections_rank_below_exact_matches(db):
    # "aliens" is Aliens' title word and one typo from Alien's
    assert ids(await search(db, "aliens"))[:2] == [ALIENS, ALIEN]
    # "Mafia Days" has the keyword "godfather": an exact match beats the title typo
    assert ids(await search(db, "godfather mafia days"))[0] == MAFIA_DAYS


async def test_short_words_and_two_typos_are_not_corrected(db):
    assert (await search(db, "alen")).total == 0  # 4 letters: no typo allowed
    assert (await search(db, "gdfater")).total == 0  # two typos


async def test_accents_and_case_are_folded(db):
    assert ids(await search(db, "amelie")) == [AMELIE]
    assert ids(await search(db, "AMÉLIE")) == [AMELIE]
    assert ids(await search(db, "fabuleux destin")) == [AMELIE]  # the original title


async def test_ranking_tiers_then_popularity(db):
    """Exact title, then title prefixes; equal tiers by popularity, then votes."""
    page = await search(db, "casablanca")
    # Nights and Express share their popularity; Express has more votes
    assert ids(page)[:3] == [CASABLANCA, CASABLANCA_EXPRESS, CASABLANCA_NIGHTS]


async def test_title_matches_rank_above_keyword_and_overview_matches(db):
    page = await search(db, "godfather")
    assert ids(page) == [GODFATHER, GODFATHER_II, MAFIA_DAYS]


def _documents(search_warehouse, where: str = "true", params: tuple = ()) -> list[tuple]:
    return search_warehouse.query(
        "select movie_id, genres, release_decade from artifacts.search_documents "
        f"where {where} order by popularity desc nulls last, vote_count desc nulls last, movie_id",
        params,
    )


def _facets(rows: list[tuple]) -> dict[str, dict[str, int]]:
    genres = Counter(genre for _, movie_genres, _ in rows for genre in movie_genres)
    decades = Counter(str(decade) for _, _, decade in rows if decade is not None)
    return {"genres": dict(genres), "decades": dict(decades)}


async def test_empty_query_lists_everything_by_popularity_with_facets(db, search_warehouse):
    rows = _documents(search_warehouse)
    page = await search(db, "", limit=100)
    assert page.total == len(rows)
    assert ids(page) == [row[0] for row in rows[:100]]
    assert page.facets == _facets(rows)
    # genres most matched first, decades oldest first
    assert list(page.facets["genres"].values()) == sorted(page.facets["genres"].values())[::-1]
    assert list(page.facets["decades"]) == sorted(page.facets["decades"])


@pytest.mark.parametrize(
    ("filters", "where", "params"),
    [
        ({"genre": "Drama"}, "'Drama' = any(genres)", ()),
        ({"year": 1972}, "release_year = %s", (1972,)),
        ({"decade": 1980}, "release_decade = %s", (1980,)),
        ({"min_rating": 7.5}, "vote_average >= %s", (7.5,)),
        ({"language": "fr"}, "original_language = %s", ("fr",)),
        # genre and decade only: counted from search_facet_cells, not the index
        ({"genre": "Drama", "decade": 1990}, "'Drama' = any(genres) and release_decade = 1990", ()),
        ({"genre": "Western"}, "'Western' = any(genres)", ()),
        (
            {"genre": "Action", "decade": 1960, "min_rating": 2.0, "language": "en"},
            "'Action' = any(genres) and release_decade = 1960 and vote_average >= 2 "
            "and original_language = 'en'",
            (),
        ),
    ],
)
async def test_filters_combine_with_and_and_facets_count_the_match(
    db, search_warehouse, filters, where, params
):
    rows = _documents(search_warehouse, where, params)
    page = await search(db, "", limit=100, **filters)
    assert page.total == len(rows)
    assert ids(page) == [row[0] for row in rows[:100]]
    assert page.facets == _facets(rows)


@pytest.mark.parametrize(
    ("q", "filters", "where"),
    [
        # a short word (never corrected, so a constant the planner estimates), as a prefix
        ("love", {}, "true"),
        ("night love", {"genre": "Comedy"}, "'Comedy' = any(genres)"),
        ("fire", {"min_rating": 5.0}, "vote_average >= 5"),
    ],
)
async def test_text_total_and_facets_count_every_match(db, search_warehouse, q, filters, where):
    """Total and facets of a text search count its whole match (per facet cell), not
    the page; the match is every document with all the words, the last as a prefix."""
    words = q.split()
    text_query = " & ".join([*words[:-1], f"{words[-1]}:*"])
    matched = search_warehouse.query(
        "select search_index.movie_id, search_index.genres, search_index.release_decade "
        "from artifacts.search_index as search_index "
        f"where search_vector @@ to_tsquery('simple', %s) and ({where})",
        (text_query,),
    )
    page = await search(db, q, limit=5, **filters)
    assert matched and page.total == len(matched)
    assert page.facets == _facets(matched)


async def test_text_and_filters_combine(db, search_warehouse):
    page = await search(db, "godfather", genre="Drama", decade=1970)
    assert ids(page) == [GODFATHER, GODFATHER_II]
    assert page.facets == {"genres": {"Crime": 2, "Drama": 2}, "decades": {"1970": 2}}
    assert (await search(db, "godfather", year=1990)).total == 1  # Mafia Days


async def test_a_page_past_the_end_still_has_the_total_and_facets(db):
    page = await search(db, "casablanca", offset=50)
    assert page.items == [] and page.total == 3
    assert page.facets["decades"] == {"1940": 1, "1980": 1, "1990": 1}


HOSTILE = [
    "'; drop table artifacts.search_index; --",
    "godfather' or '1'='1",
    "a & b | !c <-> d",
    "godfather:* & !x",
    "'godfather':*A",
    "\\' \\\\ \" ''",
    "(((",
    ")|(",
    "!",
    ":*",
    "\x00godfather\x00",
    "%_%",
    "x" * 200,
    " ".join(["godfather"] * 40),
    "\U0001d524\U0001d52c\U0001d521 夢 Город ²³ ①",  # fraktur "god", CJK, Cyrillic, digits
]


@pytest.mark.parametrize("q", HOSTILE)
async def test_hostile_text_is_searched_as_words(db, q):
    page = await search(db, q)
    assert page.total >= 0


async def test_operators_and_quotes_only_separate_words(db):
    assert ids(await search(db, "'godfather' & !!:*"))[:2] == [GODFATHER, GODFATHER_II]
    assert ids(await search(db, "\x00interstellar\x00")) == [INTERSTELLAR]
    assert (await search(db, "godfather | interstellar")).total == 0  # AND, not OR


async def test_only_the_first_words_count(db):
    words = ["godfather"] * MAX_QUERY_WORDS + ["nosuchword"]
    assert GODFATHER in ids(await search(db, " ".join(words)))

"""The bitmap branch of the PostgreSQL search (``search_bitmaps``) answers exactly as
the rows branch: same total, facets and page, in the same order, on every query
whose words all have bitmaps (common words, short prefixes, typos of common words,
title beginnings, genre and decade filters, deep pages)."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from api.repositories import _movie_summary
from moviemetric.ops import API_ROLE
from search import SearchQuery
from search.postgres import TYPO_MIN_WORD_LENGTH, search_statement

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(search_warehouse) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(search_warehouse.url, autocommit=True) as conn:
        await conn.execute(sql.SQL("set role {}").format(sql.Identifier(API_ROLE)))
        yield conn


async def answer(db, query: SearchQuery, *, use_bitmaps: bool) -> tuple:
    statement, params = search_statement(
        query, item_columns=_movie_summary(), use_bitmaps=use_bitmaps
    )
    async with db.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(statement, params, prepare=False)
        rows = await cursor.fetchall()
    first = rows[0]
    page = [row["id"] for row in rows if row["position"] is not None]
    return first["total"], first["genre_facets"], first["decade_facets"], page


async def takes_bitmaps(db, query: SearchQuery) -> bool:
    """Whether the statement ran its bitmap branch (the other is never executed)."""
    statement, params = search_statement(query, item_columns=_movie_summary())
    async with db.cursor() as cursor:
        await cursor.execute(
            sql.SQL("explain (analyze, costs off, timing off, summary off) ") + statement,
            params,
            prepare=False,
        )
        plan = [line for (line,) in await cursor.fetchall()]
    search = [index for index, line in enumerate(plan) if "CTE bitmap_search" in line]
    return bool(search) and "never executed" not in plan[search[0] + 1]


def _bitmap_values(search_warehouse, kind: str) -> set[str]:
    rows = search_warehouse.query(
        "select value from artifacts.search_bitmaps where kind = %s", (kind,)
    )
    return {value for (value,) in rows}


def _typo(word: str, rng: random.Random) -> str:
    index = rng.randrange(1, len(word))
    return word[:index] + "xz"[word[index] == "x"] + word[index + 1 :]


def queries(search_warehouse) -> list[SearchQuery]:
    """Queries the bitmaps can answer, drawn from the built bitmaps themselves."""
    rng = random.Random(5)
    words = sorted(_bitmap_values(search_warehouse, "word"))
    prefixes = sorted(_bitmap_values(search_warehouse, "prefix"))
    leads = sorted(_bitmap_values(search_warehouse, "lead"))
    titles = [
        title.split()
        for (title,) in search_warehouse.query(
            "select title_words from artifacts.search_index order by movie_id"
        )
    ]
    # the first words of titles whose words are all common: they find something
    pairs = [words_of[:2] for words_of in titles if len(words_of) > 2 and words_of[0] in words]
    long_words = [word for word in words if len(word) >= TYPO_MIN_WORD_LENGTH and word.isascii()]
    texts = (
        rng.sample(prefixes, min(12, len(prefixes)))
        + [f"{first} {second[:3]}" for first, second in rng.sample(pairs, min(12, len(pairs)))]
        + [f"{first} {_typo(second, rng)}" for first, second in pairs if len(second) >= 5][:4]
        + [_typo(word, rng) for word in rng.sample(long_words, min(4, len(long_words)))]
        + [lead for lead in leads if " " not in lead][:6]
        + ["the godfather", "godfather the", "the"]
    )
    filters = [{}, {"genre": "Drama"}, {"decade": 1990}, {"genre": "Comedy", "decade": 2000}]
    pages = [{"limit": 20, "offset": 0}, {"limit": 7, "offset": 5}, {"limit": 100, "offset": 40}]
    return [
        SearchQuery(q=text, **filter_values, **page)
        for text, filter_values, page in zip(
            texts, itertools.cycle(filters), itertools.cycle(pages), strict=False
        )
    ] + [SearchQuery(q=text, offset=10_000) for text in texts[:2]]


async def test_the_bitmaps_answer_as_the_rows_do(db, search_warehouse):
    words = _bitmap_values(search_warehouse, "word")
    prefixes = _bitmap_values(search_warehouse, "prefix")
    assert len(words) >= 10 and len(prefixes) >= 50, "the catalog has common words"
    answered = found = 0
    for query in queries(search_warehouse):
        rows = await answer(db, query, use_bitmaps=False)
        bitmaps = await answer(db, query, use_bitmaps=True)
        assert bitmaps == rows, query
        answered += await takes_bitmaps(db, query)
        found += rows[0] > 0
    assert answered >= 30, "most of the queries take the bitmap branch"
    assert found >= 25, "most of the queries find movies"


async def test_a_typo_of_a_common_word_is_answered_by_its_correction_bitmap(db, search_warehouse):
    title_words = {
        term for (term,) in search_warehouse.query("select term from artifacts.search_terms")
    }
    common = sorted(
        word
        for word in _bitmap_values(search_warehouse, "word") & title_words
        if len(word) >= TYPO_MIN_WORD_LENGTH
    )
    assert len(common) >= 4
    rng = random.Random(3)
    for word in common[:4]:
        query = SearchQuery(q=_typo(word, rng))
        assert query.q not in _bitmap_values(search_warehouse, "prefix")
        assert await takes_bitmaps(db, query), query
        rows = await answer(db, query, use_bitmaps=False)
        assert rows[0] > 0 and await answer(db, query, use_bitmaps=True) == rows


async def test_words_without_bitmaps_take_the_rows_branch(db):
    """A rare word (or filters the bitmaps do not have) reads rows: same answer."""
    for query in (
        SearchQuery(q="interstellar"),
        SearchQuery(q="a interstellar"),
        SearchQuery(q="the", min_rating=5.0),
        SearchQuery(q="the", language="en", limit=5),
    ):
        rows = await answer(db, query, use_bitmaps=False)
        assert rows[0] > 0 and not await takes_bitmaps(db, query)
        assert await answer(db, query, use_bitmaps=True) == rows

"""PostgreSQL full-text search over the published ``artifacts.search_index`` (dbt).

One statement answers a search: it finds the typo corrections of the query words in
``search_term_variants``, builds the text queries, matches and ranks
``search_index``, counts the matches and their facets, and joins the page's movies
from ``movie_catalog`` (a publish renames schemas between statements, so a second
statement could read another data version; see api/repositories.py).

Query text only ever reaches the server as bound parameters, as folded words of
letters and digits (``search.folding.words``) quoted as tsquery lexemes in SQL, so
tsquery operators, quotes and SQL in ``q`` are separators between words, never syntax.

Ranking (docs/search.md), best first:

1. matches without typo corrections before matches that need one;
2. the title is the query (folded words equal), then the title starts with the
   query, then every query word is in the title, then every query word is in the
   title, original title, keywords or genres, then the rest (overview);
3. popularity, then votes, then movie id.

Every query word must match (AND); the last one matches as a prefix. A word of
``TYPO_MIN_WORD_LENGTH`` letters or more also matches the title words one typo
away: its one-character deletions and the title words' (``search_term_variants``,
SymSpell) meet on an indexed equality, and the positions of the deletions say
whether the pair is exactly one insertion, deletion, substitution or transposition.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from moviemetric.config import Settings
from moviemetric.warehouse import PUBLISHED_SCHEMA
from search.base import SearchPage, SearchQuery
from search.folding import words

TYPO_MIN_WORD_LENGTH = 5  # = the dbt var search_typo_min_word_length
MAX_QUERY_WORDS = 10  # later words are ignored, as Meilisearch does

# Ranking tiers, best first (the order of docs/search.md).
TIER_EXACT_TITLE, TIER_TITLE_PREFIX, TIER_IN_TITLE, TIER_IN_FIELDS, TIER_ANYWHERE = range(5)

# The tsquery weight labels of each tier's text query (search_index.search_vector: A title,
# B original title, C keywords and genres, D overview); "" matches any weight.
WEIGHTS = {"matching": "", "in_title": "A", "in_fields": "ABC"}

# The order of the matches, over the columns of `matched` and of `top_matches`.
POPULARITY = "popularity desc nulls last, vote_count desc nulls last, movie_id"
RELEVANCE = "is_exact desc, tier, " + POPULARITY

ENVELOPE_COLUMNS = ("total", "genre_facets", "decade_facets", "position")


def _table(name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(name))


SEARCH_INDEX = _table("search_index")
SEARCH_TERM_VARIANTS = _table("search_term_variants")
MOVIE_CATALOG = _table("movie_catalog")


def deletion_variants(word: str) -> list[tuple[str, int, str]]:
    """(variant, deleted position from 1 or 0 for the word itself, deleted character)."""
    return [(word, 0, "")] + [
        (word[:index] + word[index + 1 :], index + 1, word[index]) for index in range(len(word))
    ]


def _quoted(column: str) -> sql.Composable:
    """A tsquery lexeme literal of a text column: quotes doubled, backslashes escaped."""
    return sql.SQL("'''' || replace(replace({}, '\\', '\\\\'), '''', '''''') || ''''").format(
        sql.SQL(column)
    )


def _label(weights: str, *, prefix: bool) -> str:
    if prefix:
        return ":*" + weights
    return f":{weights}" if weights else ""


def _word_queries() -> sql.Composed:
    """Per query word, the text of its tsquery for every tier: the word (a prefix when
    it is the last) or one of its corrections, with the tier's weight labels."""
    columns = []
    for name, weights in WEIGHTS.items():
        exact = sql.SQL("{word} || case when query_words.is_prefix then {prefix} else {whole} end")
        exact = exact.format(
            word=_quoted("query_words.word"),
            prefix=sql.Literal(_label(weights, prefix=True)),
            whole=sql.Literal(_label(weights, prefix=False)),
        )
        corrected = sql.SQL("string_agg({term} || {label}, ' | ' order by corrections.term)")
        corrected = corrected.format(
            term=_quoted("corrections.term"), label=sql.Literal(_label(weights, prefix=False))
        )
        columns.append(
            sql.SQL("'(' || {exact} || coalesce(' | ' || {corrected}, '') || ')' as {name}").format(
                exact=exact, corrected=corrected, name=sql.Identifier(name)
            )
        )
        if name == "matching":
            columns.append(sql.SQL("{} as exact").format(exact))
    return sql.SQL(", ").join(columns)


# The query words, their corrections and the tsqueries built from them.
TEXT_QUERY_CTES = sql.SQL(
    "query_words as ("
    "select word, word_position, word_position = cardinality(%(words)s::text[]) as is_prefix "
    "from unnest(%(words)s::text[]) with ordinality as query_word (word, word_position)), "
    "query_variants as ("
    "select * from unnest(%(variant_words)s::bigint[], %(variants)s::text[], "
    "%(variant_positions)s::integer[], %(variant_chars)s::text[]) "
    "as query_variant (word_position, variant, deleted_position, deleted_char)), "
    # one typo: a deletion on one side only (an insertion or a deletion), at the same
    # position on both (a substitution), or of the same character at neighbouring
    # positions (a transposition)
    "corrections as ("
    "select distinct query_variants.word_position, term_variants.term "
    "from query_variants "
    "inner join {variants} as term_variants on term_variants.variant = query_variants.variant "
    "inner join query_words on query_words.word_position = query_variants.word_position "
    "where term_variants.term <> query_words.word and ("
    "(query_variants.deleted_position = 0) <> (term_variants.deleted_position = 0) "
    "or (query_variants.deleted_position > 0 "
    "and term_variants.deleted_position = query_variants.deleted_position) "
    "or (query_variants.deleted_position > 0 and term_variants.deleted_position > 0 "
    "and abs(query_variants.deleted_position - term_variants.deleted_position) = 1 "
    "and term_variants.deleted_char = query_variants.deleted_char))), "
    "word_queries as ("
    "select query_words.word_position, {word_queries} "
    "from query_words "
    "left join corrections on corrections.word_position = query_words.word_position "
    "group by query_words.word_position, query_words.word, query_words.is_prefix), "
    "text_query as ("
    "select to_tsquery('simple', string_agg(matching, ' & ')) as matching, "
    "to_tsquery('simple', string_agg(exact, ' & ')) as exact, "
    "to_tsquery('simple', string_agg(in_title, ' & ')) as in_title, "
    "to_tsquery('simple', string_agg(in_fields, ' & ')) as in_fields "
    "from word_queries), "
).format(variants=SEARCH_TERM_VARIANTS, word_queries=_word_queries())

MATCHED_BY_TEXT = sql.SQL(
    "matched as materialized ("
    "select search_index.movie_id, search_index.genres, search_index.release_decade, "
    "search_index.popularity, search_index.vote_count, "
    "search_index.search_vector @@ (select exact from text_query) as is_exact, "
    "case when search_index.title_words = %(phrase)s then {exact_title} "
    "when starts_with(search_index.title_words, %(phrase)s) then {title_prefix} "
    "when search_index.search_vector @@ (select in_title from text_query) then {in_title} "
    "when search_index.search_vector @@ (select in_fields from text_query) then {in_fields} "
    "else {anywhere} end as tier "
    "from {index} as search_index "
    "where search_index.search_vector @@ (select matching from text_query) {filters}), "
)

MATCHED_BY_FILTERS = sql.SQL(
    "matched as materialized ("
    "select search_index.movie_id, search_index.genres, search_index.release_decade, "
    "search_index.popularity, search_index.vote_count, true as is_exact, 0 as tier "
    "from {index} as search_index where true {filters}), "
)

PAGE = sql.SQL(
    "counted as (select count(*) as total from matched), "
    # unnest in the select list (one ProjectSet) costs far less than a lateral
    # function scan per match
    "matched_genres as (select unnest(genres) as genre_name from matched), "
    "genre_counts as ("
    "select genre_name, count(*) as movie_count from matched_genres group by genre_name), "
    "genre_facets as ("
    "select coalesce(json_object_agg(genre_name, movie_count "
    "order by movie_count desc, genre_name), '{{}}') as facets from genre_counts), "
    "decade_counts as ("
    "select release_decade, count(*) as movie_count from matched "
    "where release_decade is not null group by release_decade), "
    "decade_facets as ("
    "select coalesce(json_object_agg(release_decade::text, movie_count "
    "order by release_decade), '{{}}') as facets from decade_counts), "
    # the page first (a top-N sort), then its positions: numbering every match
    # would sort them all
    "top_matches as ("
    "select movie_id, is_exact, tier, popularity, vote_count from matched "
    "order by {relevance} limit %(limit)s offset %(offset)s), "
    "page as ("
    "select movie_id, row_number() over (order by {relevance}) as position from top_matches) "
    "select counted.total, genre_facets.facets as genre_facets, "
    "decade_facets.facets as decade_facets, items.* "
    "from counted cross join genre_facets cross join decade_facets "
    "left join lateral ("
    "select {columns}, page.position from page "
    "inner join {movies} as movie on movie.movie_id = page.movie_id"
    ") as items on true "
    "order by items.position"
)


def _filters(query: SearchQuery) -> tuple[sql.Composable, dict[str, Any]]:
    """The filter conditions (each ``and ...``) and their parameters."""
    conditions: list[sql.Composable] = []
    params: dict[str, Any] = {}
    if query.genre is not None:
        conditions.append(sql.SQL("search_index.genres @> array[%(genre)s::text]"))
        params["genre"] = query.genre
    if query.year is not None:
        conditions.append(sql.SQL("search_index.release_year = %(year)s"))
        params["year"] = query.year
    if query.decade is not None:
        conditions.append(sql.SQL("search_index.release_decade = %(decade)s"))
        params["decade"] = query.decade
    if query.min_rating is not None:
        conditions.append(sql.SQL("search_index.vote_average >= %(min_rating)s"))
        params["min_rating"] = query.min_rating
    if query.language is not None:
        conditions.append(sql.SQL("search_index.original_language = %(language)s"))
        params["language"] = query.language
    return sql.SQL("").join(sql.SQL(" and ") + condition for condition in conditions), params


def search_statement(
    query: SearchQuery, *, item_columns: sql.Composable
) -> tuple[sql.Composed, dict[str, Any]]:
    """The one statement that answers ``query``, and its parameters."""
    filters, params = _filters(query)
    params |= {"limit": query.limit, "offset": query.offset}
    query_words = words(query.q)[:MAX_QUERY_WORDS]
    if not query_words:
        matched = MATCHED_BY_FILTERS.format(index=SEARCH_INDEX, filters=filters)
        relevance = sql.SQL(POPULARITY)
        statement = sql.SQL("with ") + matched
    else:
        variants = [
            (position, *variant)
            for position, word in enumerate(query_words, start=1)
            if len(word) >= TYPO_MIN_WORD_LENGTH
            for variant in deletion_variants(word)
        ]
        params |= {
            "words": query_words,
            "phrase": " ".join(query_words),
            "variant_words": [row[0] for row in variants],
            "variants": [row[1] for row in variants],
            "variant_positions": [row[2] for row in variants],
            "variant_chars": [row[3] for row in variants],
        }
        matched = MATCHED_BY_TEXT.format(
            index=SEARCH_INDEX,
            filters=filters,
            exact_title=sql.Literal(TIER_EXACT_TITLE),
            title_prefix=sql.Literal(TIER_TITLE_PREFIX),
            in_title=sql.Literal(TIER_IN_TITLE),
            in_fields=sql.Literal(TIER_IN_FIELDS),
            anywhere=sql.Literal(TIER_ANYWHERE),
        )
        relevance = sql.SQL(RELEVANCE)
        statement = sql.SQL("with ") + TEXT_QUERY_CTES + matched
    statement += PAGE.format(relevance=relevance, columns=item_columns, movies=MOVIE_CATALOG)
    return statement, params


class PostgresSearch:
    """The default backend: full-text search in the warehouse itself."""

    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def search(
        self, db: AsyncConnection, query: SearchQuery, *, item_columns: sql.Composable
    ) -> SearchPage:
        statement, params = search_statement(query, item_columns=item_columns)
        async with db.cursor(row_factory=dict_row) as cursor:
            await cursor.execute(statement, params)
            rows = await cursor.fetchall()
        first = rows[0]
        items = [
            {key: value for key, value in row.items() if key not in ENVELOPE_COLUMNS}
            for row in rows
            if row["position"] is not None
        ]
        return SearchPage(
            items=items,
            total=first["total"],
            total_is_exact=True,
            facets={"genres": first["genre_facets"], "decades": first["decade_facets"]},
        )

    async def close(self) -> None:
        """Nothing to release: searches run on the API's own connections."""

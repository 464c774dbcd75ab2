"""PostgreSQL full-text search over the published ``artifacts.search_index`` (dbt).

One statement answers a search: it finds the typo corrections of the query words in
``search_term_variants``, builds the text queries, matches and ranks
``search_index``, counts the matches per facet cell (``search_facet_cells``: the
genres and decade of each cell make the facets), and joins the page's movies from
``movie_catalog`` (a publish renames schemas between statements, so a second
statement could read another data version; see api/repositories.py). Without text,
the whole catalog's envelope is ``search_catalog_facets`` and filters on genre and
decade alone are counted from the cells; the page is then read in popularity order.

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

Common words match too many rows to read them all within a few milliseconds (`the`
is in nine movies of ten). When every query word has a common term in
``search_bitmaps`` (the word, the last word as a prefix, or a typo correction) and
the filters are genre and decade alone, the same statement answers from the bitmaps
instead: the matches, the exact ones, each tier and the filters are bitmaps over
``search_index.popularity_rank``, combined with ``&``; the total and the facets are
bit counts; the page's ranks are found in the tiers' bitmaps by binary search on the
bit count of their prefixes (rank order is popularity order inside a tier). Terms
without a bitmap (rare ones, by the bitmaps' definition) are made into bitmaps from
their few rows. A one-time filter on the plan runs one of the two branches of the
statement and never the other; the bitmap-capable statement keeps one generic plan
per connection (``fetch_search``).
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, AsyncCursor, sql
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
SEARCH_FACET_CELLS = _table("search_facet_cells")
SEARCH_CATALOG_FACETS = _table("search_catalog_facets")
SEARCH_BITMAPS = _table("search_bitmaps")
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
    columns.append(sql.SQL("count(corrections.term) > 0 as has_corrections"))
    return sql.SQL(", ").join(columns)


# The query words and their typo corrections.
CORRECTION_CTES = sql.SQL(
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
).format(variants=SEARCH_TERM_VARIANTS)

# The text queries of the rows branch, built from the words and their corrections.
TEXT_QUERY_CTES = sql.SQL(
    "word_queries as ("
    "select query_words.word_position, {word_queries} "
    "from query_words "
    "left join corrections on corrections.word_position = query_words.word_position "
    "group by query_words.word_position, query_words.word, query_words.is_prefix), "
    "text_query as ("
    "select to_tsquery('simple', string_agg(matching, ' & ')) as matching, "
    "to_tsquery('simple', string_agg(exact, ' & ')) as exact, "
    "to_tsquery('simple', string_agg(in_title, ' & ')) as in_title, "
    "to_tsquery('simple', string_agg(in_fields, ' & ')) as in_fields, "
    "bool_or(has_corrections) as has_corrections "
    "from word_queries), "
).format(word_queries=_word_queries())

# The matches of a text query, with what ranks them and their facet cell.
MATCHED_BY_TEXT = sql.SQL(
    "matched as materialized ("
    "select search_index.movie_id, search_index.facet_cell, "
    "search_index.popularity, search_index.vote_count, "
    # without corrections every match is exact: the tsquery test runs only with some
    "(select not has_corrections from text_query) "
    "or search_index.search_vector @@ (select exact from text_query) as is_exact, "
    "case when search_index.title_words = %(phrase)s then {exact_title} "
    "when starts_with(search_index.title_words, %(phrase)s) then {title_prefix} "
    "when search_index.search_vector @@ (select in_title from text_query) then {in_title} "
    "when search_index.search_vector @@ (select in_fields from text_query) then {in_fields} "
    "else {anywhere} end as tier "
    "from {index} as search_index "
    "where {match} {filters}), "
    "cell_counts as ("
    "select facet_cell, count(*) as movie_count from matched group by facet_cell), "
    "top_matches as ("
    "select movie_id, is_exact, tier, popularity, vote_count from matched "
    "order by {relevance} limit %(limit)s offset %(offset)s), "
)

# The matches of filters the cells cannot answer, counted per facet cell; the page
# is a top-N sort of them (they are all read for the counts anyway).
MATCHED_BY_FILTERS = sql.SQL(
    "matched as materialized ("
    "select search_index.movie_id, search_index.facet_cell, "
    "search_index.popularity, search_index.vote_count "
    "from {index} as search_index where true {filters}), "
    "cell_counts as ("
    "select facet_cell, count(*) as movie_count from matched group by facet_cell), "
    "top_matches as ("
    "select movie_id, popularity, vote_count from matched "
    "order by {relevance} limit %(limit)s offset %(offset)s), "
)

# Filters on the cells' own columns: the cells' movie_count are the counts.
COUNTED_BY_CELLS = sql.SQL(
    "facet_cells as ("
    "select cells.genres, cells.release_decade, cells.movie_count "
    "from {cells} as cells where true {filters}), "
)

# No filter: the whole catalog's envelope, built by dbt.
CATALOG_ENVELOPE = sql.SQL(
    "envelope as (select total, genre_facets, decade_facets from {catalog_facets}), "
)

# The page of the empty query or of filters on the cells' columns: the popularity
# index read in order (or the filters' indexes and a sort, when they are rare).
TOP_BY_FILTERS = sql.SQL(
    "top_matches as ("
    "select search_index.movie_id, search_index.popularity, search_index.vote_count "
    "from {index} as search_index where true {filters} "
    "order by {relevance} limit %(limit)s offset %(offset)s), "
)

FACET_CELLS = sql.SQL(
    "facet_cells as ("
    "select cells.genres, cells.release_decade, cell_counts.movie_count "
    "from cell_counts inner join {cells} as cells on cells.facet_cell = cell_counts.facet_cell), "
)

# The total and facets from the matches' cells (not passed through .format(): its
# braces are literal).
ENVELOPE = sql.SQL(
    "counted as (select coalesce(sum(movie_count), 0)::bigint as total from facet_cells), "
    # unnest in the select list (one ProjectSet) costs far less than a lateral
    # function scan per cell
    "cell_genres as (select unnest(genres) as genre_name, movie_count from facet_cells), "
    "genre_counts as ("
    "select genre_name, sum(movie_count)::bigint as movie_count "
    "from cell_genres group by genre_name), "
    "genre_facets as ("
    "select coalesce(json_object_agg(genre_name, movie_count "
    "order by movie_count desc, genre_name), '{}') as facets from genre_counts), "
    "decade_counts as ("
    "select release_decade, sum(movie_count)::bigint as movie_count from facet_cells "
    "where release_decade is not null group by release_decade), "
    "decade_facets as ("
    "select coalesce(json_object_agg(release_decade::text, movie_count "
    "order by release_decade), '{}') as facets from decade_counts), "
    "envelope as ("
    "select counted.total, genre_facets.facets as genre_facets, "
    "decade_facets.facets as decade_facets "
    "from counted cross join genre_facets cross join decade_facets), "
)

PAGE = sql.SQL(
    # the page first (a top-N sort or an index scan), then its positions: numbering
    # every match would sort them all
    "page as ("
    "select movie_id, row_number() over (order by {relevance}) as position from top_matches) "
)


def _select_page(
    envelope: str, page: str, columns: sql.Composable, *, when: sql.Composable | None = None
) -> sql.Composed:
    """The rows of the answer: the envelope, joined to the page's movies (one row with
    null items when the page is empty); only ``when`` it is true, if given."""
    return sql.SQL(
        "select envelope.total, envelope.genre_facets, envelope.decade_facets, items.* "
        "from {envelope} as envelope left join lateral ("
        "select {columns}, page.position from {page} as page "
        "inner join {movies} as movie on movie.movie_id = page.movie_id"
        ") as items on true {when}"
    ).format(
        envelope=sql.Identifier(envelope),
        page=sql.Identifier(page),
        columns=columns,
        movies=MOVIE_CATALOG,
        when=sql.SQL("where ") + when if when is not None else sql.SQL(""),
    )


def _rank_bitmaps(relation: str, keys: list[str], flags: dict[str, str]) -> sql.Composed:
    """Per ``keys`` of ``relation`` (rows of keys and popularity_rank), a bitmap per
    flag (name: condition), ``<name>_bits``: the ranks or-ed into 64-bit chunks,
    written as hex in order with zeros for the missing ones, as long as the catalog's
    bitmaps (the steps of dbt's macros ``rank_chunks`` and ``chunk_bitmaps``)."""
    chunks = sql.SQL(", ").join(
        sql.SQL(
            "coalesce(bit_or(1::bigint << (63 - popularity_rank %% 64)) filter (where {}), 0) as {}"
        ).format(sql.SQL(condition), sql.Identifier(f"{name}_chunk"))
        for name, condition in flags.items()
    )
    bitmaps = sql.SQL(", ").join(
        sql.SQL(
            "('x' || rpad(string_agg(repeat('0', 16 * zero_chunks::integer) "
            "|| lpad(to_hex({}), 16, '0'), '' order by chunk), "
            "(select bit_length from catalog_bits) / 4, '0'))::bit varying as {}"
        ).format(sql.Identifier(f"{name}_chunk"), sql.Identifier(f"{name}_bits"))
        for name in flags
    )
    return sql.SQL(
        "select {key}, {bitmaps} from ("
        "select *, chunk - coalesce(lag(chunk) over (partition by {key} order by chunk), -1) "
        "- 1 as zero_chunks from ("
        "select {key}, popularity_rank / 64 as chunk, {chunks} from {relation} "
        "group by {key}, popularity_rank / 64) as chunks) as gaps "
        "group by {key}"
    ).format(
        key=sql.SQL(", ").join(map(sql.Identifier, keys)),
        bitmaps=bitmaps,
        chunks=chunks,
        relation=sql.Identifier(relation),
    )


def _bitmap_filters(query: SearchQuery) -> sql.Composable:
    """The filter bitmap: the catalog's, and-ed with the genre's and the decade's (all
    zeros for one with no movie)."""
    bits = sql.SQL("catalog_bits.bits")
    for kind, name in (("genre", "genre"), ("decade", "decade")):
        if getattr(query, name) is None:
            continue
        bits += sql.SQL(
            " & coalesce((select any_bits from {bitmaps} "
            "where kind = {kind} and value = %({name})s::text), catalog_bits.zeros)"
        ).format(bitmaps=SEARCH_BITMAPS, kind=sql.Literal(kind), name=sql.SQL(name))
    return bits


# The bitmap branch of a text search (see the module docstring). The classes are the
# ranking order: exact matches (no typo correction) first, and in each the tiers.
BITMAP_CTES = sql.SQL(
    # every query word's terms: itself (`own`; the last as a prefix) and its corrections
    "word_terms as ("
    "select word_position, word as term, is_prefix, true as own from query_words "
    "union all "
    "select word_position, term, false, false from corrections), "
    "term_bitmaps as ("
    "select word_terms.word_position, word_terms.own, "
    "bitmaps.any_bits, bitmaps.fields_bits, bitmaps.title_bits "
    "from word_terms inner join {bitmaps} as bitmaps "
    "on bitmaps.kind = case when word_terms.is_prefix then 'prefix' else 'word' end "
    "and bitmaps.value = word_terms.term), "
    # the bitmaps answer when every word has a common term; a word without one makes
    # the match rare, and the rows' indexes find it faster
    "bitmap_plan as ("
    "select count(distinct word_position) = cardinality(%(words)s::text[]) as use_bitmaps "
    "from term_bitmaps), "
    "catalog_bits as ("
    "select any_bits as bits, any_bits # any_bits as zeros, length(any_bits) as bit_length "
    "from {bitmaps} where kind = 'catalog'), "
    "filter_bits as (select {filter_bits} as bits from catalog_bits), "
    # the terms without a bitmap are rare: their rows made into bitmaps
    "rare_rows as ("
    "select rare.word_position, rare.own, matches.* "
    "from (select *, {term} || case when is_prefix then ':*' else '' end as lexeme, "
    "{term} || case when is_prefix then ':*' else ':' end as labelled "
    "from word_terms) as rare cross join lateral ("
    "select search_index.popularity_rank, "
    "search_index.search_vector @@ to_tsquery('simple', rare.labelled || 'ABC') as in_fields, "
    "search_index.search_vector @@ to_tsquery('simple', rare.labelled || 'A') as in_title "
    "from {index} as search_index "
    "where search_index.search_vector @@ to_tsquery('simple', rare.lexeme)) as matches "
    "where not exists (select from {bitmaps} as bitmaps "
    "where bitmaps.kind = case when rare.is_prefix then 'prefix' else 'word' end "
    "and bitmaps.value = rare.term)), "
    "rare_bitmaps as ({rare_bitmaps}), "
    "all_term_bitmaps as ("
    "select * from term_bitmaps union all select * from rare_bitmaps), "
    "word_bits as ("
    "select word_position, bit_or(any_bits) as any_bits, bit_or(fields_bits) as fields_bits, "
    "bit_or(title_bits) as title_bits, bit_or(any_bits) filter (where own) as own_bits "
    "from all_term_bitmaps group by word_position), "
    # the titles that are the query, and (when it has no bitmap) those it begins
    "title_rows as ("
    "select 'exact' as title_match, popularity_rank from {index} where title_words = %(phrase)s "
    "union all "
    "select 'lead', popularity_rank from {index} "
    "where title_words ~>=~ %(phrase)s and title_words ~<~ %(phrase_end)s "
    "and starts_with(title_words, %(phrase)s) and not exists ("
    "select from {bitmaps} where kind = 'lead' and value = %(phrase)s)), "
    "title_bitmaps as ({title_bitmaps}), "
    "query_bits as ("
    "select matched, matched & exact as exact, matched & ~exact as corrected, "
    "in_title, in_fields, title_exact, title_lead & ~title_exact as title_lead "
    "from ("
    # a word without any match (no row in word_bits) or without its own matches
    "select case when count(*) = cardinality(%(words)s::text[]) "
    "then bit_and(word_bits.any_bits) & filter_bits.bits else filter_bits.bits # filter_bits.bits "
    "end as matched, "
    "case when count(word_bits.own_bits) = cardinality(%(words)s::text[]) "
    "then bit_and(word_bits.own_bits) else filter_bits.bits # filter_bits.bits end as exact, "
    "bit_and(word_bits.title_bits) & filter_bits.bits as in_title, "
    "bit_and(word_bits.fields_bits) & filter_bits.bits as in_fields, "
    "coalesce((select any_bits from title_bitmaps where title_match = 'exact'), "
    "(select zeros from catalog_bits)) as title_exact, "
    "coalesce((select any_bits from {bitmaps} where kind = 'lead' and value = %(phrase)s), "
    "(select any_bits from title_bitmaps where title_match = 'lead'), "
    "(select zeros from catalog_bits)) as title_lead "
    "from word_bits cross join filter_bits group by filter_bits.bits) as combined), "
    # tiers: the title is the query, begins with it, has every word; every word is in
    # the title or other fields; anywhere
    "bitmap_classes as ("
    "select class, bits, bit_count(bits) as movie_count from query_bits cross join lateral ("
    "values "
    "(0, exact & title_exact), "
    "(1, exact & title_lead), "
    "(2, exact & in_title & ~(title_lead | title_exact)), "
    "(3, exact & in_fields & ~(in_title | title_lead | title_exact)), "
    "(4, exact & ~(in_fields | in_title | title_lead | title_exact)), "
    "(5, corrected & title_exact), "
    "(6, corrected & title_lead), "
    "(7, corrected & in_title & ~(title_lead | title_exact)), "
    "(8, corrected & in_fields & ~(in_title | title_lead | title_exact)), "
    "(9, corrected & ~(in_fields | in_title | title_lead | title_exact))"
    ") as classes (class, bits)), "
    "bitmap_windows as ("
    "select class, bits, movie_count, (coalesce(sum(movie_count) over ("
    "order by class rows between unbounded preceding and 1 preceding), 0))::bigint as start "
    "from bitmap_classes), "
    # the page's places: the j-th set bit of a class, for the j the page needs
    "bitmap_wanted as ("
    "select windows.class, wanted.j, windows.start + wanted.j as position "
    "from bitmap_windows as windows cross join lateral generate_series("
    "greatest(%(offset)s - windows.start, 0) + 1, "
    "least(%(offset)s + %(limit)s - windows.start, windows.movie_count)) as wanted (j)), "
    # binary search: the shortest prefix of the class bitmap with j set bits
    "bitmap_search (class, j, position, low, high) as ("
    "select class, j, position, 1, (select bit_length from catalog_bits) from bitmap_wanted "
    "union all "
    "select searched.class, searched.j, searched.position, "
    "case when probe.enough then searched.low else probe.middle + 1 end, "
    "case when probe.enough then probe.middle else searched.high end "
    "from bitmap_search as searched "
    "inner join bitmap_windows as windows on windows.class = searched.class "
    "cross join lateral ("
    "select (searched.low + searched.high) / 2 as middle, "
    "bit_count(substring(windows.bits from 1 for (searched.low + searched.high) / 2)) "
    ">= searched.j as enough) as probe "
    "where searched.low < searched.high), "
    "bitmap_page as ("
    "select search_index.movie_id, bitmap_search.position from bitmap_search "
    "inner join {index} as search_index on search_index.popularity_rank = bitmap_search.low - 1 "
    "where bitmap_search.low = bitmap_search.high), "
    # materialized: the final join would count the facets again for every item
    "bitmap_envelope as materialized ("
    "select bit_count(query_bits.matched) as total, "
    "coalesce((select json_object_agg(value, movie_count order by movie_count desc, value) "
    "from (select value, bit_count(any_bits & query_bits.matched) as movie_count "
    "from {bitmaps} where kind = 'genre') as genres where movie_count > 0), '{{}}') "
    "as genre_facets, "
    "coalesce((select json_object_agg(value, movie_count order by value::integer) "
    "from (select value, bit_count(any_bits & query_bits.matched) as movie_count "
    "from {bitmaps} where kind = 'decade') as decades where movie_count > 0), '{{}}') "
    "as decade_facets "
    "from query_bits) "
)


def _bitmap_ctes(query: SearchQuery) -> sql.Composed:
    return BITMAP_CTES.format(
        bitmaps=SEARCH_BITMAPS,
        index=SEARCH_INDEX,
        term=_quoted("term"),
        filter_bits=_bitmap_filters(query),
        rare_bitmaps=_rank_bitmaps(
            "rare_rows",
            ["word_position", "own"],
            {"any": "true", "fields": "in_fields", "title": "in_title"},
        ),
        title_bitmaps=_rank_bitmaps("title_rows", ["title_match"], {"any": "true"}),
    )


def _following_prefix(text: str) -> str:
    """The least string greater than every string that begins with ``text``, in
    byte order (``text_pattern_ops``: UTF-8 bytes sort as code points): ``text``
    with its last character one code point further."""
    return text[:-1] + chr(ord(text[-1]) + 1)


# The filters search_facet_cells has the columns of.
CELL_FILTERS = frozenset({"genre", "decade"})


def _filters(
    query: SearchQuery, table: str = "search_index"
) -> tuple[sql.Composable, dict[str, Any]]:
    """The filter conditions on ``table``'s columns (each ``and ...``) and their parameters."""
    conditions: list[sql.Composable] = []
    params: dict[str, Any] = {}
    if query.genre is not None:
        conditions.append(
            sql.SQL("{}.genres @> array[%(genre)s::text]").format(sql.Identifier(table))
        )
        params["genre"] = query.genre
    if query.year is not None:
        conditions.append(sql.SQL("{}.release_year = %(year)s").format(sql.Identifier(table)))
        params["year"] = query.year
    if query.decade is not None:
        conditions.append(sql.SQL("{}.release_decade = %(decade)s").format(sql.Identifier(table)))
        params["decade"] = query.decade
    if query.min_rating is not None:
        conditions.append(
            sql.SQL("{}.vote_average >= %(min_rating)s").format(sql.Identifier(table))
        )
        params["min_rating"] = query.min_rating
    if query.language is not None:
        conditions.append(
            sql.SQL("{}.original_language = %(language)s").format(sql.Identifier(table))
        )
        params["language"] = query.language
    return sql.SQL("").join(sql.SQL(" and ") + condition for condition in conditions), params


def _uncorrected_words_query(query_words: list[str]) -> str:
    """The tsquery text of the words too short for typo correction (they must match as
    typed, the last as a prefix), or "" if every word is long enough.

    A constant the planner can estimate (the text queries come from the statement's
    own corrections, which it cannot): a word in most documents makes a sequential
    scan, a rare one an index scan. It only restates what the match requires, folded
    by the same ``to_tsquery`` as the word queries.
    """
    lexemes = [
        "'"
        + word.replace("\\", "\\\\").replace("'", "''")
        + "'"
        + (":*" if position == len(query_words) else "")
        for position, word in enumerate(query_words, start=1)
        if len(word) < TYPO_MIN_WORD_LENGTH
    ]
    return " & ".join(lexemes)


def search_statement(
    query: SearchQuery, *, item_columns: sql.Composable, use_bitmaps: bool = True
) -> tuple[sql.Composed, dict[str, Any]]:
    """The one statement that answers ``query``, and its parameters; without
    ``use_bitmaps``, a text search always reads rows (the tests compare the two)."""
    filters, params = _filters(query)
    filter_names = set(params)
    params |= {"limit": query.limit, "offset": query.offset}
    query_words = words(query.q)[:MAX_QUERY_WORDS]
    if not query_words:
        relevance = sql.SQL(POPULARITY)
        top = TOP_BY_FILTERS.format(index=SEARCH_INDEX, filters=filters, relevance=relevance)
        if not filter_names:
            statement = CATALOG_ENVELOPE.format(catalog_facets=SEARCH_CATALOG_FACETS) + top
        elif filter_names <= CELL_FILTERS:
            cell_filters, _ = _filters(query, table="cells")
            statement = COUNTED_BY_CELLS.format(cells=SEARCH_FACET_CELLS, filters=cell_filters)
            statement += ENVELOPE + top
        else:
            statement = (
                MATCHED_BY_FILTERS.format(index=SEARCH_INDEX, filters=filters, relevance=relevance)
                + FACET_CELLS.format(cells=SEARCH_FACET_CELLS)
                + ENVELOPE
            )
        statement = sql.SQL("with ") + statement + PAGE.format(relevance=relevance)
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
        relevance = sql.SQL(RELEVANCE)
        match = sql.SQL("search_index.search_vector @@ (select matching from text_query)")
        if exact_words := _uncorrected_words_query(query_words):
            params["required"] = exact_words
            required = sql.SQL("search_index.search_vector @@ to_tsquery('simple', %(required)s)")
            # without a word long enough for corrections, it is the whole match, and
            # the planner's estimate is not multiplied by a default one for `matching`
            match = required if not variants else required + sql.SQL(" and ") + match
        matched = MATCHED_BY_TEXT.format(
            match=match,
            index=SEARCH_INDEX,
            filters=filters,
            relevance=relevance,
            exact_title=sql.Literal(TIER_EXACT_TITLE),
            title_prefix=sql.Literal(TIER_TITLE_PREFIX),
            in_title=sql.Literal(TIER_IN_TITLE),
            in_fields=sql.Literal(TIER_IN_FIELDS),
            anywhere=sql.Literal(TIER_ANYWHERE),
        )
        statement = (
            CORRECTION_CTES
            + TEXT_QUERY_CTES
            + matched
            + FACET_CELLS.format(cells=SEARCH_FACET_CELLS)
            + ENVELOPE
            + PAGE.format(relevance=relevance)
        )
        if use_bitmaps and plans_once(query):
            # one-time filters run one branch: bitmaps when every word has a common term
            params["phrase_end"] = _following_prefix(params["phrase"])
            use = sql.SQL("(select use_bitmaps from bitmap_plan)")
            rows = _select_page("envelope", "page", item_columns, when=sql.SQL("not ") + use)
            bitmaps = _select_page("bitmap_envelope", "bitmap_page", item_columns, when=use)
            statement = (
                sql.SQL("with recursive ")
                + statement
                + sql.SQL(", ")
                + _bitmap_ctes(query)
                + sql.SQL("(")
                + rows
                + sql.SQL(") union all (")
                + bitmaps
                + sql.SQL(") order by position")
            )
            return statement, params
        statement = sql.SQL("with ") + statement
    statement += _select_page("envelope", "page", item_columns) + sql.SQL(
        " order by items.position"
    )
    return statement, params


def plans_once(query: SearchQuery) -> bool:
    """Whether ``query``'s statement runs with one generic plan, planned once per
    connection: a text search the bitmaps can answer. Its rows branch only ever reads
    rare matches (a common word takes the bitmaps), for which the index plan is always
    right. Every other statement is planned for its own values: how common a filter or
    an unanswerable word is decides its plan."""
    bitmap_filters = query.year is None and query.min_rating is None and query.language is None
    return bitmap_filters and bool(words(query.q))


# Transaction-local: it ends with the pipeline's one transaction, error or not.
GENERIC_PLAN = "select set_config('plan_cache_mode', 'force_generic_plan', true)"


async def fetch_search(cursor: AsyncCursor, query: SearchQuery, item_columns: sql.Composable):
    """Run ``query``'s statement on ``cursor`` and return its rows.

    A statement that ``plans_once`` is prepared and run with its generic plan (the
    server would keep planning it per value: its estimates favour custom plans),
    saving the 2-4 ms of planning its two branches cost: the setting and the
    statement go in one pipeline, one round trip and one transaction, so the setting
    never outlives it."""
    statement, params = search_statement(query, item_columns=item_columns)
    if not plans_once(query):
        await cursor.execute(statement, params, prepare=False)
        return await cursor.fetchall()
    async with cursor.connection.pipeline():
        await cursor.connection.execute(GENERIC_PLAN)
        await cursor.execute(statement, params, prepare=True)
    return await cursor.fetchall()


class PostgresSearch:
    """The default backend: full-text search in the warehouse itself."""

    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def search(
        self, db: AsyncConnection, query: SearchQuery, *, item_columns: sql.Composable
    ) -> SearchPage:
        async with db.cursor(row_factory=dict_row) as cursor:
            rows = await fetch_search(cursor, query, item_columns)
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

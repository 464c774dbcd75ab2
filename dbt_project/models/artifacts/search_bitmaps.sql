-- The matches of the words, prefixes and title beginnings found in many movies, as
-- bitmaps over search_index.popularity_rank, with one bitmap per genre and decade
-- and one of the whole catalog. A search whose words all have one here (the common
-- ones: `the`, `love`, a two-letter prefix) counts its total and facets with `&`
-- and bit_count, and reads its page from the set bits in rank order, instead of
-- reading every match's row (search/postgres.py; docs/search.md).
{{
    config(
        indexes=[
            {'columns': ['kind', 'value'], 'unique': True},
        ],
        post_hook='analyze {{ this }}',
    )
}}

with

search_index as (

    select * from {{ ref('search_index') }}

),

catalog as (

    select
        greatest(
            ceil(count(*) * {{ var('search_bitmap_word_min_share') }}),
            {{ var('search_bitmap_min_movies') }}
        ) as min_movies,
        greatest(
            ceil(count(*) * {{ var('search_bitmap_prefix_min_share') }}),
            {{ var('search_bitmap_min_movies') }}
        ) as min_prefix_movies,
        (count(*) + 63) / 64 * 64 as bitmap_bits

    from search_index

),

document_lexemes as (

    select
        popularity_rank,
        lexemes.lexeme,
        'A' = any(lexemes.weights) as in_title,
        lexemes.weights && array['A', 'B', 'C'] as in_fields

    from search_index
    cross join lateral unnest(search_vector) as lexemes

),

lexeme_counts as (

    select
        lexeme,
        count(*) as movie_count

    from document_lexemes
    group by lexeme

),

word_rows as (

    select
        'word' as kind,
        document_lexemes.lexeme as value,  -- noqa: RF04
        document_lexemes.popularity_rank,
        document_lexemes.in_fields,
        document_lexemes.in_title

    from document_lexemes
    inner join lexeme_counts on document_lexemes.lexeme = lexeme_counts.lexeme
    cross join catalog
    where lexeme_counts.movie_count >= catalog.min_movies

),

-- a last query word matches as a prefix (`the` is `the:*`): every prefix of every
-- lexeme, kept when its lexemes' movie counts add up to the threshold (a bound on
-- its movies: a movie can have several of them), then counted exactly
lexeme_prefixes as (

    select
        lexeme,
        movie_count,
        left(lexeme, prefix_length) as lexeme_prefix

    from lexeme_counts
    cross join lateral generate_series(1, char_length(lexeme)) as prefix_length

),

candidate_prefixes as (

    select lexeme_prefixes.lexeme_prefix

    from lexeme_prefixes
    cross join catalog
    group by lexeme_prefixes.lexeme_prefix, catalog.min_prefix_movies
    having sum(lexeme_prefixes.movie_count) >= catalog.min_prefix_movies

),

prefix_matches as (

    select
        lexeme_prefixes.lexeme_prefix,
        document_lexemes.popularity_rank,
        bool_or(document_lexemes.in_fields) as in_fields,
        bool_or(document_lexemes.in_title) as in_title

    from lexeme_prefixes
    inner join candidate_prefixes
        on lexeme_prefixes.lexeme_prefix = candidate_prefixes.lexeme_prefix
    inner join document_lexemes on lexeme_prefixes.lexeme = document_lexemes.lexeme
    group by lexeme_prefixes.lexeme_prefix, document_lexemes.popularity_rank

),

common_prefixes as (

    select prefix_matches.lexeme_prefix

    from prefix_matches
    cross join catalog
    group by prefix_matches.lexeme_prefix, catalog.min_prefix_movies
    having count(*) >= catalog.min_prefix_movies

),

prefix_rows as (

    select
        'prefix' as kind,
        prefix_matches.lexeme_prefix as value,  -- noqa: RF04
        prefix_matches.popularity_rank,
        prefix_matches.in_fields,
        prefix_matches.in_title

    from prefix_matches
    inner join common_prefixes on prefix_matches.lexeme_prefix = common_prefixes.lexeme_prefix

),

-- the title-prefix ranking tier: the titles (folded words) that start with a text
title_beginnings as (

    select
        popularity_rank,
        left(title_words, beginning_length) as beginning

    from search_index
    cross join lateral generate_series(1, char_length(title_words)) as beginning_length
    where substr(title_words, beginning_length, 1) <> ' '

),

common_beginnings as (

    select title_beginnings.beginning

    from title_beginnings
    cross join catalog
    group by title_beginnings.beginning, catalog.min_prefix_movies
    having count(*) >= catalog.min_prefix_movies

),

lead_rows as (

    select
        'lead' as kind,
        title_beginnings.beginning as value,  -- noqa: RF04
        title_beginnings.popularity_rank,
        false as in_fields,
        false as in_title

    from title_beginnings
    inner join common_beginnings on title_beginnings.beginning = common_beginnings.beginning

),

filter_rows as (

    select
        'genre' as kind,
        genre as value,  -- noqa: RF04
        search_index.popularity_rank,
        false as in_fields,
        false as in_title

    from search_index
    cross join lateral unnest(search_index.genres) as genre

    union all

    select
        'decade' as kind,
        release_decade::text as value,  -- noqa: RF04
        popularity_rank,
        false as in_fields,
        false as in_title

    from search_index
    where release_decade is not null

    union all

    select
        'catalog' as kind,
        '' as value,  -- noqa: RF04
        popularity_rank,
        false as in_fields,
        false as in_title

    from search_index

),

bitmap_rows as (

    select * from word_rows
    union all
    select * from prefix_rows
    union all
    select * from lead_rows
    union all
    select * from filter_rows

),

bitmaps as {{
    rank_bitmaps(
        'bitmap_rows',
        ['kind', 'value'],
        [('any', 'true'), ('fields', 'in_fields'), ('title', 'in_title')],
        '(select bitmap_bits from catalog)',
    )
}},

final as (

    select
        kind::text as kind,
        value::text as value,  -- noqa: RF04
        bit_count(any_bits)::bigint as movie_count,
        any_bits::bit varying as any_bits,
        (case when kind in ('word', 'prefix') then fields_bits end)::bit varying as fields_bits,
        (case when kind in ('word', 'prefix') then title_bits end)::bit varying as title_bits

    from bitmaps

)

select * from final

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

-- every word's movies as 64-bit chunks of its three bitmaps (a word's bitmaps are its
-- chunks, a prefix's the `|` of its words' chunks), with its movie count
lexeme_chunks as (

    select
        lexeme,
        popularity_rank / 64 as chunk,
        count(*) as movie_count,
        bit_or(1::bigint << (63 - popularity_rank % 64)) as any_chunk,
        coalesce(
            bit_or(1::bigint << (63 - popularity_rank % 64)) filter (where in_fields), 0
        ) as fields_chunk,
        coalesce(
            bit_or(1::bigint << (63 - popularity_rank % 64)) filter (where in_title), 0
        ) as title_chunk

    from document_lexemes
    group by lexeme, popularity_rank / 64

),

lexeme_counts as (

    select
        lexeme,
        sum(movie_count) as movie_count

    from lexeme_chunks
    group by lexeme

),

-- a last query word matches as a prefix (`the` is `the:*`): every prefix of every
-- lexeme, kept when its lexemes' movie counts add up to the threshold (a bound on
-- its movies, as a movie can have several of them: a prefix just under the threshold
-- may get a bitmap, which answers as exactly as its rows would)
lexeme_prefixes as (

    select
        lexeme,
        movie_count,
        left(lexeme, prefix_length) as lexeme_prefix

    from lexeme_counts
    cross join lateral generate_series(1, char_length(lexeme)) as prefix_length

),

common_prefixes as (

    select lexeme_prefixes.lexeme_prefix

    from lexeme_prefixes
    cross join catalog
    group by lexeme_prefixes.lexeme_prefix, catalog.min_prefix_movies
    having sum(lexeme_prefixes.movie_count) >= catalog.min_prefix_movies

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

genre_ranks as (

    select
        genre,
        popularity_rank

    from search_index
    cross join lateral unnest(genres) as genre

),

-- every bitmap's key, numbered: the chunks are grouped and ordered by the number, as
-- sorting millions of chunks by their text keys took most of the build
bitmap_keys as (

    select
        kind,
        value,  -- noqa: RF04
        row_number() over (order by kind, value) as key_id

    from (
        select
            'word' as kind,
            lexeme_counts.lexeme as value  -- noqa: RF04
        from lexeme_counts
        cross join catalog
        where lexeme_counts.movie_count >= catalog.min_movies

        union all

        select
            'prefix' as kind,
            lexeme_prefix as value  -- noqa: RF04
        from common_prefixes

        union all

        select
            'lead' as kind,
            beginning as value  -- noqa: RF04
        from common_beginnings

        union all

        select distinct
            'genre' as kind,
            genre as value  -- noqa: RF04
        from genre_ranks

        union all

        select distinct
            'decade' as kind,
            release_decade::text as value  -- noqa: RF04
        from search_index
        where release_decade is not null

        union all

        select
            'catalog' as kind,
            '' as value  -- noqa: RF04
    ) as bitmap_key_values

),

word_chunks as (

    select
        bitmap_keys.key_id,
        lexeme_chunks.chunk,
        lexeme_chunks.any_chunk,
        lexeme_chunks.fields_chunk,
        lexeme_chunks.title_chunk

    from lexeme_chunks
    inner join bitmap_keys
        on bitmap_keys.kind = 'word' and lexeme_chunks.lexeme = bitmap_keys.value

),

prefix_chunks as (

    select
        bitmap_keys.key_id,
        lexeme_chunks.chunk,
        bit_or(lexeme_chunks.any_chunk) as any_chunk,
        bit_or(lexeme_chunks.fields_chunk) as fields_chunk,
        bit_or(lexeme_chunks.title_chunk) as title_chunk

    from lexeme_prefixes
    inner join bitmap_keys
        on bitmap_keys.kind = 'prefix' and lexeme_prefixes.lexeme_prefix = bitmap_keys.value
    inner join lexeme_chunks on lexeme_prefixes.lexeme = lexeme_chunks.lexeme
    group by bitmap_keys.key_id, lexeme_chunks.chunk

),

rank_rows as (

    select
        bitmap_keys.key_id,
        title_beginnings.popularity_rank

    from title_beginnings
    inner join bitmap_keys
        on bitmap_keys.kind = 'lead' and title_beginnings.beginning = bitmap_keys.value

    union all

    select
        bitmap_keys.key_id,
        genre_ranks.popularity_rank

    from genre_ranks
    inner join bitmap_keys
        on bitmap_keys.kind = 'genre' and genre_ranks.genre = bitmap_keys.value

    union all

    select
        bitmap_keys.key_id,
        search_index.popularity_rank

    from search_index
    inner join bitmap_keys
        on bitmap_keys.kind = 'decade' and search_index.release_decade::text = bitmap_keys.value

    union all

    select
        bitmap_keys.key_id,
        search_index.popularity_rank

    from search_index
    inner join bitmap_keys on bitmap_keys.kind = 'catalog'

),

row_chunks as {{
    rank_chunks(
        'rank_rows',
        ['key_id'],
        [('any', 'true'), ('fields', 'false'), ('title', 'false')],
    )
}},

chunks as (

    select * from word_chunks
    union all
    select * from prefix_chunks
    union all
    select * from row_chunks

),

bitmaps as {{
    chunk_bitmaps(
        'chunks',
        ['key_id'],
        ['any', 'fields', 'title'],
        '(select bitmap_bits from catalog)',
    )
}},

final as (

    select
        bitmap_keys.kind::text as kind,
        bitmap_keys.value::text as value,  -- noqa: RF04
        bit_count(bitmaps.any_bits)::bigint as movie_count,
        bitmaps.any_bits::bit varying as any_bits,
        (
            case when bitmap_keys.kind in ('word', 'prefix') then bitmaps.fields_bits end
        )::bit varying as fields_bits,
        (
            case when bitmap_keys.kind in ('word', 'prefix') then bitmaps.title_bits end
        )::bit varying as title_bits

    from bitmaps
    inner join bitmap_keys on bitmaps.key_id = bitmap_keys.key_id

)

select * from final

-- The PostgreSQL search backend (search/postgres.py) reads this table: the
-- search_vector GIN index finds the matches of a query, the btree and GIN indexes
-- below serve the filters, and title_words ranks exact and prefix title matches.
-- facet_cell numbers the distinct (genres, release_decade) pairs: a search counts its
-- matches per cell (one integer grouping) and reads the cells' genres and decade from
-- search_facet_cells, instead of unnesting every match's genres.
-- popularity_rank numbers the movies in popularity order from 0: the bit of a movie
-- in search_bitmaps, and the order of a search's matches inside a ranking tier; the
-- (title_words, popularity_rank) index finds the titles a query is or begins, by an
-- index-only scan once the vacuum (outside the model's transaction) has set the
-- visibility map.
{{
    config(
        indexes=[
            {'columns': ['movie_id'], 'unique': True},
            {'columns': ['search_vector'], 'type': 'gin'},
            {'columns': ['genres'], 'type': 'gin'},
            {'columns': ['release_year']},
            {'columns': ['release_decade']},
            {'columns': ['original_language']},
            {'columns': ['vote_average']},
            {'columns': ['popularity desc nulls last', 'vote_count desc nulls last', 'movie_id']},
            {'columns': ['popularity_rank'], 'unique': True},
            {'columns': ['title_words text_pattern_ops', 'popularity_rank']},
        ],
        post_hook={'sql': 'vacuum analyze {{ this }}', 'transaction': False},
    )
}}

with

search_documents as (

    select * from {{ ref('search_documents') }}

),

folded as (

    select
        movie_id,
        {{ search_words('title') }} as title_words,
        {{ search_words('original_title') }} as original_title_words,
        {{ search_words("array_to_string(keywords || genres, ' ')") }} as tag_words,
        {{ search_words('overview') }} as overview_words,
        genres,
        release_year,
        release_decade,
        original_language,
        vote_average,
        vote_count,
        popularity

    from search_documents

),

final as (

    select
        movie_id::bigint as movie_id,
        title_words::text as title_words,
        (
            setweight(to_tsvector('simple', title_words), 'A')
            || setweight(to_tsvector('simple', original_title_words), 'B')
            || setweight(to_tsvector('simple', tag_words), 'C')
            || setweight(to_tsvector('simple', overview_words), 'D')
        )::tsvector as search_vector,
        genres::text[] as genres,
        release_year::integer as release_year,
        release_decade::integer as release_decade,
        original_language::text as original_language,
        vote_average::double precision as vote_average,
        vote_count::bigint as vote_count,
        popularity::double precision as popularity,
        dense_rank() over (order by genres, release_decade)::integer as facet_cell,
        (
            row_number() over (
                order by popularity desc nulls last, vote_count desc nulls last, movie_id asc
            ) - 1
        )::integer as popularity_rank

    from folded

)

select * from final

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

-- the folded words and vectors, folded when each movie's details were loaded
search_text as (

    select * from {{ ref('int_search_text') }}

),

final as (

    select
        search_documents.movie_id::bigint as movie_id,
        search_text.title_words::text as title_words,
        search_text.search_vector::tsvector as search_vector,
        search_documents.genres::text[] as genres,
        search_documents.release_year::integer as release_year,
        search_documents.release_decade::integer as release_decade,
        search_documents.original_language::text as original_language,
        search_documents.vote_average::double precision as vote_average,
        search_documents.vote_count::bigint as vote_count,
        search_documents.popularity::double precision as popularity,
        dense_rank() over (
            order by search_documents.genres, search_documents.release_decade
        )::integer as facet_cell,
        (
            row_number() over (
                order by
                    search_documents.popularity desc nulls last,
                    search_documents.vote_count desc nulls last,
                    search_documents.movie_id asc
            ) - 1
        )::integer as popularity_rank

    from search_documents
    -- a catalog movie without its text row fails the build (search_vector is not null)
    left join search_text
        on search_documents.movie_id = search_text.movie_id

)

select * from final

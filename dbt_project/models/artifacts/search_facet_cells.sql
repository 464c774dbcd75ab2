-- The facet cells of search_index: a search counts its matches per facet_cell and
-- reads here the genres and decade each cell stands for (search/postgres.py); the
-- unfiltered empty query (or one filtered by genre and decade only) reads its
-- total and facets from movie_count alone, without scanning search_index.
{{
    config(
        indexes=[
            {'columns': ['facet_cell'], 'unique': True},
        ],
        post_hook='analyze {{ this }}',
    )
}}

with

search_index as (

    select * from {{ ref('search_index') }}

),

final as (

    select
        facet_cell::integer as facet_cell,
        genres::text[] as genres,
        release_decade::integer as release_decade,
        count(*)::bigint as movie_count

    from search_index
    group by facet_cell, genres, release_decade

)

select * from final

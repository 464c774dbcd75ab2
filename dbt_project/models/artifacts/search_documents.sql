-- The search index step reads this table whole; the API serves movies from
-- movie_catalog.
{{
    config(
        indexes=[
            {'columns': ['movie_id'], 'unique': True},
        ]
    )
}}

with

movie_catalog as (

    select * from {{ ref('movie_catalog') }}

),

final as (

    select
        movie_id,
        title,
        original_title,
        overview,
        genres,
        keywords,
        release_date,
        release_year,
        {{ decade_of('release_date') }} as release_decade,
        original_language,
        vote_average,
        vote_count,
        popularity

    from movie_catalog

)

select * from final

{{
    config(
        materialized='table',
        schema='intermediate',
        indexes=[{'columns': ['movie_id'], 'unique': True}],
        post_hook='analyze {{ this }}',
    )
}}

-- depends_on: {{ ref('int_movie_recommendation_lists_part_0') }}
-- depends_on: {{ ref('int_movie_recommendation_lists_part_1') }}

-- The content hash of every movie as the recommendation lists were last scored: built
-- after both parts of int_movie_recommendation_lists have passed, so the next
-- incremental build of a part finds here the movies that changed since, whichever
-- part lists them. After a failed part it keeps the older hashes: the next build then
-- rescores a few movies too many, never too few.
with

content as (

    select * from {{ ref('int_movie_recommendation_content') }}

),

final as (

    select
        movie_id,
        content_hash

    from content

)

select * from final

{{
    config(
        materialized='table',
        schema='intermediate',
        post_hook='analyze {{ this }}',
    )
}}

with

movie_features as (

    select * from {{ ref('int_movie_features') }}

),

-- inverted index with a cap: each feature offers only its most popular movies as
-- partners, so pairs grow as movies x features x cap, never movies squared
capped_partners as (

    select
        feature_type,
        feature_id,
        movie_id as recommended_movie_id

    from movie_features
    where popularity_rank_in_feature <= {{ var('recommendation_candidates_per_feature') }}

),

final as (

    select distinct
        movie_features.movie_id,
        capped_partners.recommended_movie_id

    from movie_features
    inner join capped_partners
        on
            movie_features.feature_type = capped_partners.feature_type
            and movie_features.feature_id = capped_partners.feature_id
    where movie_features.movie_id != capped_partners.recommended_movie_id

)

select * from final

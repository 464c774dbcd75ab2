{{
    config(
        materialized='table',
        schema='intermediate',
        indexes=[{'columns': ['feature_type', 'feature_id']}, {'columns': ['recommended_movie_id']}],
        post_hook='analyze {{ this }}',
    )
}}

-- The frozen pools with what scoring reads of each pooled movie today, indexed by
-- feature: int_movie_recommendation_lists looks a movie's features up here one movie
-- at a time.
with

pools as (

    select * from {{ ref('int_recommendation_pools') }}

),

content as (

    select * from {{ ref('int_movie_recommendation_content') }}

),

priors as (

    select * from {{ ref('int_recommendation_priors') }}

),


final as (

    select
        pools.feature_type,
        pools.feature_id,
        pools.movie_id as recommended_movie_id,
        content.genre_mask,
        content.genre_count,
        content.keyword_norm,
        content.people_norm,
        content.release_year,
        priors.vote_prior * priors.rating as frozen_prior,
        content.genre_count > 0 as has_genres,
        content.genre_count > 0 and priors.has_votes as has_evidence

    from pools
    inner join content
        on pools.movie_id = content.movie_id
    inner join priors
        on pools.movie_id = priors.movie_id
    -- a pooled movie that has lost the feature since the pools froze is not offered
    -- for it (its content hash moved, so its own list is rescored too); its feature
    -- array says, without a join
    where
        {{ recommendation_feature_key('pools.feature_type', 'pools.feature_id') }}
        = any(content.feature_keys)

)

select * from final

{{
    config(
        materialized='incremental',
        schema='intermediate',
        incremental_strategy='append',
        on_schema_change='fail',
        indexes=[{'columns': ['feature_key']}, {'columns': ['recommended_movie_id']}],
        pre_hook="{{ delete_rows_of_changed_movies(
            this, ref('int_movie_recommendation_content'), movie_key='recommended_movie_id', catalog_only=false
        ) }}",
        post_hook='analyze {{ this }}',
    )
}}

-- The frozen pools with what scoring reads of each pooled movie today, indexed by
-- feature: int_movie_recommendation_lists looks a movie's features up here one movie
-- at a time. Incremental like int_movie_recommendation_content: a day writes the rows
-- of the pooled movies whose content row was written again.
with

pools as (

    select * from {{ ref('int_recommendation_pools') }}

),

all_content as (

    select * from {{ ref('int_movie_recommendation_content') }}

),

-- the movies to write: all of them on a full refresh, else those without rows;
-- materialised, so a day looks up its few movies' pools instead of checking every
-- pooled row
content as materialized (

    select *
    from all_content
    where {{ movie_rows_missing('all_content.movie_id', movie_key='recommended_movie_id') }}

),

priors as (

    select * from {{ ref('int_recommendation_priors') }}

),


final as (

    select
        pools.feature_type,
        pools.feature_id,
        {{ recommendation_feature_key('pools.feature_type', 'pools.feature_id') }} as feature_key,
        pools.movie_id as recommended_movie_id,
        content.genre_mask,
        content.genre_count,
        content.keyword_norm,
        content.people_norm,
        content.release_year,
        priors.vote_prior * priors.rating as frozen_prior,
        content.genre_count > 0 as has_genres,
        content.genre_count > 0 and priors.has_votes as has_evidence,
        -- the details the content was read from (delete_rows_of_changed_movies)
        content.loaded_at

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
-- stored by feature: a movie's candidates are a few rows on a few pages per feature
order by feature_key, recommended_movie_id

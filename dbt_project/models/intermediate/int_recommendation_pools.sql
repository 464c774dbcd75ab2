{{
    config(
        materialized='incremental',
        schema='intermediate',
        unique_key=['feature_type', 'feature_id', 'movie_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[{'columns': ['feature_type', 'feature_id']}, {'columns': ['movie_id']}],
        post_hook='analyze {{ this }}',
    )
}}

-- Frozen between full refreshes: each feature's candidate pool, its
-- recommendation_candidates_per_feature most popular catalog movies at the last full
-- refresh. Frozen, the pools do not follow the daily drift of popularity, so a day
-- rescores only what changed; a new movie joins the pools at the next full refresh.
with

movie_features as (

    select * from {{ ref('int_movie_features') }}

),

final as (

    select
        feature_type,
        feature_id,
        movie_id

    from movie_features
    where
        popularity_rank_in_feature <= {{ var('recommendation_candidates_per_feature') }}
    {% if is_incremental() %}
            -- incremental builds keep the pools as they are
            and false
        {% endif %}

)

select * from final

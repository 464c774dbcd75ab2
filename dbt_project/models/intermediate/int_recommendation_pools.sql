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

{% if is_incremental() %}

    -- incremental builds keep the pools as they are
    final as (

        select
            feature_type,
            feature_id,
            movie_id

        from movie_features
        where false

    )

{% else %}

    catalog_movies as (

        select * from {{ ref('dim_movies') }}

    ),

    ranked as (

        select
            movie_features.feature_type,
            movie_features.feature_id,
            movie_features.movie_id,
            row_number() over (
                partition by movie_features.feature_type, movie_features.feature_id
                order by catalog_movies.popularity desc, movie_features.movie_id asc
            ) as popularity_rank_in_feature

        from movie_features
        inner join catalog_movies
            on movie_features.movie_id = catalog_movies.movie_id

    ),

    final as (

        select
            feature_type,
            feature_id,
            movie_id

        from ranked
        where popularity_rank_in_feature <= {{ var('recommendation_candidates_per_feature') }}

    )

{% endif %}

select * from final

{{
    config(
        materialized='incremental',
        unique_key=['movie_id', 'snapshot_date'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- Every snapshot is kept, also one whose movie has no details yet: filtering on
-- dim_movies here would drop it for good, since later runs only read newer loads.
-- Consumers keep the catalog by joining dim_movies.
with

snapshots as (

    select * from {{ ref('stg_tmdb__movie_popularity_snapshots') }}

),

already_loaded as (

    {% if is_incremental() %}
        select max(loaded_at) as max_loaded_at from {{ this }}
    {% else %}
        select null::timestamptz as max_loaded_at
    {% endif %}

),

new_snapshots as (

    select snapshots.*
    from snapshots
    cross join already_loaded
    where
        already_loaded.max_loaded_at is null
        or snapshots.loaded_at > already_loaded.max_loaded_at

),

final as (

    select
        movie_id,
        snapshot_date,
        popularity,
        vote_average,
        vote_count,
        loaded_at

    from new_snapshots

)

select * from final

{{
    config(
        materialized='incremental',
        unique_key=['movie_id', 'snapshot_date'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

snapshots as (

    select * from {{ ref('stg_tmdb__movie_popularity_snapshots') }}

),

movies as (

    select * from {{ ref('stg_tmdb__movies') }}

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
        new_snapshots.movie_id,
        new_snapshots.snapshot_date,
        new_snapshots.popularity,
        new_snapshots.vote_average,
        new_snapshots.vote_count,
        new_snapshots.loaded_at

    from new_snapshots
    inner join movies
        on new_snapshots.movie_id = movies.movie_id

)

select * from final

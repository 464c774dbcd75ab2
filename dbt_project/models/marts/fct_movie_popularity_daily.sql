{{
    config(
        materialized='incremental',
        unique_key=['movie_id', 'snapshot_date'],
        incremental_strategy='delete_insert_by_day',
        day_column='snapshot_date',
        on_schema_change='fail',
        full_refresh=(false if target.name == 'prod' else none),
        indexes=[
            {'columns': ['movie_id', 'snapshot_date'], 'unique': True},
            {'columns': ['snapshot_date']},
        ],
        post_hook="{{ delete_expired_snapshots(this) }}",
    )
}}

-- The popularity history, kept here only: raw keeps its last weeks once they land
-- (transform/history.py). So a full refresh of prod rebuilds everything else and
-- leaves this table (full_refresh false); an analyst's dev copy follows --full-refresh.
--
-- Every snapshot is kept, also one whose movie has no details yet: filtering on
-- dim_movies here would drop it for good, since later runs only read newer loads.
-- Consumers keep the catalog by joining dim_movies.
with

snapshots as (

    select * from {{ ref('stg_tmdb__movie_popularity_snapshots') }}

),

-- the snapshots loaded since the newest load read: a scalar bound, so the raw
-- table's `_loaded_at` index finds them (the loader makes it)
new_snapshots as (

    select *
    from snapshots
    {% if is_incremental() %}
        -- the newest load is the newest day's (the snapshot_date index finds it);
        -- were an older day loaded later, its rows would be read again, harmlessly
        where loaded_at > (
            select coalesce(max(stored.loaded_at), '-infinity')
            from {{ this }} as stored
            where stored.snapshot_date = (select max(newest.snapshot_date) from {{ this }} as newest)
        )
    {% endif %}

),

-- a day's votes are the discover page's when the movie was on the day's first pages,
-- else those of its details as loaded when the day is built (a movie's details are
-- fetched again whenever TMDB lists it as changed)
details as (

    select
        movie_id,
        vote_average,
        vote_count

    from {{ ref('stg_tmdb__movies') }}

),

final as (

    select
        new_snapshots.movie_id::bigint as movie_id,
        new_snapshots.snapshot_date::date as snapshot_date,
        new_snapshots.popularity::double precision as popularity,
        coalesce(
            new_snapshots.vote_average, details.vote_average, 0
        )::double precision as vote_average,
        coalesce(new_snapshots.vote_count, details.vote_count, 0)::bigint as vote_count,
        new_snapshots.loaded_at::timestamptz as loaded_at

    from new_snapshots
    left join details
        on new_snapshots.movie_id = details.movie_id

)

select * from final

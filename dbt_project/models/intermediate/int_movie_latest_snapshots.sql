{{
    config(
        materialized='incremental',
        schema='intermediate',
        unique_key='movie_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['movie_id'], 'unique': True},
        ],
        post_hook='analyze {{ this }}',
    )
}}

-- Per movie, its newest popularity snapshot and its newest snapshot with votes: what
-- dim_movies needs of the snapshot history, kept up to date from the snapshots loaded
-- since the last build (raw `_loaded_at` is indexed by the loader), so a day reads the
-- day's snapshots, not the history. A movie with new snapshots gets its row again,
-- from them and its stored row.
with

snapshots as (

    select * from {{ ref('stg_tmdb__movie_popularity_snapshots') }}

),

-- a scalar bound, so the raw table's `_loaded_at` index finds the new snapshots
new_snapshots as (

    select *
    from snapshots
    {% if is_incremental() %}
        where loaded_at > (
            select coalesce(greatest(max(stored.loaded_at), max(stored.votes_loaded_at)), '-infinity')
            from {{ this }} as stored
        )
    {% endif %}

),

-- the new snapshots and, for their movies, the stored newest snapshot and newest
-- votes (not a snapshot of its own: only its votes count)
candidates as (

    select
        movie_id,
        true as is_snapshot,
        snapshot_date,
        popularity,
        loaded_at,
        vote_average,
        vote_count

    from new_snapshots

    {% if is_incremental() %}

        union all

        select
            movie_id,
            true as is_snapshot,
            last_exported_on as snapshot_date,
            popularity,
            loaded_at,
            null::double precision as vote_average,
            null::bigint as vote_count

        from {{ this }}
        where movie_id in (select new_snapshots.movie_id from new_snapshots)

        union all

        select
            movie_id,
            false as is_snapshot,
            votes_snapshot_date as snapshot_date,
            null::double precision as popularity,
            votes_loaded_at as loaded_at,
            vote_average,
            vote_count

        from {{ this }}
        where
            votes_loaded_at is not null
            and movie_id in (select new_snapshots.movie_id from new_snapshots)

    {% endif %}

),

latest as (

    select distinct on (movie_id)
        movie_id,
        snapshot_date,
        popularity,
        loaded_at

    from candidates
    where is_snapshot
    order by movie_id asc, snapshot_date desc, loaded_at desc

),

latest_votes as (

    select distinct on (movie_id)
        movie_id,
        snapshot_date,
        loaded_at,
        vote_average,
        vote_count

    from candidates
    where vote_count is not null
    order by movie_id asc, snapshot_date desc, loaded_at desc

),

final as (

    select
        latest.movie_id::bigint as movie_id,
        latest.snapshot_date::date as last_exported_on,
        latest.popularity::double precision as popularity,
        latest.loaded_at::timestamptz as loaded_at,
        latest_votes.snapshot_date::date as votes_snapshot_date,
        latest_votes.loaded_at::timestamptz as votes_loaded_at,
        latest_votes.vote_average::double precision as vote_average,
        latest_votes.vote_count::bigint as vote_count

    from latest
    left join latest_votes
        on latest.movie_id = latest_votes.movie_id

)

select * from final

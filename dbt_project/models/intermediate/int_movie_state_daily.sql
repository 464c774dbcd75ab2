-- Reads the window's snapshots and, per movie, its last snapshot before the window
-- (it holds into the window until the movie's next one), both by the indexes of
-- fct_movie_popularity_daily: not the rest of the history.
with

-- not materialized: each read below goes to the table's indexes (by day, by movie
-- and day), where a materialized CTE would copy the whole history first
daily_popularity as not materialized (

    select * from {{ ref('fct_movie_popularity_daily') }}

),

movies as (

    select * from {{ ref('dim_movies') }}

),

history_window as (

    {{ history_window('daily_popularity') }}

),

window_snapshots as (

    select
        daily_popularity.movie_id,
        daily_popularity.snapshot_date,
        daily_popularity.popularity,
        daily_popularity.vote_average,
        daily_popularity.vote_count

    from daily_popularity
    cross join history_window
    where daily_popularity.snapshot_date >= history_window.first_history_date

),

carried_in as (

    select
        last_before.movie_id,
        last_before.snapshot_date,
        last_before.popularity,
        last_before.vote_average,
        last_before.vote_count

    from movies
    cross join history_window
    cross join lateral (
        -- the outer movie and window are the only qualified names here
        select
            movie_id,
            snapshot_date,
            popularity,
            vote_average,
            vote_count
        from daily_popularity
        where
            movie_id = movies.movie_id  -- noqa: RF03
            and snapshot_date < history_window.first_history_date  -- noqa: RF03
        order by snapshot_date desc
        limit 1
    ) as last_before

),

stat_dates as (

    select distinct snapshot_date as stat_date
    from window_snapshots

),

snapshots as (

    select * from window_snapshots
    union all
    select * from carried_in

),

snapshot_validity as (

    select
        snapshots.movie_id,
        snapshots.snapshot_date as valid_from,
        -- a snapshot holds until the day before the movie's next one, or the latest date
        coalesce(
            lead(snapshots.snapshot_date) over (
                partition by snapshots.movie_id
                order by snapshots.snapshot_date
            ) - 1,
            history_window.latest_snapshot_date
        ) as valid_until,
        snapshots.popularity,
        snapshots.vote_average,
        snapshots.vote_count

    from snapshots
    cross join history_window

),

days_covered as (

    select
        snapshot_validity.movie_id,
        covered_day::date as stat_date,
        snapshot_validity.popularity,
        snapshot_validity.vote_average,
        snapshot_validity.vote_count

    from snapshot_validity
    cross join history_window
    cross join
        lateral generate_series(
            greatest(snapshot_validity.valid_from, history_window.first_history_date),
            snapshot_validity.valid_until,
            interval '1 day'
        ) as covered_day
    where snapshot_validity.valid_until >= history_window.first_history_date

),

final as (

    select days_covered.*
    from days_covered
    inner join stat_dates
        on days_covered.stat_date = stat_dates.stat_date

)

select * from final

with

daily_popularity as (

    select * from {{ ref('fct_movie_popularity_daily') }}

),

history_window as (

    {{ history_window('daily_popularity') }}

),

stat_dates as (

    select distinct daily_popularity.snapshot_date as stat_date
    from daily_popularity
    cross join history_window
    where daily_popularity.snapshot_date >= history_window.first_history_date

),

snapshot_validity as (

    select
        daily_popularity.movie_id,
        daily_popularity.snapshot_date as valid_from,
        -- a snapshot holds until the day before the movie's next one, or the latest date
        coalesce(
            lead(daily_popularity.snapshot_date) over (
                partition by daily_popularity.movie_id
                order by daily_popularity.snapshot_date
            ) - 1,
            history_window.latest_snapshot_date
        ) as valid_until,
        daily_popularity.popularity,
        daily_popularity.vote_average,
        daily_popularity.vote_count

    from daily_popularity
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

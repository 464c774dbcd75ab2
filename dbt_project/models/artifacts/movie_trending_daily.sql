-- The API reads this table by these keys (api/repositories.py).
{{
    config(
        indexes=[
            {'columns': ['trend_date', 'rank'], 'unique': True},
            {'columns': ['movie_id']},
        ]
    )
}}

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

catalog_popularity as (

    select
        daily_popularity.movie_id,
        daily_popularity.snapshot_date,
        daily_popularity.popularity,
        daily_popularity.vote_average,
        daily_popularity.vote_count

    from daily_popularity
    inner join movies
        on daily_popularity.movie_id = movies.movie_id
    cross join history_window
    where
        movies.is_in_catalog
        -- the first trend date still needs its 7 days of history
        and daily_popularity.snapshot_date >= history_window.first_history_date - 7

),

with_trailing_average as (

    select
        *,
        avg(popularity) over (
            partition by movie_id
            order by snapshot_date
            range between interval '7 days' preceding and interval '1 day' preceding
        ) as avg_popularity_7d

    from catalog_popularity

),

scored as (

    select
        with_trailing_average.snapshot_date as trend_date,
        with_trailing_average.movie_id,
        {{ trending_score('with_trailing_average.popularity', 'with_trailing_average.avg_popularity_7d') }} as score,
        with_trailing_average.popularity,
        with_trailing_average.avg_popularity_7d,
        {{ trending_momentum('with_trailing_average.popularity', 'with_trailing_average.avg_popularity_7d') }}
            as momentum,
        with_trailing_average.vote_average,
        with_trailing_average.vote_count

    from with_trailing_average
    cross join history_window
    where with_trailing_average.snapshot_date >= history_window.first_history_date

),

ranked as (

    select
        *,
        row_number() over (partition by trend_date order by score desc, movie_id asc) as trend_rank

    from scored

),

final as (

    select
        trend_date::date as trend_date,
        movie_id::bigint as movie_id,
        trend_rank::integer as rank,
        score::double precision as score,
        popularity::double precision as popularity,
        avg_popularity_7d::double precision as avg_popularity_7d,
        momentum::double precision as momentum,
        vote_average::double precision as vote_average,
        vote_count::bigint as vote_count

    from ranked
    where trend_rank <= {{ var('trending_top_n') }}

)

select * from final

-- The API reads this table by these keys (api/repositories.py).
{{
    config(
        indexes=[
            {'columns': ['stat_date', 'genre_id'], 'unique': True},
        ]
    )
}}

with

movie_state_daily as (

    select * from {{ ref('int_movie_state_daily') }}

),

movies as (

    select * from {{ ref('dim_movies') }}

),

movie_genres as (

    select * from {{ ref('bridge_movie_genres') }}

),

genres as (

    select * from {{ ref('dim_genres') }}

),

stat_dates as (

    select distinct stat_date from movie_state_daily

),

catalog_genre_days as (

    select
        movie_state_daily.stat_date,
        movie_genres.genre_id,
        movie_state_daily.movie_id,
        movie_state_daily.popularity,
        movie_state_daily.vote_average,
        movie_state_daily.vote_count,
        movie_state_daily.vote_count >= {{ var('min_votes') }} as is_rated,
        movies.release_date > movie_state_daily.stat_date - {{ var('new_release_window_days') }}
        and movies.release_date <= movie_state_daily.stat_date as is_new_release

    from movie_state_daily
    inner join movies
        on movie_state_daily.movie_id = movies.movie_id
    inner join movie_genres
        on movie_state_daily.movie_id = movie_genres.movie_id
    where movies.is_in_catalog

),

genre_day_stats as (

    select
        stat_date,
        genre_id,
        count(*) as movie_count,
        count(*) filter (where is_rated) as rated_movie_count,
        avg(vote_average::numeric) filter (where is_rated) as avg_rating,
        sum(vote_count) as total_votes,
        avg(popularity::numeric) as avg_popularity,
        count(*) filter (where is_new_release) as new_release_count

    from catalog_genre_days
    group by stat_date, genre_id

),

final as (

    select
        stat_dates.stat_date::date as stat_date,
        genres.genre_id::bigint as genre_id,
        genres.genre_name::text as genre_name,
        coalesce(genre_day_stats.movie_count, 0)::bigint as movie_count,
        coalesce(genre_day_stats.rated_movie_count, 0)::bigint as rated_movie_count,
        round(genre_day_stats.avg_rating, 3)::numeric(6, 3) as avg_rating,
        coalesce(genre_day_stats.total_votes, 0)::bigint as total_votes,
        round(genre_day_stats.avg_popularity, 3)::numeric(14, 3) as avg_popularity,
        coalesce(genre_day_stats.new_release_count, 0)::bigint as new_release_count

    from stat_dates
    cross join genres
    left join genre_day_stats
        on
            stat_dates.stat_date = genre_day_stats.stat_date
            and genres.genre_id = genre_day_stats.genre_id

)

select * from final

-- Every trend date ranks 1..N exactly once: fails for each date where it does not.
with

trending as (

    select * from {{ ref('movie_trending_daily') }}

),

ranks_per_day as (

    select
        trend_date,
        count(*) as ranked_movies,
        count(distinct rank) as distinct_ranks,
        min(rank) as first_rank,
        max(rank) as last_rank

    from trending
    group by trend_date

)

select * from ranks_per_day
where
    first_rank != 1
    or last_rank != ranked_movies
    or distinct_ranks != ranked_movies

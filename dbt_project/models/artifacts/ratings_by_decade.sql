with

movies as (

    select * from {{ ref('dim_movies') }}

),

dated_catalog as (

    select
        release_decade,
        vote_average::numeric as vote_average,
        vote_count,
        is_rated

    from movies
    where is_in_catalog and release_date is not null

),

decade_stats as (

    select
        release_decade as decade,
        count(*) as movie_count,
        count(*) filter (where is_rated) as rated_movie_count,
        avg(vote_average) filter (where is_rated) as avg_rating,
        sum(vote_average * vote_count) filter (where is_rated)
        / nullif(sum(vote_count) filter (where is_rated), 0) as weighted_rating,
        sum(vote_count) as total_votes

    from dated_catalog
    group by release_decade

),

final as (

    select
        decade::integer as decade,
        movie_count::bigint as movie_count,
        rated_movie_count::bigint as rated_movie_count,
        round(avg_rating, 3)::numeric(6, 3) as avg_rating,
        round(weighted_rating, 3)::numeric(6, 3) as weighted_rating,
        total_votes::bigint as total_votes

    from decade_stats

)

select * from final

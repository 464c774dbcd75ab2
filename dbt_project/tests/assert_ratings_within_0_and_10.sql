-- Every rating the artifacts publish lies in TMDB's 0..10 scale.
with

decades as (

    select * from {{ ref('ratings_by_decade') }}

),

genre_days as (

    select * from {{ ref('genre_stats_daily') }}

),

trending as (

    select * from {{ ref('movie_trending_daily') }}

),

documents as (

    select * from {{ ref('search_documents') }}

),

ratings as (

    select
        'ratings_by_decade.avg_rating' as rating_column,
        avg_rating::double precision as rating
    from decades
    union all
    select
        'ratings_by_decade.weighted_rating' as rating_column,
        weighted_rating::double precision as rating
    from decades
    union all
    select
        'genre_stats_daily.avg_rating' as rating_column,
        avg_rating::double precision as rating
    from genre_days
    union all
    select
        'movie_trending_daily.vote_average' as rating_column,
        vote_average as rating
    from trending
    union all
    select
        'search_documents.vote_average' as rating_column,
        vote_average as rating
    from documents

)

select * from ratings
where rating < 0 or rating > 10

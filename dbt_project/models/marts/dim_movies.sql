with

movies as (

    select * from {{ ref('stg_tmdb__movies') }}

),

popularity_snapshots as (

    select * from {{ ref('stg_tmdb__movie_popularity_snapshots') }}

),

-- details are re-fetched only for changed movies, while every dated movie gets a
-- snapshot each load day: the latest snapshot has the current popularity and votes
ranked_snapshots as (

    select
        movie_id,
        popularity,
        vote_average,
        vote_count,
        row_number() over (
            partition by movie_id
            order by snapshot_date desc, loaded_at desc
        ) as recency_rank

    from popularity_snapshots

),

latest_snapshots as (

    select
        movie_id,
        popularity,
        vote_average,
        vote_count

    from ranked_snapshots
    where recency_rank = 1

),

movies_with_current_votes as (

    select
        movies.*,
        coalesce(latest_snapshots.popularity, movies.popularity) as current_popularity,
        coalesce(latest_snapshots.vote_average, movies.vote_average) as current_vote_average,
        coalesce(latest_snapshots.vote_count, movies.vote_count) as current_vote_count

    from movies
    left join latest_snapshots
        on movies.movie_id = latest_snapshots.movie_id

),

final as (

    select
        movie_id,
        title,
        original_title,
        original_language,
        overview,
        tagline,
        release_date,
        extract(year from release_date)::integer as release_year,
        {{ decade_of('release_date') }} as release_decade,
        current_popularity as popularity,
        current_vote_average as vote_average,
        current_vote_count as vote_count,
        current_vote_count >= {{ var('min_votes') }} as is_rated,
        runtime_minutes,
        budget,
        revenue,
        status,
        imdb_id,
        homepage,
        poster_path,
        backdrop_path,
        collection_id,
        collection_name,
        is_adult,
        is_video,
        not is_adult as is_in_catalog,
        loaded_at

    from movies_with_current_votes

)

select * from final

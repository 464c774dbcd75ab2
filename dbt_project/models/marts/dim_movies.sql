with

movies as (

    select * from {{ ref('stg_tmdb__movies') }}

),

-- Every exported movie gets a snapshot per export day (its popularity); votes come
-- with it only when the movie was on the day's first discover pages, else from the
-- details, which are fetched again whenever TMDB lists the movie as changed. Per
-- movie, the newest snapshot and the newest snapshot with votes, kept up to date
-- from each day's snapshots (the history is not read again).
latest_snapshots as (

    select * from {{ ref('int_movie_latest_snapshots') }}

),

latest_export as (

    select max(last_exported_on) as latest_export_date
    from latest_snapshots

),

movies_with_current_votes as (

    select
        movies.*,
        latest_snapshots.last_exported_on,
        coalesce(latest_snapshots.popularity, movies.popularity) as current_popularity,
        -- the newer load of the latest observed votes and the details
        case
            when latest_snapshots.votes_loaded_at >= movies.loaded_at
                then latest_snapshots.vote_average
            else movies.vote_average
        end as current_vote_average,
        case
            when latest_snapshots.votes_loaded_at >= movies.loaded_at
                then latest_snapshots.vote_count
            else movies.vote_count
        end as current_vote_count,
        -- a movie that left the ID export is kept, out of the catalog
        coalesce(
            latest_snapshots.last_exported_on < latest_export.latest_export_date, false
        ) as is_removed

    from movies
    cross join latest_export
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
        last_exported_on,
        is_removed,
        not is_adult and not is_removed as is_in_catalog,
        loaded_at

    from movies_with_current_votes

)

select * from final

with

movies as (

    select * from {{ ref('stg_tmdb__movies') }}

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
        popularity,
        vote_average,
        vote_count,
        vote_count >= {{ var('min_votes') }} as is_rated,
        runtime_minutes,
        budget,
        revenue,
        status,
        imdb_id,
        homepage,
        poster_path,
        backdrop_path,
        is_adult,
        is_video,
        not is_adult as is_in_catalog,
        loaded_at

    from movies

)

select * from final

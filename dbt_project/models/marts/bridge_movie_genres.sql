with

movie_genres as (

    select * from {{ ref('stg_tmdb__movie_genres') }}

),

final as (

    select
        movie_id,
        genre_id,
        -- the name as the movie's own details gave it (read with its loaded_at)
        max(genre_name) as genre_name,
        min(genre_position) as genre_position

    from movie_genres
    group by movie_id, genre_id

)

select * from final

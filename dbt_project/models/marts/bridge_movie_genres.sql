with

movie_genres as (

    select * from {{ ref('stg_tmdb__movie_genres') }}

),

final as (

    select
        movie_id,
        genre_id,
        min(genre_position) as genre_position

    from movie_genres
    group by movie_id, genre_id

)

select * from final

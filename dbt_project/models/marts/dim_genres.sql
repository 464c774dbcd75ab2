with

genres as (

    select * from {{ ref('stg_tmdb__genres') }}

),

movie_genres as (

    select * from {{ ref('stg_tmdb__movie_genres') }}

),

genres_seen_on_movies as (

    select
        genre_id,
        max(genre_name) as genre_name

    from movie_genres
    group by genre_id

),

final as (

    select
        coalesce(genres.genre_id, genres_seen_on_movies.genre_id) as genre_id,
        coalesce(genres.genre_name, genres_seen_on_movies.genre_name) as genre_name,
        genres.genre_id is not null as is_in_genre_list

    from genres
    full outer join genres_seen_on_movies
        on genres.genre_id = genres_seen_on_movies.genre_id

)

select * from final

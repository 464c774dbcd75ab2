-- The API reads this table (api/repositories.py): by movie_id, and for GET /movies
-- filtered by genre id, year and rating, sorted by one of its sort orders
-- (MOVIE_SORTS), each of which an index gives in order, ties by movie_id included.
{{
    config(
        indexes=[
            {'columns': ['movie_id'], 'unique': True},
            {'columns': ['popularity', 'movie_id']},
            {'columns': ['popularity desc nulls last', 'movie_id']},
            {'columns': ['vote_average', 'movie_id']},
            {'columns': ['vote_average desc nulls last', 'movie_id']},
            {'columns': ['vote_count', 'movie_id']},
            {'columns': ['vote_count desc nulls last', 'movie_id']},
            {'columns': ['release_date', 'movie_id']},
            {'columns': ['release_date desc nulls last', 'movie_id']},
            {'columns': ['title', 'movie_id']},
            {'columns': ['title desc nulls last', 'movie_id']},
            {'columns': ['release_year']},
            {'columns': ['genre_ids'], 'type': 'gin'},
        ],
        post_hook='analyze {{ this }}',
    )
}}

with

movies as (

    select * from {{ ref('dim_movies') }}

),

movie_genres as (

    select * from {{ ref('bridge_movie_genres') }}

),

genres as (

    select * from {{ ref('dim_genres') }}

),

movie_keywords as (

    select * from {{ ref('bridge_movie_keywords') }}

),

genres_per_movie as (

    select
        movie_genres.movie_id,
        array_agg(movie_genres.genre_id order by movie_genres.genre_position) as genre_ids,
        array_agg(genres.genre_name order by movie_genres.genre_position) as genre_names

    from movie_genres
    inner join genres
        on movie_genres.genre_id = genres.genre_id
    group by movie_genres.movie_id

),

keywords_per_movie as (

    select
        movie_id,
        array_agg(keyword_name order by keyword_position) as keyword_names

    from movie_keywords
    group by movie_id

),

final as (

    select
        movies.movie_id::bigint as movie_id,
        movies.title::text as title,
        movies.original_title::text as original_title,
        movies.overview::text as overview,
        movies.original_language::text as original_language,
        movies.release_date::date as release_date,
        movies.release_year::integer as release_year,
        coalesce(genres_per_movie.genre_ids, array[]::bigint[])::bigint[] as genre_ids,
        coalesce(genres_per_movie.genre_names, array[]::text[])::text[] as genres,
        coalesce(keywords_per_movie.keyword_names, array[]::text[])::text[] as keywords,
        movies.vote_average::double precision as vote_average,
        movies.vote_count::bigint as vote_count,
        movies.popularity::double precision as popularity,
        movies.runtime_minutes::integer as runtime,
        movies.budget::bigint as budget,
        movies.revenue::bigint as revenue,
        movies.status::text as status,
        movies.imdb_id::text as imdb_id,
        movies.poster_path::text as poster_path

    from movies
    left join genres_per_movie
        on movies.movie_id = genres_per_movie.movie_id
    left join keywords_per_movie
        on movies.movie_id = keywords_per_movie.movie_id
    where movies.is_in_catalog

)

select * from final

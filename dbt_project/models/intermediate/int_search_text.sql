{{
    config(
        materialized='incremental',
        schema='intermediate',
        incremental_strategy='append',
        on_schema_change='fail',
        indexes=[
            {'columns': ['movie_id'], 'unique': True},
        ],
        pre_hook="{{ delete_rows_of_changed_movies(this, ref('dim_movies')) }}",
        post_hook='analyze {{ this }}',
    )
}}

-- Every catalog movie's folded title words and text search vector, for search_index.
-- Folding the text is most of search_index's cost and a movie's text changes only
-- when its details are loaded again, so this is incremental by movie like
-- int_movie_features (per_movie_incremental.sql): a day folds the movies loaded again
-- and the movies new to the catalog.
with

movies as (

    select * from {{ ref('dim_movies') }}

),

movie_genres as (

    select * from {{ ref('bridge_movie_genres') }}

),

movie_keywords as (

    select * from {{ ref('bridge_movie_keywords') }}

),

-- the catalog movies to write: all of them on a full refresh, else those without rows
catalog as (

    select
        movie_id,
        title,
        original_title,
        overview,
        loaded_at

    from movies
    where
        is_in_catalog
        and {{ movie_rows_missing('movies.movie_id') }}

),

-- the genre names from the movie's own details, so a movie's row changes only when
-- the movie is loaded again
genres_per_movie as (

    select
        movie_id,
        array_agg(genre_name order by genre_position) as genre_names

    from movie_genres
    where movie_id in (select catalog.movie_id from catalog)
    group by movie_id

),

keywords_per_movie as (

    select
        movie_id,
        array_agg(keyword_name order by keyword_position) as keyword_names

    from movie_keywords
    where movie_id in (select catalog.movie_id from catalog)
    group by movie_id

),

texts as (

    select
        catalog.movie_id,
        catalog.loaded_at,
        catalog.title,
        catalog.original_title,
        catalog.overview,
        array_to_string(
            coalesce(keywords_per_movie.keyword_names, array[]::text[])
            || coalesce(genres_per_movie.genre_names, array[]::text[]),
            ' '
        ) as tags

    from catalog
    left join genres_per_movie
        on catalog.movie_id = genres_per_movie.movie_id
    left join keywords_per_movie
        on catalog.movie_id = keywords_per_movie.movie_id

),

folded as (

    select
        movie_id,
        loaded_at,
        {{ search_words('title') }} as title_words,
        {{ search_words('original_title') }} as original_title_words,
        {{ search_words('tags') }} as tag_words,
        {{ search_words('overview') }} as overview_words

    from texts

),

final as (

    select
        movie_id::bigint as movie_id,
        title_words::text as title_words,
        (
            setweight(to_tsvector('simple', title_words), 'A')
            || setweight(to_tsvector('simple', original_title_words), 'B')
            || setweight(to_tsvector('simple', tag_words), 'C')
            || setweight(to_tsvector('simple', overview_words), 'D')
        )::tsvector as search_vector,
        loaded_at

    from folded

)

select * from final

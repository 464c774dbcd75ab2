{{
    config(
        materialized='incremental',
        schema='intermediate',
        incremental_strategy='append',
        on_schema_change='fail',
        indexes=[
            {'columns': ['movie_id']},
            {'columns': ['feature_type', 'feature_id', 'movie_id'], 'unique': True},
        ],
        pre_hook="{{ delete_rows_of_changed_movies(this, ref('dim_movies')) }}",
        post_hook='analyze {{ this }}',
    )
}}

-- Every catalog movie's genres, keywords, people and collection. Incremental: a day
-- writes the features of the movies whose details were loaded again (their old rows
-- go first, per_movie_incremental.sql) and of the movies new to the catalog.
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

movie_people as (

    select * from {{ ref('bridge_movie_people') }}

),

-- the catalog movies to write: all of them on a full refresh, else those without rows
catalog as (

    select
        movie_id,
        collection_id,
        collection_name,
        loaded_at

    from movies
    where
        is_in_catalog
        and {{ movie_rows_missing('movies.movie_id') }}

),

features as (

    -- the genre's name from the movie's own details, like every other feature name, so
    -- a movie's rows change only when the movie is loaded again
    select
        movie_id,
        'genre' as feature_type,
        genre_id as feature_id,
        genre_name as feature_name

    from movie_genres
    where movie_id in (select catalog.movie_id from catalog)

    union all

    select
        movie_id,
        'keyword' as feature_type,
        keyword_id as feature_id,
        keyword_name as feature_name

    from movie_keywords
    where movie_id in (select catalog.movie_id from catalog)

    union all

    -- a person counts once per movie, whatever roles they had in it
    select
        movie_id,
        'person' as feature_type,
        person_id as feature_id,
        max(person_name) as feature_name

    from movie_people
    where movie_id in (select catalog.movie_id from catalog)
    group by movie_id, person_id

    union all

    select
        movie_id,
        'collection' as feature_type,
        collection_id as feature_id,
        collection_name as feature_name

    from catalog
    where collection_id is not null

),

final as (

    select
        features.movie_id,
        features.feature_type,
        features.feature_id,
        features.feature_name,
        -- the details these features were read from (per_movie_incremental.sql)
        catalog.loaded_at

    from features
    inner join catalog
        on features.movie_id = catalog.movie_id

)

select * from final

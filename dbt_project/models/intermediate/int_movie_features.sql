{{
    config(
        materialized='table',
        schema='intermediate',
        indexes=[{'columns': ['movie_id']}, {'columns': ['feature_type', 'feature_id']}],
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

movie_people as (

    select * from {{ ref('bridge_movie_people') }}

),

catalog as (

    select
        movie_id,
        collection_id,
        collection_name

    from movies
    where is_in_catalog

),

features as (

    select
        movie_genres.movie_id,
        'genre' as feature_type,
        movie_genres.genre_id as feature_id,
        genres.genre_name as feature_name

    from movie_genres
    inner join genres
        on movie_genres.genre_id = genres.genre_id

    union all

    select
        movie_id,
        'keyword' as feature_type,
        keyword_id as feature_id,
        keyword_name as feature_name

    from movie_keywords

    union all

    -- a person counts once per movie, whatever roles they had in it
    select
        movie_id,
        'person' as feature_type,
        person_id as feature_id,
        max(person_name) as feature_name

    from movie_people
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
        features.feature_name

    from features
    inner join catalog
        on features.movie_id = catalog.movie_id

)

select * from final

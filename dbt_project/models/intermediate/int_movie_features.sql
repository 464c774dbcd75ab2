{{
    config(
        materialized='table',
        schema='intermediate',
        indexes=[{'columns': ['movie_id']}],
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

catalog as (

    select
        movie_id,
        popularity

    from movies
    where is_in_catalog

),

catalog_size as (

    select count(*) as movie_count from catalog

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

),

features_with_idf as (

    select
        features.movie_id,
        features.feature_type,
        features.feature_id,
        features.feature_name,
        -- rarer features say more: inverse document frequency over the catalog
        ln(
            catalog_size.movie_count::double precision
            / count(*) over (partition by features.feature_type, features.feature_id)
        ) as idf,
        row_number() over (
            partition by features.feature_type, features.feature_id
            order by catalog.popularity desc, features.movie_id asc
        ) as popularity_rank_in_feature

    from features
    inner join catalog
        on features.movie_id = catalog.movie_id
    cross join catalog_size

),

final as (

    select
        *,
        sum(idf) over (partition by movie_id) as movie_total_idf

    from features_with_idf

)

select * from final

{{
    config(
        materialized='table',
        schema='intermediate',
        indexes=[{'columns': ['movie_id'], 'unique': True}],
        post_hook='analyze {{ this }}',
    )
}}

-- What a movie's recommendation terms read, one row per catalog movie, and a hash of
-- it: a movie whose hash moved is a changed movie for int_movie_recommendation_lists.
with

catalog_movies as (

    select * from {{ ref('dim_movies') }}

),

movie_features as (

    select * from {{ ref('int_movie_features') }}

),

terms as (

    select * from {{ ref('int_recommendation_terms') }}

),

genres as (

    select * from {{ ref('dim_genres') }}

),

-- one bit per genre (TMDB has 19), so shared genres are a bit_count, not a join
genre_bits as (

    select
        genre_id,
        row_number() over (order by genre_id) - 1 as genre_bit

    from genres

),

movie_genres as (

    select
        movie_features.movie_id,
        bit_or(1::bigint << genre_bits.genre_bit::integer) as genre_mask,
        count(*) as genre_count,
        array_agg(movie_features.feature_id order by movie_features.feature_id) as genre_ids

    from movie_features
    inner join genre_bits
        on movie_features.feature_id = genre_bits.genre_id
    where movie_features.feature_type = 'genre'
    group by movie_features.movie_id

),

movie_keywords as (

    select
        movie_features.movie_id,
        sqrt(sum(terms.idf * terms.idf)) as keyword_norm,
        array_agg(movie_features.feature_id order by movie_features.feature_id) as keyword_ids

    from movie_features
    inner join terms
        on
            movie_features.feature_type = terms.feature_type
            and movie_features.feature_id = terms.feature_id
    where movie_features.feature_type = 'keyword'
    group by movie_features.movie_id

),

final as (

    select
        catalog_movies.movie_id,
        catalog_movies.release_year,
        coalesce(movie_genres.genre_mask, 0) as genre_mask,
        coalesce(movie_genres.genre_count, 0) as genre_count,
        movie_keywords.keyword_norm,
        md5(concat_ws(
            '|',
            catalog_movies.release_year,
            movie_genres.genre_ids::text,
            movie_keywords.keyword_ids::text
        )) as content_hash

    from catalog_movies
    left join movie_genres
        on catalog_movies.movie_id = movie_genres.movie_id
    left join movie_keywords
        on catalog_movies.movie_id = movie_keywords.movie_id
    where catalog_movies.is_in_catalog

)

select * from final

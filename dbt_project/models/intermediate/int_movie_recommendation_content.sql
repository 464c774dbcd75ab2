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
-- One pass over the movie's features.
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

weighted_features as (

    select
        movie_features.movie_id,
        movie_features.feature_type,
        movie_features.feature_id,
        movie_features.feature_name,
        terms.idf,
        genre_bits.genre_bit,
        {{ recommendation_feature_key('movie_features.feature_type', 'movie_features.feature_id') }} as feature_key

    from movie_features
    inner join terms
        on
            movie_features.feature_type = terms.feature_type
            and movie_features.feature_id = terms.feature_id
    left join genre_bits
        on
            movie_features.feature_type = 'genre'
            and movie_features.feature_id = genre_bits.genre_id

),

movie_terms as (

    select
        movie_id,
        coalesce(bit_or(1::bigint << genre_bit::integer), 0) as genre_mask,
        count(*) filter (where feature_type = 'genre') as genre_count,
        sqrt(sum(idf * idf) filter (where feature_type = 'keyword')) as keyword_norm,
        sqrt(sum(idf * idf) filter (where feature_type = 'person')) as people_norm,
        -- every feature, the rarest first: the reasons name the shared ones in this order
        array_agg(feature_key order by idf desc, feature_name asc, feature_key asc) as feature_keys,
        array_agg(feature_name order by idf desc, feature_name asc, feature_key asc) as feature_names,
        -- the content the hash covers, in a fixed order: the features and their names
        array_agg(feature_key order by feature_key) as sorted_feature_keys,
        array_agg(feature_name order by feature_key) as sorted_feature_names

    from weighted_features
    group by movie_id

),

final as (

    select
        catalog_movies.movie_id,
        catalog_movies.release_year,
        coalesce(movie_terms.genre_mask, 0) as genre_mask,
        coalesce(movie_terms.genre_count, 0) as genre_count,
        movie_terms.keyword_norm,
        movie_terms.people_norm,
        catalog_movies.collection_id,
        coalesce(movie_terms.feature_keys, '{}') as feature_keys,
        coalesce(movie_terms.feature_names, '{}') as feature_names,
        -- genres, keywords, people and collection are in the feature keys
        md5(concat_ws(
            '|',
            coalesce(catalog_movies.release_year::text, ''),
            coalesce(movie_terms.sorted_feature_keys::text, ''),
            coalesce(movie_terms.sorted_feature_names::text, '')
        )) as content_hash

    from catalog_movies
    left join movie_terms
        on catalog_movies.movie_id = movie_terms.movie_id
    where catalog_movies.is_in_catalog

)

select * from final

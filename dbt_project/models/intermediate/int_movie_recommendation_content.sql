{{
    config(
        materialized='incremental',
        schema='intermediate',
        incremental_strategy='append',
        on_schema_change='fail',
        indexes=[{'columns': ['movie_id'], 'unique': True}],
        pre_hook="{{ delete_rows_of_changed_movies(this, ref('dim_movies')) }}",
        post_hook='analyze {{ this }}',
    )
}}

-- What a movie's recommendation terms read, one row per catalog movie, and a hash of
-- it: a movie whose hash moved is a changed movie for int_movie_recommendation_lists.
-- One pass over the movie's features. Incremental like int_movie_features: a day
-- writes the rows of the movies whose details were loaded again or that are new; the
-- terms they read (idf, genre bits) are frozen between full refreshes.
with

movies as (

    select * from {{ ref('dim_movies') }}

),

-- the catalog movies to write: all of them on a full refresh, else those without a row
catalog_movies as (

    select *
    from movies
    where
        is_in_catalog
        and {{ movie_rows_missing('movies.movie_id') }}

),

movie_features as (

    select * from {{ ref('int_movie_features') }}

),

terms as (

    select * from {{ ref('int_recommendation_terms') }}

),

weighted_features as (

    select
        movie_features.movie_id,
        movie_features.feature_type,
        movie_features.feature_id,
        movie_features.feature_name,
        terms.idf,
        -- one bit per genre, so shared genres are a bit_count, not a join
        terms.genre_bit,
        {{ recommendation_feature_key('movie_features.feature_type', 'movie_features.feature_id') }} as feature_key

    from movie_features
    inner join terms
        on
            movie_features.feature_type = terms.feature_type
            and movie_features.feature_id = terms.feature_id
    where movie_features.movie_id in (select catalog_movies.movie_id from catalog_movies)

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
        array_agg(idf order by idf desc, feature_name asc, feature_key asc) as feature_idfs,
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
        coalesce(movie_terms.feature_idfs, '{}') as feature_idfs,
        -- genres, keywords, people and collection are in the feature keys
        md5(concat_ws(
            '|',
            coalesce(catalog_movies.release_year::text, ''),
            coalesce(movie_terms.sorted_feature_keys::text, ''),
            coalesce(movie_terms.sorted_feature_names::text, '')
        )) as content_hash,
        -- the details this row was read from (delete_rows_of_changed_movies)
        catalog_movies.loaded_at

    from catalog_movies
    left join movie_terms
        on catalog_movies.movie_id = movie_terms.movie_id

)

select * from final

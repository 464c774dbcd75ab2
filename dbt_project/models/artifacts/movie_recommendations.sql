-- The API reads this table by these keys (api/repositories.py).
{{
    config(
        indexes=[
            {'columns': ['movie_id', 'rank'], 'unique': True},
        ]
    )
}}

-- Every relation is imported once per use: PostgreSQL materialises a CTE read twice
-- and loses its statistics, which turns the pair joins into all-pairs plans.
with

own_movies as (

    select * from {{ ref('dim_movies') }}

),

partner_movies as (

    select * from {{ ref('dim_movies') }}

),

catalog_movies as (

    select * from {{ ref('dim_movies') }}

),

own_features as (

    select * from {{ ref('int_movie_features') }}

),

partner_features as (

    select * from {{ ref('int_movie_features') }}

),

candidates as (

    select * from {{ ref('int_movie_recommendation_candidates') }}

),

catalog_popularity as (

    select ln(1 + max(popularity)) as log_max_popularity
    from catalog_movies
    where is_in_catalog

),

shared_features as (

    select
        candidates.movie_id,
        candidates.recommended_movie_id,
        own_features.feature_type,
        own_features.feature_name,
        own_features.idf,
        own_features.movie_total_idf as own_total_idf,
        partner_features.movie_total_idf as partner_total_idf

    from candidates
    inner join own_features
        on candidates.movie_id = own_features.movie_id
    inner join partner_features
        on
            candidates.recommended_movie_id = partner_features.movie_id
            and own_features.feature_type = partner_features.feature_type
            and own_features.feature_id = partner_features.feature_id

),

pair_overlap as (

    select
        movie_id,
        recommended_movie_id,
        sum(idf) as shared_idf,
        max(own_total_idf) as own_total_idf,
        max(partner_total_idf) as partner_total_idf,
        count(*) filter (where feature_type = 'genre') as shared_genre_count,
        count(*) filter (where feature_type = 'keyword') as shared_keyword_count,
        array_agg(feature_name order by idf desc, feature_name asc)
        filter (where feature_type = 'genre') as shared_genres,
        array_agg(feature_name order by idf desc, feature_name asc)
        filter (where feature_type = 'keyword') as shared_keywords

    from shared_features
    group by movie_id, recommended_movie_id

),

scoring_inputs as (

    select
        pair_overlap.movie_id,
        pair_overlap.recommended_movie_id,
        pair_overlap.shared_genre_count,
        pair_overlap.shared_keyword_count,
        pair_overlap.shared_genres,
        pair_overlap.shared_keywords,
        coalesce(
            pair_overlap.shared_idf
            / nullif(sqrt(pair_overlap.own_total_idf * pair_overlap.partner_total_idf), 0),
            0
        ) as content_similarity,
        case
            when own_movies.release_decade = partner_movies.release_decade then 1 else 0
        end as same_decade,
        case
            when own_movies.is_rated and partner_movies.is_rated
                then 1 - abs(own_movies.vote_average - partner_movies.vote_average) / 10
            else 0
        end as rating_proximity,
        coalesce(
            ln(1 + partner_movies.popularity) / nullif(catalog_popularity.log_max_popularity, 0),
            0
        ) as popularity_prior

    from pair_overlap
    inner join own_movies
        on pair_overlap.movie_id = own_movies.movie_id
    inner join partner_movies
        on pair_overlap.recommended_movie_id = partner_movies.movie_id
    cross join catalog_popularity

),

scored as (

    select
        movie_id,
        recommended_movie_id,
        {{ recommendation_score(
            'content_similarity', 'same_decade', 'rating_proximity', 'popularity_prior'
        ) }} as score,
        shared_genre_count,
        shared_keyword_count,
        concat_ws(
            '; ',
            'shared genres: ' || array_to_string(shared_genres, ', '),
            'shared keywords: ' || array_to_string(shared_keywords[1:5], ', ')
        ) as reason

    from scoring_inputs

),

ranked as (

    select
        *,
        row_number() over (
            partition by movie_id
            order by score desc, recommended_movie_id asc
        ) as recommendation_rank

    from scored

),

final as (

    select
        movie_id::bigint as movie_id,
        recommended_movie_id::bigint as recommended_movie_id,
        recommendation_rank::integer as rank,
        score::double precision as score,
        reason::text as reason,
        shared_genre_count::integer as shared_genre_count,
        shared_keyword_count::integer as shared_keyword_count

    from ranked
    where recommendation_rank <= {{ var('recommendations_top_k') }}

)

select * from final

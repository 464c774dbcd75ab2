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

norm_features as (

    select * from {{ ref('int_movie_features') }}

),

candidates as (

    select * from {{ ref('int_movie_recommendation_candidates') }}

),

catalog_votes as (

    select ln(1 + max(vote_count)) as log_max_votes
    from catalog_movies
    where is_in_catalog

),

-- per movie: how many genres, and the length of its idf-weighted keyword vector
movie_norms as (

    select
        movie_id,
        count(*) filter (where feature_type = 'genre') as genre_count,
        sqrt(sum(idf * idf) filter (where feature_type = 'keyword')) as keyword_norm

    from norm_features
    group by movie_id

),

own_norms as (

    select * from movie_norms

),

partner_norms as (

    select * from movie_norms

),

shared_features as (

    select
        candidates.movie_id,
        candidates.recommended_movie_id,
        own_features.feature_type,
        own_features.feature_name,
        own_features.idf

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
        sum(idf * idf) filter (where feature_type = 'keyword') as keyword_dot,
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
            pair_overlap.shared_genre_count
            / nullif(sqrt(own_norms.genre_count * partner_norms.genre_count), 0),
            0
        ) as genre_similarity,
        coalesce(
            pair_overlap.keyword_dot / nullif(own_norms.keyword_norm * partner_norms.keyword_norm, 0),
            0
        ) as keyword_similarity,
        exp(
            -coalesce(
                abs(own_movies.release_year - partner_movies.release_year),
                {{ var('recommendation_missing_year_gap') }}
            )::double precision
            / {{ var('recommendation_year_scale') }}
        ) as year_proximity,
        coalesce(
            ln(1 + partner_movies.vote_count) / nullif(catalog_votes.log_max_votes, 0), 0
        ) as vote_prior,
        case
            when partner_movies.is_rated then partner_movies.vote_average / 10 else 0.5
        end as rating,
        partner_norms.genre_count > 0 and partner_movies.vote_count > 0 as has_evidence

    from pair_overlap
    inner join own_movies
        on pair_overlap.movie_id = own_movies.movie_id
    inner join partner_movies
        on pair_overlap.recommended_movie_id = partner_movies.movie_id
    inner join own_norms
        on pair_overlap.movie_id = own_norms.movie_id
    inner join partner_norms
        on pair_overlap.recommended_movie_id = partner_norms.movie_id
    cross join catalog_votes

),

scored as (

    select
        movie_id,
        recommended_movie_id,
        {{ recommendation_score(
            'genre_similarity', 'keyword_similarity', 'year_proximity', 'vote_prior', 'rating'
        ) }} as score,
        has_evidence,
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
            -- a movie without genres or votes never outranks one with evidence
            order by has_evidence desc, score desc, recommended_movie_id asc
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

-- The API reads this table by these keys (api/repositories.py).
{{
    config(
        indexes=[
            {'columns': ['movie_id', 'rank'], 'unique': True},
        ],
        pre_hook='set local jit = off',
    )
}}

-- The day's ranking: each movie's kept candidates (int_movie_recommendation_lists,
-- rebuilt only where content changed) scored with today's votes and ratings, the cheap
-- per-run term, then cut to the top K.
with

lists as (

    select * from {{ ref('int_movie_recommendation_lists') }}

),

partner_movies as (

    select * from {{ ref('dim_movies') }}

),

priors as (

    select * from {{ ref('int_recommendation_priors') }}

),

vote_scale as (

    select max(log_max_votes) as log_max_votes from priors

),

scored as (

    select
        lists.movie_id,
        lists.recommended_movie_id,
        lists.reason,
        lists.shared_genre_count,
        lists.shared_keyword_count,
        -- rounded to 12 decimals (in floats: numeric rounding doubled the query's time):
        -- float sums over features in another order differ in the last digits
        round({{ recommendation_score(
            recommendation_similarity(
                'lists.genre_similarity', 'lists.keyword_similarity', 'lists.people_similarity',
                'lists.same_collection', 'lists.year_proximity'
            ),
            recommendation_vote_prior('partner_movies.vote_count', 'vote_scale.log_max_votes'),
            recommendation_rating('partner_movies.is_rated', 'partner_movies.vote_average')
        ) }} * 1e12) / 1e12 as score,
        lists.has_genres and coalesce(partner_movies.vote_count, 0) > 0 as has_evidence

    from lists
    inner join partner_movies
        on lists.recommended_movie_id = partner_movies.movie_id
    cross join vote_scale
    where partner_movies.is_in_catalog

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

{{
    config(
        materialized='incremental',
        schema='intermediate',
        unique_key='movie_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook='analyze {{ this }}',
    )
}}

-- Frozen between full refreshes: each movie's vote prior and rating as a candidate,
-- used to choose which recommendation_list_size candidates a movie keeps
-- (int_movie_recommendation_lists). The published ranking applies the day's votes and
-- rating to those (movie_recommendations). An incremental build adds the movies it has
-- not seen, scaled by the frozen log_max_votes.
with

movies as (

    select * from {{ ref('dim_movies') }}

),

{% if is_incremental() %}

    frozen_priors as (

        select * from {{ this }}

    ),

    vote_scale as (

        select max(log_max_votes) as log_max_votes from frozen_priors

    ),

{% else %}

    catalog_movies as (

        select * from {{ ref('dim_movies') }}

    ),

    vote_scale as (

        select ln(1 + max(vote_count))::double precision as log_max_votes
        from catalog_movies
        where is_in_catalog

    ),

{% endif %}

final as (

    select
        movies.movie_id,
        vote_scale.log_max_votes,
        {{ recommendation_vote_prior('movies.vote_count', 'vote_scale.log_max_votes') }} as vote_prior,
        {{ recommendation_rating('movies.is_rated', 'movies.vote_average') }} as rating,
        coalesce(movies.vote_count, 0) > 0 as has_votes

    from movies
    cross join vote_scale
    {% if is_incremental() %}
        left join frozen_priors
            on movies.movie_id = frozen_priors.movie_id
    {% endif %}
    where
        movies.is_in_catalog
    {% if is_incremental() %}
            and frozen_priors.movie_id is null
        {% endif %}

)

select * from final

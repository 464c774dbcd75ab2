{{
    config(
        materialized='incremental',
        schema='intermediate',
        unique_key=['feature_type', 'feature_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[{'columns': ['feature_type', 'feature_id'], 'unique': True}],
        post_hook='analyze {{ this }}',
    )
}}

-- Frozen between full refreshes (`--full-refresh`, the weekly run): the idf of each
-- feature, and each genre's bit in the genre masks (int_movie_recommendation_content).
-- An incremental build keeps every weight and bit it has and adds the features it has
-- not seen, at the highest weight known (a new feature is as rare as the rarest) and,
-- for a genre, the next free bit, so a day's changes never move the terms of the
-- movies that did not change.
with

movie_features as (

    select * from {{ ref('int_movie_features') }}

),

catalog_movies as (

    select * from {{ ref('dim_movies') }}

),

{% if is_incremental() %}

    frozen_terms as (

        select * from {{ this }}

    ),

    frozen_scale as (

        select
            max(idf) as rarest_idf,
            max(genre_bit) as last_genre_bit

        from frozen_terms

    ),

{% endif %}

-- the features to weigh: every feature on a full refresh, else the unseen ones
current_terms as (

    select
        feature_type,
        feature_id,
        max(feature_name) as feature_name,
        count(*) as movie_count

    from movie_features
    {% if is_incremental() %}
        where not exists (
            select 1 from {{ this }} as frozen
            where
                frozen.feature_type = movie_features.feature_type
                and frozen.feature_id = movie_features.feature_id
        )
    {% endif %}
    group by feature_type, feature_id

),

catalog_size as (

    select count(*) as movie_count
    from catalog_movies
    where is_in_catalog

),

current_idf as (

    select
        current_terms.*,
        -- rarer features say more: inverse document frequency over the catalog
        ln(catalog_size.movie_count::double precision / current_terms.movie_count) as idf,
        -- genres numbered by id, from 0 (TMDB has 19; a mask holds 64)
        case
            when current_terms.feature_type = 'genre'
                then row_number() over (
                    partition by current_terms.feature_type order by current_terms.feature_id
                ) - 1
        end as genre_rank

    from current_terms
    cross join catalog_size

),

final as (

    {% if is_incremental() %}

        select
            current_idf.feature_type,
            current_idf.feature_id,
            current_idf.feature_name,
            coalesce(frozen_scale.rarest_idf, current_idf.idf) as idf,
            coalesce(frozen_scale.last_genre_bit + 1, 0) + current_idf.genre_rank as genre_bit

        from current_idf
        cross join frozen_scale

    {% else %}

        select
            feature_type,
            feature_id,
            feature_name,
            idf,
            genre_rank as genre_bit

        from current_idf

    {% endif %}

)

select * from final

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
-- feature. An incremental build keeps every weight it has and adds the features it
-- has not seen, at the highest weight known (a new feature is as rare as the rarest),
-- so a day's changes never move the weights of the movies that did not change.
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

        select max(idf) as rarest_idf from frozen_terms

    ),

{% endif %}

current_terms as (

    select
        feature_type,
        feature_id,
        max(feature_name) as feature_name,
        count(*) as movie_count

    from movie_features
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
        ln(catalog_size.movie_count::double precision / current_terms.movie_count) as idf

    from current_terms
    cross join catalog_size

),

final as (

    {% if is_incremental() %}

        select
            current_idf.feature_type,
            current_idf.feature_id,
            current_idf.feature_name,
            coalesce(frozen_scale.rarest_idf, current_idf.idf) as idf

        from current_idf
        cross join frozen_scale
        left join frozen_terms
            on
                current_idf.feature_type = frozen_terms.feature_type
                and current_idf.feature_id = frozen_terms.feature_id
        where frozen_terms.feature_id is null

    {% else %}

        select
            feature_type,
            feature_id,
            feature_name,
            idf

        from current_idf

    {% endif %}

)

select * from final

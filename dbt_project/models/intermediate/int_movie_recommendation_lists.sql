{{
    config(
        materialized='view',
        schema='intermediate',
    )
}}

-- Each movie's recommendation_list_size best candidates by their frozen terms: the
-- parts, built at the same time (macros/recommendation_lists.sql), as one relation.
with

part_0 as (

    select * from {{ ref('int_movie_recommendation_lists_part_0') }}

),

part_1 as (

    select * from {{ ref('int_movie_recommendation_lists_part_1') }}

),

final as (

    select
        movie_id,
        recommended_movie_id,
        list_rank,
        genre_similarity,
        keyword_similarity,
        people_similarity,
        same_collection,
        year_proximity,
        selection_score,
        has_genres,
        has_evidence,
        shared_genre_count,
        shared_keyword_count,
        shared_person_count,
        reason,
        content_hash
    from part_0

    union all

    select
        movie_id,
        recommended_movie_id,
        list_rank,
        genre_similarity,
        keyword_similarity,
        people_similarity,
        same_collection,
        year_proximity,
        selection_score,
        has_genres,
        has_evidence,
        shared_genre_count,
        shared_keyword_count,
        shared_person_count,
        reason,
        content_hash
    from part_1

)

select * from final

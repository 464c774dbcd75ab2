{{
    config(
        materialized='view',
        schema='intermediate',
    )
}}

{%- set columns = [
    'movie_id', 'recommended_movie_id', 'list_rank', 'genre_similarity', 'keyword_similarity',
    'people_similarity', 'same_collection', 'year_proximity', 'selection_score', 'has_genres',
    'has_evidence', 'shared_genre_count', 'shared_keyword_count', 'shared_person_count',
    'reason', 'content_hash', 'recommended_content_hash',
] %}

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

    {% for part in ['part_0', 'part_1'] %}
        select
            {{ columns | join(',\n            ') }}
        from {{ part }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from final

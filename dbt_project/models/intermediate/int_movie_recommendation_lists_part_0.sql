{{
    config(
        materialized='incremental',
        schema='intermediate',
        unique_key='movie_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['recommendation_lists'],
        indexes=[{'columns': ['movie_id', 'list_rank'], 'unique': True}],
        post_hook=[
            "{{ delete_stale_recommendation_lists(this, ref('int_movie_recommendation_content')) }}",
            'analyze {{ this }}',
        ],
    )
}}

-- the lists of the movies with an even id (macros/recommendation_lists.sql)
{{ recommendation_lists(part=0, parts=2) }}

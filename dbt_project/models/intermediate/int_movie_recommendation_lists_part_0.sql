{{
    config(
        materialized='incremental',
        schema='intermediate',
        unique_key='movie_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['recommendation_lists'],
        indexes=[{'columns': ['movie_id', 'list_rank'], 'unique': True}],
        pre_hook='set local jit = off',
        post_hook=[
            "{{ delete_stale_recommendation_lists(this, ref('int_movie_recommendation_content')) }}",
            "{{ record_scored_content(this, ref('int_movie_recommendation_content')) }}",
            'analyze {{ this }}',
        ],
    )
}}

-- jit off: JIT compiles for about a second per query, most of a daily build at 10k,
-- and buys nothing for lookups one movie at a time
-- the lists of the movies with an even id (macros/recommendation_lists.sql)
{{ recommendation_lists(part=0, parts=2) }}

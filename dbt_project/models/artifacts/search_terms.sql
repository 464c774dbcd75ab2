-- The vocabulary of title words, what a query word can be corrected to
-- (search_term_variants derives from it). A half-typed last word needs no table:
-- the GIN index of search_index answers prefix queries itself.
{{
    config(
        indexes=[
            {'columns': ['term'], 'unique': True},
        ],
        post_hook='analyze {{ this }}',
    )
}}

with

search_index as (

    select * from {{ ref('search_index') }}

),

title_lexemes as (

    select
        movie_id,
        lexeme

    from search_index
    cross join lateral unnest(search_vector)
    where 'A' = any(weights)

),

final as (

    select
        lexeme::text as term,
        char_length(lexeme)::integer as term_length,
        count(distinct movie_id)::bigint as movie_count

    from title_lexemes
    group by lexeme

)

select * from final

-- The deletion neighbourhood of the title words (SymSpell): a query word finds its
-- corrections within one typo by equality lookups on `variant` (search/postgres.py).
{{
    config(
        indexes=[
            {'columns': ['variant']},
        ],
        post_hook='analyze {{ this }}',
    )
}}

with

search_terms as (

    select * from {{ ref('search_terms') }}

),

terms_themselves as (

    select
        term as variant,
        term,
        0 as deleted_position,
        '' as deleted_char

    from search_terms
    where term_length >= {{ var('search_typo_min_word_length') }} - 1

),

one_deletion as (

    select
        overlay(term placing '' from deleted_position for 1) as variant,
        term,
        deleted_position,
        substr(term, deleted_position, 1) as deleted_char

    from search_terms
    cross join lateral generate_series(1, term_length) as deleted_position
    where term_length >= {{ var('search_typo_min_word_length') }}

),

final as (

    select
        variant::text as variant,
        term::text as term,
        deleted_position::integer as deleted_position,
        deleted_char::text as deleted_char

    from terms_themselves

    union all

    select
        variant::text as variant,
        term::text as term,
        deleted_position::integer as deleted_position,
        deleted_char::text as deleted_char

    from one_deletion

)

select * from final

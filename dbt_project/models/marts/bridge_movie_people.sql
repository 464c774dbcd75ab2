with

movie_credits as (

    select * from {{ ref('stg_tmdb__movie_credits') }}

),

final as (

    select
        movie_id,
        person_id,
        credit_role,
        max(person_name) as person_name,
        min(credit_order) as credit_order

    from movie_credits
    group by movie_id, person_id, credit_role

)

select * from final

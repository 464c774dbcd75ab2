with

movie_keywords as (

    select * from {{ ref('stg_tmdb__movie_keywords') }}

),

final as (

    select
        movie_id,
        keyword_id,
        max(keyword_name) as keyword_name,
        min(keyword_position) as keyword_position

    from movie_keywords
    group by movie_id, keyword_id

)

select * from final

with

source as (

    select * from {{ source('tmdb', 'trending_movies') }}

),

renamed as (

    select
        id::bigint as movie_id,
        trend_date::date as trend_date,
        time_window::text as time_window,
        position::integer as trending_position,
        popularity::double precision as popularity,
        _loaded_at::timestamptz as loaded_at

    from source

)

select * from renamed

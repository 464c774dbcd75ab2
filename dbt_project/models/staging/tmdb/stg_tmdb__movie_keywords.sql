with

source as (

    select * from {{ source('tmdb', 'movies__keywords') }}

),

renamed as (

    select
        movie_id::bigint as movie_id,
        id::bigint as keyword_id,
        lower(trim(name))::text as keyword_name,
        _dlt_list_idx::integer as keyword_position

    from source

)

select * from renamed

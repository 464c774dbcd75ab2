with

source as (

    select * from {{ source('tmdb', 'genres') }}

),

renamed as (

    select
        id::bigint as genre_id,
        name::text as genre_name,
        _loaded_at::timestamptz as loaded_at

    from source

)

select * from renamed

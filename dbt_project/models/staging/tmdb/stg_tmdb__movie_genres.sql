with

source as (

    select * from {{ source('tmdb', 'movies__genres') }}

),

renamed as (

    select
        movie_id::bigint as movie_id,
        id::bigint as genre_id,
        name::text as genre_name,
        _dlt_list_idx::integer as genre_position

    from source

)

select * from renamed

with

source as (

    select * from {{ source('tmdb', 'movie_popularity_snapshots') }}

),

renamed as (

    select
        id::bigint as movie_id,
        snapshot_date::date as snapshot_date,
        popularity::double precision as popularity,
        vote_average::double precision as vote_average,
        vote_count::bigint as vote_count,
        _loaded_at::timestamptz as loaded_at

    from source

)

select * from renamed

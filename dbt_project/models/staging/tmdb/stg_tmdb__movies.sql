{%- set raw_columns = source_column_names(source('tmdb', 'movies')) -%}

with

source as (

    select * from {{ source('tmdb', 'movies') }}

),

renamed as (

    select
        id::bigint as movie_id,
        {{ source_column(raw_columns, 'title', 'text') }} as title,
        nullif({{ source_column(raw_columns, 'original_title', 'text') }}, '') as original_title,
        nullif({{ source_column(raw_columns, 'original_language', 'text') }}, '') as original_language,
        nullif({{ source_column(raw_columns, 'overview', 'text') }}, '') as overview,
        -- TMDB sends '' for an unknown date; a loader may also have typed the column
        nullif({{ source_column(raw_columns, 'release_date', 'text') }}, '')::date as release_date,
        coalesce({{ source_column(raw_columns, 'adult', 'boolean') }}, false) as is_adult,
        coalesce({{ source_column(raw_columns, 'video', 'boolean') }}, false) as is_video,
        coalesce({{ source_column(raw_columns, 'popularity', 'double precision') }}, 0) as popularity,
        coalesce({{ source_column(raw_columns, 'vote_average', 'double precision') }}, 0) as vote_average,
        coalesce({{ source_column(raw_columns, 'vote_count', 'bigint') }}, 0) as vote_count,
        -- 0 means unknown in TMDB for runtime, budget and revenue
        nullif({{ source_column(raw_columns, 'runtime', 'integer') }}, 0) as runtime_minutes,
        nullif({{ source_column(raw_columns, 'budget', 'bigint') }}, 0) as budget,
        nullif({{ source_column(raw_columns, 'revenue', 'bigint') }}, 0) as revenue,
        nullif({{ source_column(raw_columns, 'status', 'text') }}, '') as status,
        nullif({{ source_column(raw_columns, 'imdb_id', 'text') }}, '') as imdb_id,
        nullif({{ source_column(raw_columns, 'tagline', 'text') }}, '') as tagline,
        nullif({{ source_column(raw_columns, 'homepage', 'text') }}, '') as homepage,
        nullif({{ source_column(raw_columns, 'poster_path', 'text') }}, '') as poster_path,
        nullif({{ source_column(raw_columns, 'backdrop_path', 'text') }}, '') as backdrop_path,
        {{ source_column(raw_columns, 'collection_id', 'bigint') }} as collection_id,
        nullif({{ source_column(raw_columns, 'collection_name', 'text') }}, '') as collection_name,
        _loaded_at::timestamptz as loaded_at

    from source

)

select * from renamed

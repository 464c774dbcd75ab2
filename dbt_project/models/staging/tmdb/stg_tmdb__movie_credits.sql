{%- set has_credits = source_exists(source('tmdb', 'movies__credits')) -%}

with

{% if has_credits %}

    source as (

        select * from {{ source('tmdb', 'movies__credits') }}

    ),

{% endif %}

renamed as (

    {% if has_credits %}

        select
            movie_id::bigint as movie_id,
            person_id::bigint as person_id,
            nullif(trim(name), '')::text as person_name,
            role::text as credit_role,
            credit_order::integer as credit_order

        from source

    {% else %}

        -- no load has sent credits yet (dlt creates the table with its first row)
        select
            null::bigint as movie_id,
            null::bigint as person_id,
            null::text as person_name,
            null::text as credit_role,
            null::integer as credit_order

        where false

    {% endif %}

)

select * from renamed

{%- set raw_columns = source_column_names(source('tmdb', 'movies')) -%}

-- The loader keeps a movie's credited people as one jsonb array on its raw row
-- (`movies.credits`): one row per element here.
with

source as (

    select * from {{ source('tmdb', 'movies') }}

),

renamed as (

    {% if 'credits' in raw_columns %}

        select
            source.id::bigint as movie_id,
            people.person_id::bigint as person_id,
            nullif(trim(people.name), '')::text as person_name,
            people.role::text as credit_role,
            people.credit_order::integer as credit_order

        from source
        cross join lateral jsonb_to_recordset(coalesce(source.credits, '[]'::jsonb)) as people (
            person_id bigint, name text, role text, credit_order integer
        )

    {% else %}

        -- no load has sent credits yet (dlt adds the column with its first value)
        select
            null::bigint as movie_id,
            null::bigint as person_id,
            null::text as person_name,
            null::text as credit_role,
            null::integer as credit_order

        from source
        where false

    {% endif %}

)

select * from renamed

-- The empty query's envelope is one row and counts every movie of search_index.
with

catalog_facets as (

    select * from {{ ref('search_catalog_facets') }}

),

search_index as (

    select * from {{ ref('search_index') }}

),

facet_rows as (

    select
        count(*) as row_count,
        sum(total) as total

    from catalog_facets

),

indexed as (

    select count(*) as movie_count from search_index

)

select
    facet_rows.row_count,
    facet_rows.total,
    indexed.movie_count

from facet_rows
cross join indexed
where facet_rows.row_count != 1 or facet_rows.total != indexed.movie_count

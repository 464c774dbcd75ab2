-- The decades partition the dated catalog: their movie counts add up to it.
with

decades as (

    select * from {{ ref('ratings_by_decade') }}

),

movies as (

    select * from {{ ref('dim_movies') }}

),

decade_total as (

    select coalesce(sum(movie_count), 0) as movie_count from decades

),

dated_catalog as (

    select count(*) as movie_count
    from movies
    where is_in_catalog and release_date is not null

)

select
    decade_total.movie_count as decade_movie_count,
    dated_catalog.movie_count as dated_catalog_movie_count

from decade_total
cross join dated_catalog
where decade_total.movie_count != dated_catalog.movie_count

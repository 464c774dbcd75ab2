-- The answer's envelope of the empty query without filters (search/postgres.py): the
-- whole catalog's total and facets, so that query reads one row and the first
-- page of the popularity index instead of every movie.
with

search_facet_cells as (

    select * from {{ ref('search_facet_cells') }}

),

cell_genres as (

    select
        unnest(genres) as genre_name,
        movie_count

    from search_facet_cells

),

genre_counts as (

    select
        genre_name,
        sum(movie_count)::bigint as movie_count

    from cell_genres
    group by genre_name

),

decade_counts as (

    select
        release_decade,
        sum(movie_count)::bigint as movie_count

    from search_facet_cells
    where release_decade is not null
    group by release_decade

),

genre_facets as (

    select
        coalesce(
            json_object_agg(genre_name, movie_count order by movie_count desc, genre_name asc),
            '{}'
        ) as facets

    from genre_counts

),

decade_facets as (

    select
        coalesce(
            json_object_agg(release_decade::text, movie_count order by release_decade),
            '{}'
        ) as facets

    from decade_counts

),

counted as (

    select coalesce(sum(movie_count), 0)::bigint as total

    from search_facet_cells

),

final as (

    select
        counted.total::bigint as total,
        genre_facets.facets::json as genre_facets,
        decade_facets.facets::json as decade_facets

    from counted
    cross join genre_facets
    cross join decade_facets

)

select * from final
